"""The seed's application, end to end, as a user runs it: the order workflow
(Validate -> Charge -> Record into a DynamoDB table) of
examples/order-processing/ (Python functions, boto3 in Record) and
examples/order-processing-c/ (C functions through the C runtime client;
Record sends a SigV4-signed PutItem with stepd_aws_json).

  test_examples_run_*      `stepd run TEMPLATE` (the demo's command line):
      the good order SUCCEEDS with validated, charged, payment_id and
      status, the item is in the table (--show-tables), the states shown by
      --progress are Validate, Charge, Record; the bad order FAILS at
      Validate with the function's errorType and message, recording nothing.
  test_examples_serve_*    `stepd serve` + `stepd deploy TEMPLATE`, then the
      real aws CLI: start-execution, describe-execution polled,
      `aws dynamodb scan` / `get-item`.
  test_examples_crash_*    30 executions started with boto3, the server
      SIGKILLed once half of them are started and the first has ended,
      restarted on the same store, the unanswered starts sent again (same
      name and input): every execution SUCCEEDS, there are 30 of them, and
      each order is in the table exactly once (Record may run again after
      the crash: put_item on the order id is idempotent).
  test_examples_c_sigv4    stepd_aws_json's request, received by a Python
      server, carries the signature botocore computes for it (with and
      without a session token, with an endpoint path); AWS's error answers
      give their code; https and missing credentials are refused clearly.

The C functions are built by `make` (examples/order-processing-c/rules.mk)
into their function directories."""
import http.server
import json
import os
import subprocess
import tempfile
import threading
import time

import boto3

from harness import Server, aws, boto3_client

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
APPS = {
    "python": os.path.join(ROOT, "examples", "order-processing"),
    "c": os.path.join(ROOT, "examples", "order-processing-c"),
}
TABLE = "OrdersTable"          # the SimpleTable's logical ID names it
MACHINE_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:OrderStateMachine"
GOOD = {"order_id": "o-1001", "customer": "ada@example.com", "amount": 42.5, "currency": "EUR"}
BAD_MESSAGE = "order o-1002: amount must be greater than 0, got -5"


# ---- helpers ----------------------------------------------------------------

def check_built(lang):
    if lang == "c":
        for fn in ("validate", "charge", "record"):
            path = os.path.join(APPS["c"], "functions", fn, "bootstrap")
            assert os.access(path, os.X_OK), "%s is not built: run `make` (examples/order-processing-c/rules.mk)" % path


def stepd_run(ctx, lang, event, *args):
    """`stepd run TEMPLATE --input events/EVENT --quiet --progress ARGS`
    in the example's directory: (exit status, result JSON, stderr)."""
    check_built(lang)
    env = dict(os.environ)
    env.pop("STEPD_ENDPOINT", None)
    p = subprocess.run([ctx.stepd, "run", "template.yaml", "--input", "events/" + event, "--quiet",
                        "--progress"] + list(args),
                       cwd=APPS[lang], capture_output=True, text=True, env=env, timeout=60)
    assert "Sanitizer" not in p.stderr and "runtime error:" not in p.stderr, p.stderr
    try:
        result = json.loads(p.stdout)
    except ValueError:
        raise AssertionError("stepd run %s: no JSON on stdout (rc %d):\n%s%s" % (event, p.returncode, p.stdout,
                                                                                 p.stderr))
    return p.returncode, result, p.stderr


def states_shown(stderr):
    return [line[2:] for line in stderr.splitlines() if line.startswith("\u2192 ")]


def check_good_output(out, order_id="o-1001", event=None):
    want = dict(event or GOOD)
    want.update({"validated": True, "payment_id": "pay-" + order_id, "charged": True, "status": "RECORDED"})
    assert out == want, "output %r\nexpected %r" % (out, want)


def check_item(item, order):
    """A recorded item, as plain JSON (boto3 resource / --show-tables)."""
    assert item["id"] == order["order_id"], item
    assert float(item["amount"]) == order["amount"], item
    assert item["payment_id"] == "pay-" + order["order_id"], item
    assert item["customer"] == order["customer"] and item["currency"] == order["currency"], item
    assert len(item["recorded_at"]) == 25 and item["recorded_at"].endswith("+00:00"), item


def check_bad(status, error, cause):
    assert status == "FAILED", status
    assert error == "InvalidOrderError", "error %r, cause %r" % (error, cause)
    doc = json.loads(cause)
    assert doc["errorType"] == "InvalidOrderError" and doc["errorMessage"] == BAD_MESSAGE, doc


def unmarshal(av):
    (t, v), = av.items()
    return {"S": lambda: v, "N": lambda: float(v), "BOOL": lambda: v}.get(t, lambda: v)()


# ---- stepd run TEMPLATE ------------------------------------------------------

