"""Lambda functions in `stepd serve`, used as a user uses them: deployed from
a SAM template (tests/templates/functions.yaml, code in
tests/functions/python/), invoked with `stepd invoke`, the real `aws
lambda` CLI and boto3, read back with `stepd logs`, and called as Task
states of state machines. What is checked is what AWS answers: Invoke's
status codes, FunctionError and error documents (errorType, errorMessage,
stack paths under /var/task), LogResult, list/get-function shapes, and in
executions the Error and Cause of each failure. Workers are real
processes: the tests follow their pids (warm reuse, concurrency bound,
idle reaping, a killed worker after a timeout or a crash).

C functions (build/functions/c-echo, c-fail: `make` builds them beside
stepd) and the shell `provided` runtime (tests/functions/sh/bootstrap) run
through the same Runtime API."""
import base64
import json
import os
import re
import select
import shutil
import subprocess
import tempfile
import threading
import time

from harness import Server, aws, boto3_client, call, wait_done

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
TEMPLATE = os.path.join(TESTS, "templates", "functions.yaml")
PYFN = os.path.join(TESTS, "functions", "python")
SH_DIR = os.path.join(TESTS, "functions", "sh")

FN_ARN = "arn:aws:lambda:us-east-1:123456789012:function:"
SM_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:"
UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
TIMEOUT_RE = r"RequestId: (%s) Error: Task timed out after 1\.00 seconds" % UUID_RE
TEMPLATE_FUNCTIONS = ["BadImport", "Big", "Callback", "Echo", "Fail", "Flaky", "Pool", "Sleeper", "Worker"]


# ---- helpers ----------------------------------------------------------------

def stepd(ctx, srv, *args, timeout=60):
    """`stepd ARGS --endpoint SRV`: the CompletedProcess (text)."""
    env = dict(os.environ)
    env.pop("STEPD_ENDPOINT", None)
    cmd = [ctx.stepd] + list(args) + (["--endpoint", srv.endpoint] if srv else [])
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    assert "Sanitizer" not in p.stderr and "runtime error:" not in p.stderr, p.stderr
    return p


def invoke_ok(ctx, srv, fn, event=None, *extra):
    p = stepd(ctx, srv, "invoke", fn, *(["--event", json.dumps(event)] if event is not None else []), *extra)
    assert p.returncode == 0, "stepd invoke %s: rc %d\n%s%s" % (fn, p.returncode, p.stdout, p.stderr)
    return json.loads(p.stdout)


def invoke_failed(ctx, srv, fn, event=None):
    """stepd invoke of a function that fails: exit 1, its error document on stdout."""
    p = stepd(ctx, srv, "invoke", fn, *(["--event", json.dumps(event)] if event is not None else []))
    assert p.returncode == 1, "stepd invoke %s: expected exit 1, rc %d\n%s%s" % (fn, p.returncode, p.stdout,
                                                                                p.stderr)
    return json.loads(p.stdout)


def template_server(ctx, *args):
    return Server(ctx.stepd, args=["--template", TEMPLATE] + list(args))


def lam_invoke(lam, fn, event=None, **kw):
    """boto3 Invoke: (response, payload text)."""
    if event is not None:
        kw["Payload"] = json.dumps(event).encode()
    r = lam.invoke(FunctionName=fn, **kw)
    return r, r["Payload"].read().decode()


def pid_alive(pid):
    """True while pid is a live process (a zombie nobody reaped counts as
    alive: the server must reap the workers it ends)."""
    return os.path.exists("/proc/%d/stat" % pid)


