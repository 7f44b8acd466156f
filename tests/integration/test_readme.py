"""The README's commands work as shown. README.md's code blocks (indented
or fenced) are read in order; their lines starting with `stepd `,
`build/stepd ` or `aws ` (continuations joined, comments dropped) run
against a fresh `stepd serve` per block, from the repository's root, with
the block's `export` lines in the environment and the README's endpoint
(http://127.0.0.1:8083) replaced by the server's. Lines that cannot run
here are skipped, never guessed at: synopses (`[...]`, `A|B`, placeholders
in capitals such as FILE), `stepd serve` and `make` (the test brings its
own server and build; `stepd serve --template T` becomes `stepd deploy T`
into it), `--follow`, and any file argument that does not exist in the
repository. Each command must exit 0; `stepd run` and
`start-execution --wait` may exit 1 (the execution FAILED, which a README
may show on purpose) when they print the execution's JSON.

`test_readme_demo` runs `make demo-run`: the demo's own command lines
(`make demo` is deps + build + demo-run)."""
import json
import os
import re
import shlex
import subprocess

from harness import AWS_ENV, Server

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
DEFAULT_ENDPOINT = "http://127.0.0.1:8083"
PLACEHOLDER = re.compile(r"^[A-Z][A-Z0-9_]*(:[A-Z0-9_]+)?$")   # FILE, JSON_OR_PATH, HOST:PORT
# AWS's own values that look like placeholders: they run as they are
AWS_VALUES = {"UPDATED_NEW", "UPDATED_OLD", "ALL_NEW", "ALL_OLD", "NONE", "PAY_PER_REQUEST", "PROVISIONED",
              "STANDARD", "EXPRESS", "HASH", "RANGE", "TOTAL", "COUNT", "RUNNING", "SUCCEEDED", "FAILED"}


def code_blocks(text):
    """[[line, ...], ...]: markdown code blocks (4-space indented after a
    blank line, or fenced), continuation lines joined."""
    blocks, cur, fenced, prev_blank = [], None, False, True
    for raw in text.splitlines():
        if raw.strip().startswith("```"):
            if fenced:
                blocks.append(cur)
                cur, fenced = None, False
            else:
                cur, fenced = [], True
            continue
        if fenced:
            cur.append(raw)
        elif raw.startswith("    ") and (cur is not None or prev_blank):
            if cur is None:
                cur = []
            cur.append(raw[4:])
        elif raw.strip() and cur is not None:
            blocks.append(cur)
            cur = None
        prev_blank = not raw.strip()
    if cur:
        blocks.append(cur)
    joined = []
    for b in blocks:
        lines, acc = [], ""
        for line in b:
            if line.rstrip().endswith("\\"):
                acc += line.rstrip()[:-1] + " "
                continue
            lines.append(acc + line)
            acc = ""
        joined.append([ln.strip() for ln in lines if ln.strip()])
    return joined


def is_json(text):
    try:
        json.loads(text)
        return True
    except ValueError:
        return False


def why_skip(argv):
    """None when the command can run here, else why not."""
    prog, args = argv[0], argv[1:]
    if prog == "make":
        return "make"
    if prog.endswith("stepd") and args[:1] == ["serve"] and "--template" not in args:
        return "a server of its own"
    if "--follow" in args:
        return "--follow never ends"
    for a in args:
        if any(c in a for c in "[]|") and not is_json(a):
            return "a synopsis"
        if PLACEHOLDER.match(a) and len(a) > 1 and a not in AWS_VALUES:
            return "a placeholder (%s)" % a
        path = re.sub(r"^fileb?://", "", a)
        if not a.startswith("-") and re.search(r"\.(json|ya?ml)$", path) and not os.path.exists(
                os.path.join(ROOT, path)):
            return "%s does not exist here" % path
    return None


def commands(text):
    """[(block index, kind, argv or (name, value))]: the runnable lines."""
    out = []
    for i, block in enumerate(code_blocks(text)):
        for line in block:
            if line.startswith("export "):
                for assign in shlex.split(line[len("export "):]):
                    name, _, value = assign.partition("=")
                    out.append((i, "export", (name, value)))
                continue
            if not line.startswith(("stepd ", "build/stepd ", "aws ")):
                continue
            try:
                argv = shlex.split(line, comments=True)
            except ValueError:
                continue
            out.append((i, "run", argv))
    return out


