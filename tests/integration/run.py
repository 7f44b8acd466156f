#!/usr/bin/env python3
"""Runs the integration suites: every test_*(ctx) function of every
tests/integration/test_*.py module, each against real `stepd serve`
processes it starts itself. Prints one line per failure and, last,
`integration: N passed, N failed`.

    python3 tests/integration/run.py --stepd build/stepd [-k SUBSTRING] [-v]

The real clients must be importable: when this python has no boto3 but
Debian's /usr/bin/python3 does (python3-boto3), the runner re-runs itself
there."""
import argparse
import importlib.util
import os
import subprocess
import sys
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))


def ensure_boto3():
    try:
        import boto3  # noqa: F401
        return
    except ImportError:
        pass
    alt = "/usr/bin/python3"
    if os.path.realpath(sys.executable) != os.path.realpath(alt) and os.path.exists(alt) \
            and subprocess.run([alt, "-c", "import boto3"], capture_output=True).returncode == 0:
        os.execv(alt, [alt] + sys.argv)
    print("integration: boto3 is not installed (make deps installs python3-boto3)", file=sys.stderr)
    print("integration: 0 passed, 1 failed")
    sys.exit(1)


class Ctx:
    def __init__(self, stepd, verbose):
        self.stepd = os.path.abspath(stepd)
        self.verbose = verbose


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--stepd", default="build/stepd")
    ap.add_argument("-k", default="")
    ap.add_argument("-v", action="store_true")
    a = ap.parse_args()
    ensure_boto3()
    sys.path.insert(0, HERE)
    ctx = Ctx(a.stepd, a.v)
    passed = failed = 0
    for fn in sorted(os.listdir(HERE)):
        if not (fn.startswith("test_") and fn.endswith(".py")):
            continue
        spec = importlib.util.spec_from_file_location(fn[:-3], os.path.join(HERE, fn))
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        for name in sorted(n for n in dir(mod) if n.startswith("test_")):
            full = "%s.%s" % (fn[:-3], name)
            if a.k and a.k not in full:
                continue
            t0 = time.time()
            try:
                getattr(mod, name)(ctx)
                passed += 1
                if a.v:
                    print("ok   %s (%.2fs)" % (full, time.time() - t0))
            except Exception:
                failed += 1
                print("FAIL %s (%.2fs)" % (full, time.time() - t0))
                traceback.print_exc(limit=6, file=sys.stdout)
            sys.stdout.flush()
    print("integration: %d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