def run_template(ctx, lang):
    rc, r, err = stepd_run(ctx, lang, "order.json", "--show-tables")
    assert rc == 0 and r["status"] == "SUCCEEDED", "good order: rc %d %r\n%s" % (rc, r, err)
    check_good_output(r["output"])
    assert states_shown(err) == ["Validate", "Charge", "Record"], err
    items = r["tables"][TABLE]
    assert isinstance(items, list) and len(items) == 1, "the table after the run: %r" % (r["tables"],)
    check_item(items[0], GOOD)

    rc, r, err = stepd_run(ctx, lang, "bad-order.json", "--show-tables")
    assert rc == 1, "bad order: rc %d %r\n%s" % (rc, r, err)
    check_bad(r["status"], r["error"], r["cause"])
    assert r["output"] is None, r
    assert states_shown(err) == ["Validate"], err
    assert r["tables"] == {TABLE: []}, "the bad order recorded something: %r" % (r["tables"],)


def test_examples_run_python(ctx):
    run_template(ctx, "python")


def test_examples_run_c(ctx):
    run_template(ctx, "c")


# ---- stepd serve + stepd deploy + the aws CLI ------------------------------

def deploy(ctx, srv, lang):
    check_built(lang)
    env = dict(os.environ)
    env.pop("STEPD_ENDPOINT", None)
    p = subprocess.run([ctx.stepd, "deploy", "template.yaml", "--endpoint", srv.endpoint], cwd=APPS[lang],
                       capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 0, "stepd deploy: rc %d\n%s%s" % (p.returncode, p.stdout, p.stderr)
    assert MACHINE_ARN in p.stdout, p.stdout
    return p.stdout


def aws_wait(srv, arn, timeout=30):
    deadline = time.time() + timeout
    while True:
        d = aws(srv, "stepfunctions", "describe-execution", "--execution-arn", arn)
        if d["status"] != "RUNNING" or time.time() > deadline:
            return d
        time.sleep(0.1)


def serve_template(ctx, lang):
    with Server(ctx.stepd) as srv:
        deploy(ctx, srv, lang)
        events = os.path.join(APPS[lang], "events")
        good = aws(srv, "stepfunctions", "start-execution", "--state-machine-arn", MACHINE_ARN,
                   "--name", "good", "--input", "file://" + os.path.join(events, "order.json"))
        bad = aws(srv, "stepfunctions", "start-execution", "--state-machine-arn", MACHINE_ARN,
                  "--name", "bad", "--input", "file://" + os.path.join(events, "bad-order.json"))
        d = aws_wait(srv, good["executionArn"])
        assert d["status"] == "SUCCEEDED", "%r\nserver log:\n%s" % (d, srv.log())
        check_good_output(json.loads(d["output"]))
        d = aws_wait(srv, bad["executionArn"])
        check_bad(d["status"], d.get("error"), d.get("cause"))

        scan = aws(srv, "dynamodb", "scan", "--table-name", TABLE)
        assert scan["Count"] == 1, scan
        check_item({k: unmarshal(v) for k, v in scan["Items"][0].items()}, GOOD)
        got = aws(srv, "dynamodb", "get-item", "--table-name", TABLE, "--key", '{"id": {"S": "o-1001"}}')
        assert got["Item"]["amount"] == {"N": "42.5"}, got
        assert got["Item"]["payment_id"] == {"S": "pay-o-1001"}, got


def test_examples_serve_python(ctx):
    serve_template(ctx, "python")


def test_examples_serve_c(ctx):
    serve_template(ctx, "c")


# ---- SIGKILL mid-run ----------------------------------------------------------

N_CRASH = 30
EXEC_ARN = "arn:aws:states:us-east-1:123456789012:execution:OrderStateMachine:"


def start_all(srv, orders, acked):
    """StartExecution for each order, named after it, until the server is
    gone; the acknowledged ones go into acked."""
    sfn = boto3_client(srv)
    for o in orders:
        try:
            acked[o["order_id"]] = sfn.start_execution(stateMachineArn=MACHINE_ARN, name=o["order_id"],
                                                       input=json.dumps(o))["executionArn"]
        except Exception:
            return


def crash_template(ctx, lang):
    orders = [{"order_id": "o-%04d" % i, "customer": "c%d@example.com" % i, "amount": 10 + i * 0.25,
               "currency": "EUR"} for i in range(N_CRASH)]
    with Server(ctx.stepd) as srv:      # kill() and start() keep its store
        deploy(ctx, srv, lang)
        # SIGKILL while the starts go on and the first executions run.
        acked = {}
        starter = threading.Thread(target=start_all, args=(srv, orders, acked))
        starter.start()
        deadline = time.time() + 20
        while len(acked) < N_CRASH // 2 and starter.is_alive() and time.time() < deadline:
            time.sleep(0.002)
        # ... once the first one has ended (Python's Record imports boto3 first).
        first, watch = EXEC_ARN + orders[0]["order_id"], boto3_client(srv)
        while time.time() < deadline and watch.describe_execution(executionArn=first)["status"] == "RUNNING":
            time.sleep(0.01)
        srv.kill()
        starter.join()
        srv.start()
        # What got no answer is started again, with the same name and input:
        # the same execution if it was accepted (ExecutionAlreadyExists once
        # it has ended), else a new one.
        sfn = boto3_client(srv)
        for o in orders:
            if o["order_id"] not in acked:
                try:
                    sfn.start_execution(stateMachineArn=MACHINE_ARN, name=o["order_id"], input=json.dumps(o))
                except sfn.exceptions.ExecutionAlreadyExists:
                    pass
        deadline = time.time() + 40
        pending = {EXEC_ARN + o["order_id"]: o for o in orders}
        while pending and time.time() < deadline:
            for arn in list(pending):
                d = sfn.describe_execution(executionArn=arn)
                if d["status"] == "RUNNING":
                    continue
                assert d["status"] == "SUCCEEDED", "%s after the restart: %r\nserver log:\n%s" % (
                    arn, d, srv.log())
                check_good_output(json.loads(d["output"]), pending[arn]["order_id"], pending[arn])
                del pending[arn]
            time.sleep(0.05)
        assert not pending, "%d executions still RUNNING 40 s after the restart: %s" % (len(pending), list(pending)[:3])
        listed = sfn.list_executions(stateMachineArn=MACHINE_ARN, maxResults=1000)["executions"]
        assert len(listed) == N_CRASH, "%d executions listed, expected %d" % (len(listed), N_CRASH)

        ddb = boto3.resource("dynamodb", endpoint_url=srv.endpoint, region_name="us-east-1",
                             aws_access_key_id="testing", aws_secret_access_key="testing")
        items = ddb.Table(TABLE).scan()["Items"]
        ids = sorted(i["id"] for i in items)
        assert ids == [o["order_id"] for o in orders], "the table holds %d items: %s" % (len(ids), ids)
        by_id = {i["id"]: i for i in items}
        for o in orders:
            check_item(by_id[o["order_id"]], o)


def test_examples_crash_python(ctx):
    crash_template(ctx, "python")


def test_examples_crash_c(ctx):
    crash_template(ctx, "c")


# ---- stepd_aws_json: SigV4 as botocore signs ---------------------------------

DRIVER = r"""
#include <stdio.h>
#include <stepd/aws.h>
int main(int argc, char **argv)
{
    stepd_aws_answer a;
    char code[64];
    int rc = stepd_aws_json(argv[1], argv[2], argc > 3 ? argv[3] : NULL, &a);
    printf("%d %d %s %s", rc, a.status, stepd_aws_error_code(&a, code, sizeof code), a.body);
    stepd_aws_answer_free(&a);
    return rc ? 1 : 0;
}
"""


class Capture(http.server.BaseHTTPRequestHandler):
    """Answers each POST with the next (status, body) of server.answers and
    keeps (path, headers, body) in server.seen."""

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.seen.append((self.path, dict(self.headers.items()), body))
        status, answer = self.server.answers.pop(0) if self.server.answers else (200, b"{}")
        self.send_response(status)
        self.send_header("Content-Type", "application/x-amz-json-1.0")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *a):
        pass