def run_one(ctx, srv, argv, env):
    argv = [a.replace(DEFAULT_ENDPOINT, srv.endpoint) for a in argv]
    if argv[1:2] == ["serve"]:      # `serve --template T`: the test's server gets T deployed
        argv = [argv[0], "deploy", argv[argv.index("--template") + 1]]
    if argv[0].endswith("stepd"):
        argv[0] = ctx.stepd
    if argv[0] == "aws" and "--endpoint-url" not in argv:
        argv[1:1] = ["--endpoint-url", srv.endpoint]
    p = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    ok = p.returncode == 0
    may_fail = argv[0] == ctx.stepd and (argv[1:2] == ["run"] or
                                         (argv[1:2] == ["start-execution"] and "--wait" in argv))
    if p.returncode == 1 and may_fail:
        try:
            ok = "FAILED" in p.stdout and (argv[1] != "run" or json.loads(p.stdout)["status"] == "FAILED")
        except ValueError:
            ok = False
    assert ok, "README command failed (rc %d): %s\nstdout: %s\nstderr: %s\nserver log:\n%s" % (
        p.returncode, " ".join(shlex.quote(a) for a in argv), p.stdout[-2000:], p.stderr[-2000:], srv.log())
    assert "Sanitizer" not in p.stderr and "runtime error:" not in p.stderr, p.stderr


def test_readme_commands(ctx):
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as f:
        run_readme(ctx, f.read())


def run_readme(ctx, text):
    env = dict(os.environ)
    env.update(AWS_ENV)
    env.pop("STEPD_ENDPOINT", None)
    ran, skipped = [], []
    by_block = {}
    for block, kind, what in commands(text):
        by_block.setdefault(block, []).append((kind, what))
    for block in sorted(by_block):
        todo = [(k, w) for k, w in by_block[block] if k == "export" or not why_skip(w)]
        skipped += [(w, why_skip(w)) for k, w in by_block[block] if k == "run" and why_skip(w)]
        if not any(k == "run" for k, _ in todo):
            for k, (name, value) in [(k, w) for k, w in todo if k == "export"]:
                env[name] = value
            continue
        with Server(ctx.stepd) as srv:
            env["STEPD_ENDPOINT"] = srv.endpoint
            for kind, what in todo:
                if kind == "export":
                    env[what[0]] = what[1].replace(DEFAULT_ENDPOINT, srv.endpoint)
                else:
                    run_one(ctx, srv, what, env)
                    ran.append(what)
            env.pop("STEPD_ENDPOINT", None)
    if ctx.verbose:
        for argv in ran:
            print("  ran     %s" % " ".join(argv)[:120])
        for argv, why in skipped:
            print("  skipped %s  (%s)" % (" ".join(argv)[:100], why))
    assert len(ran) >= 4, "only %d README commands could run here: %r; skipped: %r" % (len(ran), ran, skipped)


def test_readme_demo(ctx):
    """`make demo`'s runs (deps and build left out): the good order's states,
    output and recorded item, then the bad order failing at Validate."""
    build = os.path.dirname(ctx.stepd)
    p = subprocess.run(["make", "--no-print-directory", "-s", "BUILD=" + build, "demo-run"], cwd=ROOT,
                       capture_output=True, text=True, timeout=60)
    text = p.stdout + p.stderr
    assert p.returncode == 0, "make demo-run: rc %d\n%s" % (p.returncode, text)
    for needle in ("\u2192 Validate\n\u2192 Charge\n\u2192 Record\n", "status: SUCCEEDED", '"payment_id": "pay-o-1001"',
                   '"status": "RECORDED"', "table OrdersTable:", '"id": "o-1001"', "status: FAILED",
                   "error:  InvalidOrderError", "amount must be greater than 0, got -5"):
        assert needle in text, "the demo's output lacks %r:\n%s" % (needle, text)


def test_readme_help(ctx):
    """The README's CLI reference shows `stepd --help` as it is: the block
    that follows the '## CLI reference' heading is its exact output."""
    text = open(os.path.join(ROOT, "README.md")).read()
    section = text[text.index("## CLI reference"):]
    block = code_blocks(section)[0]
    out = subprocess.run([ctx.stepd, "--help"], capture_output=True, text=True, timeout=30).stdout
    want = [ln.strip() for ln in out.splitlines() if ln.strip()]
    assert block == want, "README's CLI reference differs from `stepd --help`:\n%s" % "\n".join(
        "%s %s" % ("-" if i >= len(want) or b != want[i] else " ", b) for i, b in enumerate(block))
