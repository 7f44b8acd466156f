#!/bin/sh
# Installs the Debian packages the build, the tests, the fuzzers and the
# benches need, and only those that are missing: quiet when everything is
# there, so `make deps` can run before every CI step. Runs as root (CI and
# the dev machines are root) or through sudo when a user runs it.
set -eu

# build: compiler, pkg-config, jansson, sqlite3. fuzz: clang + libFuzzer's runtime
# (libclang_rt.fuzzer ships in libclang-rt-14-dev on Debian 12, not in
# clang itself). tests/bench: python3, /usr/bin/time -v for peak RSS. The
# client commands speak HTTP through libcurl; history is stored zstd-compressed.
PKGS="build-essential pkg-config libjansson-dev libsqlite3-dev libmicrohttpd-dev libssl-dev libcurl4-openssl-dev libzstd-dev libfyaml-dev curl clang libclang-rt-14-dev python3 time"

missing=""
for p in $PKGS; do
    if ! dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed'; then
        missing="$missing $p"
    fi
done
# The integration tests drive stepd with the real clients. A machine that
# has them already (pip's aws CLI and boto3, say) keeps its own; otherwise
# Debian's.
command -v aws >/dev/null 2>&1 || missing="$missing awscli"
python3 -c 'import boto3' 2>/dev/null || /usr/bin/python3 -c 'import boto3' 2>/dev/null ||
    missing="$missing python3-boto3"
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
else
    echo "deps: missing:$missing — run as root to install them" >&2
    exit 1
fi

echo "deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# shellcheck disable=SC2086
$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
echo "deps: done"