def botocore_signature(path, headers, body, host, creds, service, region):
    """The Authorization header botocore computes for this request, with the
    headers the request says it signed and its own X-Amz-Date."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    h = {k.lower(): v for k, v in headers.items()}
    signed = h["authorization"].split("SignedHeaders=")[1].split(",")[0].split(";")
    req = AWSRequest(method="POST", url="http://%s%s" % (host, path), data=body,
                     headers={k: h[k] for k in signed})
    req.context["timestamp"] = h["x-amz-date"]
    auth = SigV4Auth(Credentials(*creds), service, region)
    canonical = auth.canonical_request(req)
    sig = auth.signature(auth.string_to_sign(req, canonical), req)
    return "AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=%s, Signature=%s" % (
        creds[0], auth.credential_scope(req), ";".join(signed), sig)


def test_examples_c_sigv4(ctx):
    lib = os.path.join(os.path.dirname(ctx.stepd), "libstepd-runtime.a")
    assert os.path.exists(lib), "%s is not built" % lib
    tmp = tempfile.mkdtemp(prefix="stepd-sigv4-")
    src, exe = os.path.join(tmp, "driver.c"), os.path.join(tmp, "driver")
    with open(src, "w") as f:
        f.write(DRIVER)
    cc = ["cc", "-std=c11", "-Wall", "-Werror", "-I" + os.path.join(ROOT, "include"), "-o", exe, src, lib]
    p = subprocess.run(cc, capture_output=True, text=True)
    if p.returncode != 0 and ("__asan" in p.stderr or "__ubsan" in p.stderr):   # `make asan`'s library
        p = subprocess.run(cc + ["-fsanitize=address,undefined"], capture_output=True, text=True)
    assert p.returncode == 0, "cannot build the driver: %s" % p.stderr

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Capture)
    srv.seen, srv.answers = [], []
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    host = "127.0.0.1:%d" % srv.server_address[1]
    base = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}

    def drive(env, *args):
        e = dict(base)
        e.update(env)
        p = subprocess.run([exe] + list(args), env=e, capture_output=True, text=True, timeout=30)
        assert "Sanitizer" not in p.stderr and "runtime error:" not in p.stderr, p.stderr
        rc, status, code, body = p.stdout.split(" ", 3)
        return int(rc), int(status), code, body

    try:
        cases = [
            # (environment, service, target, body, path the server must see)
            ({"AWS_ENDPOINT_URL": "http://" + host, "AWS_REGION": "eu-west-3",
              "AWS_ACCESS_KEY_ID": "AKIDEXAMPLE", "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
              "AWS_SESSION_TOKEN": "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQ=="},
             "dynamodb", "DynamoDB_20120810.PutItem",
             json.dumps({"TableName": "Orders", "Item": {"id": {"S": "o-1 \u00e9\u20ac"}, "n": {"N": "1"}}}), "/"),
            ({"AWS_ENDPOINT_URL_STATES": "http://%s/prefix/path" % host, "AWS_ENDPOINT_URL": "http://127.0.0.1:1",
              "AWS_DEFAULT_REGION": "ap-south-1", "AWS_ACCESS_KEY_ID": "AKID2", "AWS_SECRET_ACCESS_KEY": "s" * 80},
             "states", "AWSStepFunctions.ListStateMachines", None, "/prefix/path"),
        ]
        for env, service, target, body, path in cases:
            srv.seen.clear()
            rc, status, code, answer = drive(env, service, target, *([body] if body else []))
            assert (rc, status, answer) == (0, 200, "{}"), (rc, status, code, answer)
            (got_path, headers, got_body), = srv.seen
            assert got_path == path and got_body == (body or "{}").encode(), (got_path, got_body)
            assert headers["X-Amz-Target"] == target, headers
            assert headers["Content-Type"] == "application/x-amz-json-1.0", headers
            assert headers.get("X-Amz-Security-Token") == env.get("AWS_SESSION_TOKEN"), headers
            region = env.get("AWS_REGION") or env["AWS_DEFAULT_REGION"]
            creds = (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env.get("AWS_SESSION_TOKEN"))
            want = botocore_signature(path, headers, got_body, host, creds, service, region)
            assert headers["Authorization"] == want, "signed:   %s\nbotocore: %s" % (headers["Authorization"], want)

        # AWS's error answer: status, body and code.
        env = {"AWS_ENDPOINT_URL": "http://" + host, "AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"}
        err = b'{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"Requested resource not found"}'
        srv.answers.append((400, err))
        assert drive(env, "dynamodb", "DynamoDB_20120810.GetItem", "{}") == (
            -1, 400, "ResourceNotFoundException", err.decode())
        srv.answers.append((500, b"oops"))
        assert drive(env, "dynamodb", "DynamoDB_20120810.GetItem", "{}")[:3] == (-1, 500, "ServiceException")

        # What cannot work says so.
        rc, status, code, msg = drive({"AWS_REGION": "us-west-2", "AWS_ACCESS_KEY_ID": "a", "AWS_SECRET_ACCESS_KEY": "b"},
                                      "dynamodb", "DynamoDB_20120810.ListTables")
        assert (rc, status, code) == (-1, 0, "RequestError") and "https://dynamodb.us-west-2.amazonaws.com" in msg \
            and "not supported" in msg and "AWS_ENDPOINT_URL" in msg, msg
        rc, status, code, msg = drive({"AWS_ENDPOINT_URL": "http://" + host}, "dynamodb", "DynamoDB_20120810.ListTables")
        assert (rc, status) == (-1, 0) and "AWS_ACCESS_KEY_ID" in msg, msg
        rc, status, code, msg = drive(dict(env, AWS_ENDPOINT_URL="http://127.0.0.1:1"), "dynamodb", "X.Y")
        assert (rc, status) == (-1, 0) and "cannot connect to 127.0.0.1:1" in msg, msg
    finally:
        srv.shutdown()
        srv.server_close()
        subprocess.run(["rm", "-rf", tmp])