def wait_gone(pid, timeout=5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if not pid_alive(pid):
            return
        time.sleep(0.05)
    state = ""
    try:
        with open("/proc/%d/stat" % pid) as f:
            state = f.read().split(")")[-1].split()[0]
    except OSError:
        pass
    raise AssertionError("worker %d still there %ds later (state %s)" % (pid, timeout, state))


def wait_log(ctx, srv, fn, needle, timeout=10):
    """`stepd logs FN` once it contains needle."""
    deadline = time.time() + timeout
    while True:
        p = stepd(ctx, srv, "logs", fn)
        assert p.returncode == 0, p
        if needle in p.stdout or time.time() > deadline:
            assert needle in p.stdout, "%r not in the log of %s:\n%s" % (needle, fn, p.stdout)
            return p.stdout
        time.sleep(0.1)


def read_until(pipe, needle, timeout=10):
    """Reads a child's stdout until needle has come (or fails after timeout)."""
    fd, buf, deadline = pipe.fileno(), b"", time.time() + timeout
    while needle.encode() not in buf:
        left = deadline - time.time()
        assert left > 0, "%r did not come within %ds: %r" % (needle, timeout, buf[-2000:])
        if select.select([fd], [], [], left)[0]:
            chunk = os.read(fd, 65536)
            assert chunk, "the stream ended before %r: %r" % (needle, buf[-2000:])
            buf += chunk
    return buf.decode()


def check_python_error(doc, error_type, message, in_function):
    """AWS's error document for an exception a Python handler raised."""
    assert list(doc) == ["errorMessage", "errorType", "requestId", "stackTrace"], doc
    assert doc["errorType"] == error_type and doc["errorMessage"] == message, doc
    assert re.fullmatch(UUID_RE, doc["requestId"]), doc
    assert doc["stackTrace"] and all(isinstance(s, str) for s in doc["stackTrace"]), doc
    assert doc["stackTrace"][-1].startswith('  File "/var/task/app.py", line '), doc
    assert (", in %s\n" % in_function) in doc["stackTrace"][-1], doc
    assert not any(TESTS in s for s in doc["stackTrace"]), "real paths leak into the stack: %s" % doc


def check_timeout(doc):
    assert doc["errorType"] == "Sandbox.Timedout", doc
    assert re.fullmatch(TIMEOUT_RE, doc["errorMessage"]), doc


def check_exit(doc, status):
    assert doc["errorType"] == "Runtime.ExitError", doc
    assert re.fullmatch(r"RequestId: %s Error: Runtime exited with error: exit status %d" % (UUID_RE, status),
                        doc["errorMessage"]), doc


IMPORT_ERROR = {"errorMessage": "Unable to import module 'app': No module named 'stepd_no_such_module'",
                "errorType": "Runtime.ImportModuleError", "requestId": "", "stackTrace": []}
TOO_LARGE = {"errorMessage": "Response payload size exceeded maximum allowed payload size (6291556 bytes).",
             "errorType": "Function.ResponseSizeTooLarge"}


def check_echo(out, event, request_id=None, fn="Echo"):
    """What the echo function answers: the event and its context."""
    assert out["event"] == event, out["event"]
    c = out["context"]
    assert c["function_name"] == fn and c["function_version"] == "$LATEST", c
    assert c["memory_limit_in_mb"] == "256", c  # a string, as on AWS
    assert c["invoked_function_arn"] == FN_ARN + fn, c
    assert c["log_group_name"] == "/aws/lambda/" + fn, c
    assert re.fullmatch(UUID_RE, c["aws_request_id"]), c
    if request_id:
        assert c["aws_request_id"] == request_id, (c, request_id)
    assert 3000 < c["remaining_ms"] <= 5000, c  # Timeout: 5
    env = out["environ"]
    assert env["GREETING"] == "hello" and env["STAGE"] == "test", env
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == fn and env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "256", env
    assert env["AWS_REGION"] == "us-east-1" and env["LAMBDA_TASK_ROOT"], env


def check_log_lines(text, request_id, printed, memory=256):
    """START / what the handler printed / END / REPORT for one request."""
    lines = text.splitlines()
    start = "START RequestId: %s Version: $LATEST" % request_id
    assert start in lines, "no %r in:\n%s" % (start, text)
    i = lines.index(start)
    assert lines[i + 1] == printed, (lines[i:i + 4], printed)
    assert lines[i + 2] == "END RequestId: %s" % request_id, lines[i:i + 4]
    assert re.match(r"REPORT RequestId: %s\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms\tMemory Size: %d MB\t"
                    r"Max Memory Used: \d+ MB" % (request_id, memory), lines[i + 3]), lines[i + 3]


def sh_template(tmp, functions):
    """A template in tmp whose functions are {logical_id: (code_dir, runtime, extra props)}."""
    lines = ["Transform: AWS::Serverless-2016-10-31", "Resources:"]
    for name, (code, runtime, extra) in functions.items():
        lines += ["  %s:" % name, "    Type: AWS::Serverless::Function", "    Properties:",
                  "      CodeUri: %s" % json.dumps(code), "      Runtime: %s" % runtime,
                  "      Handler: bootstrap"]
        lines += ["      %s: %s" % (k, json.dumps(v)) for k, v in extra.items()]
    path = os.path.join(tmp, "template.yaml")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def built_function(ctx, name):
    """build/functions/NAME (beside the stepd under test), which `make` builds."""
    d = os.path.join(os.path.dirname(ctx.stepd), "functions", name)
    rel = os.path.relpath(os.path.join(d, "bootstrap"), os.path.dirname(TESTS))
    assert os.access(os.path.join(d, "bootstrap"), os.X_OK), "%s missing: make builds it" % rel
    return d


# ---- invoking ---------------------------------------------------------------

def test_functions_stepd_invoke_and_logs(ctx):
    """`stepd invoke` for each way a Python function ends, and `stepd logs`."""
    with template_server(ctx) as srv:
        out = invoke_ok(ctx, srv, "Echo", {"a": 1})
        check_echo(out, {"a": 1})
        rid = out["context"]["aws_request_id"]
        # boto3 in a handler reaches this server
        assert out["environ"]["AWS_ENDPOINT_URL"] == srv.endpoint, out["environ"]
        # the event from a file, the function by ARN, no event ({})
        with open(os.path.join(srv.tmp, "event.json"), "w") as f:
            f.write('{"from": "file"}')
        check_echo(invoke_ok(ctx, srv, FN_ARN + "Echo", None, "--event", os.path.join(srv.tmp, "event.json")),
                   {"from": "file"})
        check_echo(invoke_ok(ctx, srv, "Echo"), {})

        check_python_error(invoke_failed(ctx, srv, "Fail", {"order": "o-1"}), "OrderRejected",
                           "order o-1 rejected", "handler")
        t0 = time.time()
        check_timeout(invoke_failed(ctx, srv, "Worker", {"sleep": 3}))
        assert time.time() - t0 < 2.8, "a 1 s timeout took %.1fs" % (time.time() - t0)
        check_exit(invoke_failed(ctx, srv, "Worker", {"exit": 7}), 7)
        assert invoke_failed(ctx, srv, "BadImport") == IMPORT_ERROR
        assert invoke_failed(ctx, srv, "Big") == TOO_LARGE
        # a function that answers after all that still answers
        assert invoke_ok(ctx, srv, "Worker", {})["slept"] == 0

        p = stepd(ctx, srv, "invoke", "NoSuchFunction")
        assert p.returncode == 2 and p.stdout == "", p
        assert "ResourceNotFoundException" in p.stderr and FN_ARN + "NoSuchFunction" in p.stderr, p.stderr

        # --log: the invocation's log on stderr, the answer alone on stdout
        p = stepd(ctx, srv, "invoke", "Echo", "--event", '{"log": true}', "--log")
        assert p.returncode == 0, p
        out = json.loads(p.stdout)
        check_log_lines(p.stderr, out["context"]["aws_request_id"], 'echo: {"log": true}')

        # stepd logs: every request, in order, with START/END/REPORT
        text = stepd(ctx, srv, "logs", "Echo").stdout
        check_log_lines(text, rid, 'echo: {"a": 1}')
        assert text.count("START RequestId: ") == 4 and text.count("END RequestId: ") == 4, text
        assert text.index(rid) < text.index('echo: {"from": "file"}') < text.index('echo: {"log": true}'), text
        assert "Init Duration: " in text.splitlines()[3], text  # the cold start
        with open(os.path.join(srv.tmp, "logs", "Echo.log")) as f:
            assert f.read() == text
        fail = stepd(ctx, srv, "logs", "Fail").stdout
        assert "[ERROR] OrderRejected: order o-1 rejected" in fail, fail
        assert "Traceback (most recent call last):" in fail, fail
        p = stepd(ctx, srv, "logs", "NoSuchFunction")
        assert p.returncode != 0 and "ResourceNotFoundException" in p.stderr, p

        # --follow: what is already there, then new lines as they come
        f = subprocess.Popen([ctx.stepd, "logs", "Echo", "--follow", "--endpoint", srv.endpoint],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            got = read_until(f.stdout, 'echo: {"log": true}')
            assert 'echo: {"a": 1}' in got, got
            invoke_ok(ctx, srv, "Echo", {"followed": 1})
            got = read_until(f.stdout, 'echo: {"followed": 1}')
            assert f.poll() is None, "stepd logs --follow ended: %s" % f.stderr.read()
        finally:
            f.terminate()
            f.wait(10)
            f.stdout.close()
            f.stderr.close()


def test_functions_awscli_invoke(ctx):
    """`aws lambda invoke`: the payload, FunctionError, LogResult, Event and
    DryRun invocations, an unknown function; list-functions, get-function."""
    with template_server(ctx) as srv:
        outfile = os.path.join(srv.tmp, "out.json")

        def invoke(fn, *args):
            meta = aws(srv, "lambda", "invoke", "--function-name", fn, *args, outfile)
            with open(outfile) as f:
                return meta, json.loads(f.read())

        meta, out = invoke("Echo", "--payload", '{"a": 1}', "--log-type", "Tail")
        check_echo(out, {"a": 1})
        assert meta["StatusCode"] == 200 and meta["ExecutedVersion"] == "$LATEST", meta
        assert "FunctionError" not in meta, meta
        log = base64.b64decode(meta["LogResult"]).decode()
        check_log_lines(log, out["context"]["aws_request_id"], 'echo: {"a": 1}')

        meta, doc = invoke("Fail", "--payload", '{"order": "o-2"}')
        assert meta["StatusCode"] == 200 and meta["FunctionError"] == "Unhandled", meta
        check_python_error(doc, "OrderRejected", "order o-2 rejected", "handler")
        meta, doc = invoke("Worker", "--payload", '{"sleep": 3}')
        assert meta["StatusCode"] == 200 and meta["FunctionError"] == "Unhandled", meta
        check_timeout(doc)
        meta, doc = invoke("Worker", "--payload", '{"exit": 9}')
        assert meta["StatusCode"] == 200 and meta["FunctionError"] == "Unhandled", meta
        check_exit(doc, 9)
        meta, doc = invoke("BadImport")
        assert meta["FunctionError"] == "Unhandled" and doc == IMPORT_ERROR, (meta, doc)
        meta, doc = invoke("Big")
        assert meta["FunctionError"] == "Unhandled" and doc == TOO_LARGE, (meta, doc)

        # Event: 202 at once, the function runs later; DryRun: 204, it does not run
        meta = aws(srv, "lambda", "invoke", "--function-name", "Echo", "--invocation-type", "DryRun",
                   "--payload", '{"dry": "run"}', outfile)
        assert meta == {"StatusCode": 204}, meta
        meta = aws(srv, "lambda", "invoke", "--function-name", "Echo", "--invocation-type", "Event",
                   "--payload", '{"async": "event"}', outfile)
        assert meta == {"StatusCode": 202}, meta
        text = wait_log(ctx, srv, "Echo", 'echo: {"async": "event"}')
        assert '"dry"' not in text, text

        rc, _, err = aws(srv, "lambda", "invoke", "--function-name", "NoSuchFunction", outfile, check=False)
        assert rc in (254, 255), (rc, err)  # v1: 255, v2: 254
        assert "(ResourceNotFoundException)" in err and \
            "Function not found: %sNoSuchFunction" % FN_ARN in err, err

        fns = aws(srv, "lambda", "list-functions")["Functions"]
        assert sorted(f["FunctionName"] for f in fns) == TEMPLATE_FUNCTIONS, fns
        echo = [f for f in fns if f["FunctionName"] == "Echo"][0]
        check_configuration(echo)
        worker = [f for f in fns if f["FunctionName"] == "Worker"][0]
        assert worker["Timeout"] == 1 and worker["MemorySize"] == 128, worker  # SAM's defaults
        assert worker.get("Environment", {}).get("Variables", {}) == {}, worker
        got = aws(srv, "lambda", "get-function", "--function-name", "Echo")
        check_configuration(got["Configuration"])
        assert got["Configuration"] == echo, (got, echo)
        rc, _, err = aws(srv, "lambda", "get-function", "--function-name", "NoSuchFunction", check=False)
        assert rc in (254, 255) and "(ResourceNotFoundException)" in err, (rc, err)


def check_configuration(c):
    assert c["FunctionName"] == "Echo" and c["FunctionArn"] == FN_ARN + "Echo", c
    assert c["Runtime"] == "python3.12" and c["Handler"] == "app.handler", c
    assert c["Timeout"] == 5 and c["MemorySize"] == 256, c
    assert c["State"] == "Active", c
    assert c["Environment"] == {"Variables": {"GREETING": "hello", "STAGE": "test"}}, c
    assert c["Version"] == "$LATEST" and c["PackageType"] == "Zip", c


def test_functions_boto3_invoke(ctx):
    """boto3's lambda client: Payload, FunctionError, LogResult, StatusCode."""
    from botocore.exceptions import ClientError
    with template_server(ctx) as srv:
        lam = boto3_client(srv, "lambda")
        r, text = lam_invoke(lam, "Echo", {"b": [1, 2]}, LogType="Tail")
        assert r["StatusCode"] == 200 and "FunctionError" not in r, r
        out = json.loads(text)
        check_echo(out, {"b": [1, 2]})
        check_log_lines(base64.b64decode(r["LogResult"]).decode(), out["context"]["aws_request_id"],
                        'echo: {"b": [1, 2]}')

        r, text = lam_invoke(lam, FN_ARN + "Fail", {"order": "o-3"})
        assert r["StatusCode"] == 200 and r["FunctionError"] == "Unhandled", r
        check_python_error(json.loads(text), "OrderRejected", "order o-3 rejected", "handler")
        r, text = lam_invoke(lam, "Worker", {"sleep": 3})
        assert r["FunctionError"] == "Unhandled", r
        check_timeout(json.loads(text))
        r, text = lam_invoke(lam, "BadImport")
        assert r["FunctionError"] == "Unhandled" and json.loads(text) == IMPORT_ERROR, (r, text)
        # Lambda's limit is 6291556 bytes of response (the JSON string's
        # quotes count): one byte over fails, the limit itself arrives whole
        r, text = lam_invoke(lam, "Big", {"bytes": 6291556 - 2 + 1})
        assert r.get("FunctionError") == "Unhandled" and json.loads(text) == TOO_LARGE, (r, text[:200])
        r, text = lam_invoke(lam, "Big", {"bytes": 6291556 - 2})
        assert "FunctionError" not in r and len(text) == 6291556, (r, len(text))

        r, text = lam_invoke(lam, "Echo", {"async": 1}, InvocationType="Event")
        assert r["StatusCode"] == 202 and text == "", (r, text)
        r, text = lam_invoke(lam, "Echo", {"dry": 1}, InvocationType="DryRun")
        assert r["StatusCode"] == 204 and text == "", (r, text)
        wait_log(ctx, srv, "Echo", 'echo: {"async": 1}')

        try:
            lam.invoke(FunctionName="NoSuchFunction", Payload=b"{}")
            raise AssertionError("invoking an unknown function succeeded")
        except ClientError as e:
            assert e.response["Error"]["Code"] == "ResourceNotFoundException", e.response
            assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 404, e.response
            assert e.response["Error"]["Message"] == "Function not found: %sNoSuchFunction" % FN_ARN, e.response

        def refused(status, code, **kw):
            try:
                lam.invoke(**kw)
            except ClientError as e:
                assert e.response["Error"]["Code"] == code, e.response
                assert e.response["ResponseMetadata"]["HTTPStatusCode"] == status, e.response
                return e.response["Error"]["Message"]
            raise AssertionError("invoke %s succeeded" % kw)

        assert refused(400, "InvalidRequestContentException", FunctionName="Echo", Payload=b"{not json") == \
            "Could not parse request body into json"
        assert refused(404, "ResourceNotFoundException", FunctionName="Echo", Qualifier="7") == \
            "Function not found: %sEcho:7" % FN_ARN  # no published versions
        r, text = lam_invoke(lam, "Echo", "a string event", Qualifier="$LATEST")
        assert json.loads(text)["event"] == "a string event", text

        fns = lam.list_functions()["Functions"]
        assert sorted(f["FunctionName"] for f in fns) == TEMPLATE_FUNCTIONS, fns
        check_configuration(lam.get_function(FunctionName="Echo")["Configuration"])
        check_configuration(lam.get_function(FunctionName=FN_ARN + "Echo")["Configuration"])


def test_functions_invoke_request_id(ctx):
    """Invoke's x-amzn-RequestId is the invocation's request ID: the one the
    handler sees as context.aws_request_id and its log's START/END/REPORT
    lines carry (as on AWS, where the two are how a caller finds the log).
    """
    with template_server(ctx) as srv:
        lam = boto3_client(srv, "lambda")
        r, text = lam_invoke(lam, "Echo", {}, LogType="Tail")
        rid = json.loads(text)["context"]["aws_request_id"]
        assert "START RequestId: %s " % rid in base64.b64decode(r["LogResult"]).decode()
        header = r["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
        assert header == rid, "x-amzn-RequestId %s, but the invocation's request ID is %s" % (header, rid)
        r, text = lam_invoke(lam, "Fail", {})
        assert r["ResponseMetadata"]["RequestId"] == json.loads(text)["requestId"], (r, text)


# ---- workers ----------------------------------------------------------------

def test_functions_workers_warm_and_replaced(ctx):
    """A worker stays warm across invocations; a timed-out worker is killed
    and a crashed one replaced, and the next invocation gets a new one."""
    with template_server(ctx) as srv:
        lam = boto3_client(srv, "lambda")
        pids = [json.loads(lam_invoke(lam, "Worker", {})[1])["pid"] for _ in range(3)]
        assert len(set(pids)) == 1 and pid_alive(pids[0]), pids
        warm = pids[0]

        r, text = lam_invoke(lam, "Worker", {"sleep": 3})
        check_timeout(json.loads(text))
        wait_gone(warm, 2)  # killed at the timeout, not left sleeping
        after = json.loads(lam_invoke(lam, "Worker", {})[1])["pid"]
        assert after != warm, (after, warm)

        r, text = lam_invoke(lam, "Worker", {"exit": 7})
        check_exit(json.loads(text), 7)
        wait_gone(after, 2)
        again = json.loads(lam_invoke(lam, "Worker", {})[1])["pid"]
        assert again not in (warm, after) and pid_alive(again), (again, warm, after)
        log = stepd(ctx, srv, "logs", "Worker").stdout
        assert "Task timed out after 1.00 seconds" in log, log


def test_functions_idle_workers_reaped(ctx):
    """--idle-timeout 1: a worker idle for longer is stopped; the next
    invocation starts a new one."""
    with template_server(ctx, "--idle-timeout", "1") as srv:
        lam = boto3_client(srv, "lambda")
        first = json.loads(lam_invoke(lam, "Worker", {})[1])["pid"]
        assert json.loads(lam_invoke(lam, "Worker", {})[1])["pid"] == first
        time.sleep(2.5)
        wait_gone(first, 1)
        second = json.loads(lam_invoke(lam, "Worker", {})[1])["pid"]
        assert second != first, (first, second)


def test_functions_concurrency_bound(ctx):
    """ReservedConcurrentExecutions: 2 — six 1-second invocations at once
    take about 3 s on two workers; --concurrency 3 bounds a function that
    reserves nothing (six take about 2 s on three workers)."""
    with template_server(ctx, "--concurrency", "3") as srv:
        clients = [boto3_client(srv, "lambda") for _ in range(12)]
        # warm both pools first, so that cold starts do not blur the timing
        results = {}

        def run(i, fn, event):
            r, text = lam_invoke(clients[i], fn, event)
            results[i] = (fn, time.time(), r.get("FunctionError"), json.loads(text))

        def burst(jobs):
            results.clear()
            threads = [threading.Thread(target=run, args=(i, fn, ev)) for i, (fn, ev) in enumerate(jobs)]
            t0 = time.time()
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            assert len(results) == len(jobs), results
            return t0

        burst([("Pool", {})] * 2 + [("Sleeper", {})] * 3)
        t0 = burst([("Pool", {"sleep": 1})] * 6 + [("Sleeper", {"sleep": 1})] * 6)
        for fn, limit, lo, hi in (("Pool", 2, 2.8, 4.6), ("Sleeper", 3, 1.8, 3.6)):
            rs = [v for v in results.values() if v[0] == fn]
            assert all(v[2] is None and v[3]["slept"] == 1 for v in rs), rs
            took = max(v[1] for v in rs) - t0
            pids = {v[3]["pid"] for v in rs}
            assert len(pids) == limit, "%s: %d workers for a limit of %d: %s" % (fn, len(pids), limit, pids)
            assert lo <= took <= hi, "%s: six 1 s invocations on %d workers took %.2fs" % (fn, limit, took)


# ---- deploying --------------------------------------------------------------

def write_echo_template(path, color):
    with open(path, "w") as f:
        f.write("""Transform: AWS::Serverless-2016-10-31
Resources:
  Echo:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: %s
      Handler: app.handler
      Runtime: python3.12
      MemorySize: 256
      Timeout: 5
      Environment:
        Variables:
          GREETING: hello
          STAGE: test
          COLOR: %s
""" % (json.dumps(os.path.join(PYFN, "echo")), color))


def test_functions_redeploy_changes_config(ctx):
    """`stepd deploy` into a running server: created, unchanged, updated;
    after a changed environment variable the next invocation runs a new
    worker with the new configuration."""
    with Server(ctx.stepd) as srv:
        path = os.path.join(srv.tmp, "template.yaml")
        write_echo_template(path, "blue")
        p = stepd(ctx, srv, "deploy", path)
        assert p.returncode == 0, p
        assert re.search(r"^\s*function\s+Echo\s+created\s+%sEcho$" % re.escape(FN_ARN), p.stdout, re.M), p.stdout
        lam = boto3_client(srv, "lambda")
        before = json.loads(lam_invoke(lam, "Echo", {})[1])
        assert before["environ"]["COLOR"] == "blue", before["environ"]

        p = stepd(ctx, srv, "deploy", path, "--json")
        assert p.returncode == 0, p
        report = json.loads(p.stdout)
        assert report["functions"] == [{"logical_id": "Echo", "name": "Echo", "arn": FN_ARN + "Echo",
                                        "action": "unchanged"}], report
        assert json.loads(lam_invoke(lam, "Echo", {})[1])["pid"] == before["pid"]  # still warm

        write_echo_template(path, "red")
        p = stepd(ctx, srv, "deploy", path)
        assert p.returncode == 0, p
        assert re.search(r"^\s*function\s+Echo\s+updated\s", p.stdout, re.M), p.stdout
        after = json.loads(lam_invoke(lam, "Echo", {})[1])
        assert after["environ"]["COLOR"] == "red", after["environ"]
        assert after["pid"] != before["pid"], "the old worker served the new configuration"
        wait_gone(before["pid"], 5)
        assert lam.get_function(FunctionName="Echo")["Configuration"]["Environment"]["Variables"]["COLOR"] == "red"


def test_functions_redeploy_after_code_change(ctx):
    """Editing a function's code and deploying again runs the new code (as
    `sam deploy` does: the code is part of the function)."""
    with Server(ctx.stepd) as srv:
        code = os.path.join(srv.tmp, "code")
        os.mkdir(code)
        path = os.path.join(srv.tmp, "template.yaml")
        with open(path, "w") as f:
            f.write("Transform: AWS::Serverless-2016-10-31\nResources:\n  Versioned:\n"
                    "    Type: AWS::Serverless::Function\n"
                    "    Properties: {CodeUri: code/, Handler: app.handler, Runtime: python3.12}\n")

        def write_code(version):
            with open(os.path.join(code, "app.py"), "w") as f:
                f.write("def handler(event, context):\n    return %r\n" % version)

        write_code("v1")
        assert stepd(ctx, srv, "deploy", path).returncode == 0
        assert invoke_ok(ctx, srv, "Versioned") == "v1"
        write_code("v2")
        p = stepd(ctx, srv, "deploy", path)
        assert p.returncode == 0, p
        got = invoke_ok(ctx, srv, "Versioned")
        assert got == "v2", "after a code change and a deploy the function answers %r; the deploy said:\n%s" % (
            got, p.stdout)


def test_functions_survive_restart(ctx):
    """A deployed function and its state machines survive a restart on the
    same store: no redeploy needed."""
    srv = template_server(ctx)
    srv.start()
    try:
        assert invoke_ok(ctx, srv, "Echo", {"n": 1})["event"] == {"n": 1}
        srv.stop()
        srv.args = []  # no --template: what was deployed is in the store
        srv.start()
        check_echo(invoke_ok(ctx, srv, "Echo", {"n": 2}), {"n": 2})
        lam = boto3_client(srv, "lambda")
        assert sorted(f["FunctionName"] for f in lam.list_functions()["Functions"]) == TEMPLATE_FUNCTIONS
        sfn = boto3_client(srv)
        ex = sfn.start_execution(stateMachineArn=SM_ARN + "Direct", input='{"after": "restart"}')["executionArn"]
        d = wait_done(srv, ex)
        assert d["status"] == "SUCCEEDED" and json.loads(d["output"])["event"] == {"after": "restart"}, d
        # its log goes on in the same file
        text = stepd(ctx, srv, "logs", "Echo").stdout
        assert 'echo: {"n": 1}' in text and 'echo: {"n": 2}' in text, text
        srv.stop()
    finally:
        srv.kill()
    shutil.rmtree(srv.tmp, ignore_errors=True)


# ---- state machines ---------------------------------------------------------

def events_of(srv, arn):
    return call(srv, "GetExecutionHistory", {"executionArn": arn, "maxResults": 1000})["events"]


def test_functions_task_states(ctx):
    """Functions as Task states: the direct ARN gives the bare payload,
    lambda:invoke wraps it; function errors, timeouts, crashes and a missing
    function surface with AWS's Error and Cause, for Retry and Catch;
    waitForTaskToken with a function that calls back through boto3;
    TimeoutSeconds shorter than the function."""
    key = "%d-%d" % (os.getpid(), int(time.time() * 1000))
    flaky_files = ["/tmp/stepd-it-flaky-%s-%s" % (key, s) for s in ("ok", "out")]
    with template_server(ctx) as srv:
        sfn = boto3_client(srv)
        runs = {
            "direct": ("Direct", {"x": 1}),
            "invoke": ("Invoke", {"y": 2}),
            "invoke_event": ("InvokeEvent", {"z": 3}),
            "uncaught": ("Uncaught", {"order": "u-1"}),
            "uncaught_invoke": ("UncaughtInvoke", {"order": "u-2"}),
            "errorType": ("Catcher", {"case": "errorType", "order": "c-1"}),
            "taskFailed": ("Catcher", {"case": "taskFailed", "order": "c-2"}),
            "timeout": ("Catcher", {"case": "timeout"}),
            "exit": ("Catcher", {"case": "exit"}),
            "missing": ("Catcher", {"case": "missing"}),
            "missing_direct": ("Catcher", {"case": "missingDirect"}),
            "retry_ok": ("Retry", {"key": key + "-ok", "fail_times": 2}),
            "retry_out": ("Retry", {"key": key + "-out", "fail_times": 5}),
            "callback": ("CallbackFlow", {"value": 42}),
            "refused": ("CallbackFlow", {"refuse": True}),
            "raised": ("CallbackFlow", {"raise": True}),
            "task_timeout": ("TaskTimeout", {"sleep": 3}),
        }
        arns = {}
        try:
            for name, (machine, inp) in runs.items():
                arns[name] = sfn.start_execution(stateMachineArn=SM_ARN + machine, name=name,
                                                 input=json.dumps(inp))["executionArn"]
            done = {name: wait_done(srv, arn, 30) for name, arn in arns.items()}
        finally:
            for f in flaky_files:
                if os.path.exists(f):
                    os.unlink(f)

        def succeeded(name):
            d = done[name]
            assert d["status"] == "SUCCEEDED", (name, d)
            return json.loads(d["output"])

        def failed(name, error):
            d = done[name]
            assert d["status"] == "FAILED" and d.get("error") == error, (name, d)
            return d.get("cause")

        # direct ARN: the payload itself
        out = succeeded("direct")
        assert out["event"] == {"x": 1} and out["context"]["function_name"] == "Echo", out
        # lambda:invoke: Lambda's answer around it
        out = succeeded("invoke")
        assert set(out) == {"ExecutedVersion", "Payload", "SdkHttpMetadata", "SdkResponseMetadata",
                            "StatusCode"}, out
        assert out["StatusCode"] == 200 and out["ExecutedVersion"] == "$LATEST", out
        assert out["Payload"]["event"] == {"y": 2}, out
        rid = out["Payload"]["context"]["aws_request_id"]
        assert out["SdkResponseMetadata"] == {"RequestId": rid}, out
        meta = out["SdkHttpMetadata"]
        assert meta["HttpStatusCode"] == 200 and meta["HttpHeaders"]["x-amzn-RequestId"] == rid, meta
        assert meta["AllHttpHeaders"]["x-amzn-RequestId"] == [rid], meta

        # InvocationType Event: 202 and an empty payload, without waiting
        out = succeeded("invoke_event")
        assert out["StatusCode"] == 202 and out["Payload"] == "", out
        assert out["SdkHttpMetadata"]["HttpStatusCode"] == 202, out

        # an uncaught function error: Error = errorType, Cause = the error document
        cause = failed("uncaught", "OrderRejected")
        check_python_error(json.loads(cause), "OrderRejected", "order u-1 rejected", "handler")
        assert '", "errorType": "OrderRejected", ' in cause, cause  # the runtime's own text, as sent
        cause = failed("uncaught_invoke", "OrderRejected")
        doc = json.loads(cause)
        check_python_error(doc, "OrderRejected", "order u-2 rejected", "handler")
        assert cause == json.dumps(doc, separators=(",", ":")), cause  # lambda:invoke: compact JSON

        def caught(name):
            out = succeeded(name)
            return out["caught"]["Error"], out["caught"]["Cause"]

        err, cause = caught("errorType")
        assert err == "OrderRejected", err
        check_python_error(json.loads(cause), "OrderRejected", "order c-1 rejected", "handler")
        err, cause = caught("taskFailed")
        assert err == "OrderRejected", err  # States.TaskFailed matches it; Error stays the errorType
        check_python_error(json.loads(cause), "OrderRejected", "order c-2 rejected", "handler")
        err, cause = caught("timeout")
        assert err == "Sandbox.Timedout", err
        check_timeout(json.loads(cause))
        err, cause = caught("exit")
        assert err == "Runtime.ExitError", err
        check_exit(json.loads(cause), 7)
        for name, version in (("missing", r":\$LATEST"), ("missing_direct", "")):
            err, cause = caught(name)
            assert err == "Lambda.ResourceNotFoundException", err
            assert re.fullmatch(r"Function not found: %sStepdNoSuchFunction%s \(Service: AWSLambda; "
                                r"Status Code: 404; Error Code: ResourceNotFoundException; Request ID: %s; "
                                r"Proxy: null\)" % (re.escape(FN_ARN), version, UUID_RE), cause), cause

        # Retry on the function's errorType: two failures, then the answer
        assert succeeded("retry_ok") == {"attempts": 3, "key": key + "-ok"}
        types = [e["type"] for e in events_of(srv, arns["retry_ok"])]
        assert types.count("LambdaFunctionScheduled") == 3 and types.count("LambdaFunctionFailed") == 2, types
        assert types.count("LambdaFunctionSucceeded") == 1, types
        # ... and when the retries run out, the last error
        cause = failed("retry_out", "TransientError")
        check_python_error(json.loads(cause), "TransientError", "attempt 3 failed", "handler")

        # waitForTaskToken: the task's output is what the function sent back
        assert succeeded("callback") == {"called_back": 42, "by": "Callback"}
        assert failed("refused", "CallbackRefused") == "asked to refuse"
        cause = failed("raised", "CallbackBroken")
        check_python_error(json.loads(cause), "CallbackBroken",
                           "the callback function failed before calling back", "handler")

        assert failed("task_timeout", "States.Timeout") in (None, ""), done["task_timeout"]
        types = [e["type"] for e in events_of(srv, arns["task_timeout"])]
        assert "LambdaFunctionTimedOut" in types, types


# ---- C functions and the shell runtime --------------------------------------

def test_functions_c_runtime(ctx):
    """C functions built on include/stepd/runtime.h: invoked, failing,
    crashing, timing out, printing, and as Task states."""
    echo_dir = built_function(ctx, "c-echo")
    fail_dir = built_function(ctx, "c-fail")
    tmp = tempfile.mkdtemp(prefix="stepd-it-c-")
    try:
        path = sh_template(tmp, {
            "CEcho": (echo_dir, "provided.al2023", {}),
            "CFail": (fail_dir, "provided.al2", {"Timeout": 1, "MemorySize": 192}),
        })
        with open(path, "a") as f:
            f.write("""  Flow:
    Type: AWS::Serverless::StateMachine
    Properties:
      Definition:
        StartAt: Echo
        States:
          Echo:
            Type: Task
            Resource: !GetAtt CEcho.Arn
            ResultPath: $.echoed
            Next: Fail
          Fail:
            Type: Task
            Resource: arn:aws:states:::lambda:invoke
            Parameters: {FunctionName: !Ref CFail, Payload.$: $.echoed}
            Catch: [{ErrorEquals: [OrderRejected], ResultPath: $.caught, Next: Done}]
            End: true
          Done:
            Type: Pass
            End: true
""")
        with Server(ctx.stepd, args=["--template", path]) as srv:
            event = {"k": "v", "n": [1, 2.5, None], "u": "h\u00e9llo"}
            assert invoke_ok(ctx, srv, "CEcho", event) == event
            lam = boto3_client(srv, "lambda")
            r, text = lam_invoke(lam, "CEcho", None)
            assert r["StatusCode"] == 200 and "FunctionError" not in r and text == "{}", (r, text)

            r, text = lam_invoke(lam, "CFail", {"print": "hello from c"}, LogType="Tail")
            assert r["FunctionError"] == "Unhandled", r
            doc = json.loads(text)
            assert doc["errorType"] == "OrderRejected" and doc["errorMessage"] == "order rejected by c-fail", doc
            assert "hello from c" in base64.b64decode(r["LogResult"]).decode(), r
            assert "hello from c" in stepd(ctx, srv, "logs", "CFail").stdout

            c = invoke_ok(ctx, srv, "CFail", {"context": True})
            assert c["function_name"] == "CFail" and c["invoked_function_arn"] == FN_ARN + "CFail", c
            assert c["memory_limit_in_mb"] == 192 and c["function_version"] == "$LATEST", c
            assert re.fullmatch(UUID_RE, c["request_id"]) and 0 < c["remaining_ms"] <= 1000, c
            check_exit(invoke_failed(ctx, srv, "CFail", {"crash": True}), 3)
            check_timeout(invoke_failed(ctx, srv, "CFail", {"sleep_ms": 3000}))
            doc = invoke_failed(ctx, srv, "CFail", {})
            assert doc["errorType"] == "OrderRejected", doc

            sfn = boto3_client(srv)
            ex = sfn.start_execution(stateMachineArn=SM_ARN + "Flow", input='{"order": 7}')["executionArn"]
            d = wait_done(srv, ex)
            assert d["status"] == "SUCCEEDED", d
            out = json.loads(d["output"])
            assert out["echoed"] == {"order": 7} and out["caught"]["Error"] == "OrderRejected", out
            assert json.loads(out["caught"]["Cause"])["errorMessage"] == "order rejected by c-fail", out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def test_functions_shell_runtime(ctx):
    """A `provided` runtime written in shell (bash + curl, as AWS's tutorial
    writes one): invoked, failing, and as a Task state with `stepd run`."""
    assert os.access(os.path.join(SH_DIR, "bootstrap"), os.X_OK), "tests/functions/sh/bootstrap missing"
    tmp = tempfile.mkdtemp(prefix="stepd-it-sh-")
    try:
        path = sh_template(tmp, {"Shell": (SH_DIR, "provided.al2023", {"Timeout": 5})})
        with open(path, "a") as f:
            f.write("""  Flow:
    Type: AWS::Serverless::StateMachine
    Properties:
      Definition:
        StartAt: Call
        States:
          Call:
            Type: Task
            Resource: !GetAtt Shell.Arn
            Catch: [{ErrorEquals: [ShellFailure], Next: Caught}]
            End: true
          Caught:
            Type: Pass
            End: true
""")
        with Server(ctx.stepd, args=["--template", path]) as srv:
            assert invoke_ok(ctx, srv, "Shell", {"a": 1}) == {"shell": {"a": 1}}
            lam = boto3_client(srv, "lambda")
            r, text = lam_invoke(lam, "Shell", {"fail": True})
            assert r["FunctionError"] == "Unhandled", r
            assert json.loads(text) == {"errorMessage": "the shell function was asked to fail",
                                        "errorType": "ShellFailure", "stackTrace": []}, text
        for inp, want in (({"b": 2}, ("SUCCEEDED", {"shell": {"b": 2}})),
                          ({"fail": True}, ("SUCCEEDED", None))):
            p = subprocess.run([ctx.stepd, "run", path, "--input", json.dumps(inp), "--quiet"],
                               capture_output=True, text=True, timeout=60)
            out = json.loads(p.stdout)
            assert p.returncode == 0 and out["status"] == want[0], (p.returncode, p.stdout, p.stderr)
            if want[1] is not None:
                assert out["output"] == want[1], out
            else:
                assert out["output"]["Error"] == "ShellFailure", out
                assert json.loads(out["output"]["Cause"])["errorMessage"] == \
                    "the shell function was asked to fail", out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
