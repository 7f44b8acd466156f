"""harness — starts a real `stepd serve` on a free loopback port for the
integration tests, and gives the three ways a user talks to it: the aws CLI,
boto3, and raw HTTP (for requests no real client would send).

    with Server(stepd) as srv:          # a fresh store in a temp dir
        out = aws(srv, "stepfunctions", "list-state-machines")
        sfn = boto3_client(srv)
        status, body, headers = raw(srv, "ListStateMachines", "{}")

Server(stepd, store=PATH) reuses a store (crash tests: kill(), then start()
again on the same file). The server's stderr goes to srv.log_path."""
import http.client
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_PAGER": "",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
}


class Server:
    def __init__(self, stepd, store=None, args=()):
        self.stepd = os.path.abspath(stepd)
        self.tmp = tempfile.mkdtemp(prefix="stepd-it-")
        self.store = store or os.path.join(self.tmp, "state.db")
        self.args = list(args)
        self.proc = None
        self.port = None
        self.log_path = os.path.join(self.tmp, "serve.log")

    @property
    def endpoint(self):
        return "http://127.0.0.1:%d" % self.port

    def start(self, timeout=20):
        """Starts the server and waits for its 'listening on' line."""
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [self.stepd, "serve", "--listen", "127.0.0.1:0", "--store", self.store] + self.args,
            stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL)
        log.close()
        deadline = time.time() + timeout
        line = b""
        while time.time() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                break
            if b"listening on http://" in line:
                self.port = int(line.strip().rsplit(b":", 1)[1])
                return self
        self.proc.kill()
        self.proc.wait()
        raise RuntimeError("stepd serve did not start: %r; log: %s" % (line, self.log()))

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")[-4000:]
        except OSError:
            return ""

    def stop(self, timeout=30):
        """SIGTERM and wait: returns the exit status."""
        if not self.proc:
            return None
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError("stepd serve ignored SIGTERM for %ds" % timeout)
        self.proc.stdout.close()
        self.proc = None
        log = self.log()
        if rc != 0 or "Sanitizer" in log or "runtime error:" in log:
            raise AssertionError("stepd serve exited with %s after SIGTERM; log:\n%s" % (rc, log))
        return rc

    def kill(self):
        """SIGKILL: the crash the durability tests inflict."""
        if self.proc:
            self.proc.kill()
            self.proc.wait()
            self.proc.stdout.close()
            self.proc = None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        """Stops the server; a clean exit (status 0, no sanitizer report)
        is part of every test. The temporary directory goes unless the test
        failed or STEPD_KEEP is set."""
        try:
            if self.proc:
                try:
                    self.stop()
                except (AssertionError, RuntimeError):
                    if exc_type is None:
                        raise  # else the test's own failure is the one to see
        finally:
            if exc_type is None and not os.environ.get("STEPD_KEEP"):
                shutil.rmtree(self.tmp, ignore_errors=True)


def aws(srv, *args, check=True, input=None):
    """Runs the real aws CLI against srv; returns the parsed JSON output
    (None when it printed nothing). With check=False returns
    (returncode, stdout, stderr) instead."""
    env = dict(os.environ)
    env.update(AWS_ENV)
    cmd = ["aws", "--endpoint-url", srv.endpoint, "--output", "json"] + list(args)
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, input=input, timeout=120)
    if not check:
        return p.returncode, p.stdout, p.stderr
    if p.returncode != 0:
        raise AssertionError("aws %s failed (%d): %s" % (" ".join(args), p.returncode, p.stderr.strip()))
    return json.loads(p.stdout) if p.stdout.strip() else None


def boto3_client(srv, service="stepfunctions"):
    import boto3
    from botocore.config import Config
    return boto3.client(service, endpoint_url=srv.endpoint, region_name="us-east-1",
                        aws_access_key_id="testing", aws_secret_access_key="testing",
                        config=Config(retries={"max_attempts": 1}))


def raw(srv, op, body, target_prefix="AWSStepFunctions", headers=None, method="POST", path="/"):
    """Sends one request as bytes; returns (status, parsed JSON or raw text,
    headers dict with lowercase names). op None: no X-Amz-Target."""
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    h = {"Content-Type": "application/x-amz-json-1.0"}
    if op is not None:
        h["X-Amz-Target"] = "%s.%s" % (target_prefix, op)
    h.update(headers or {})
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    c.request(method, path, body=body, headers=h)
    r = c.getresponse()
    data = r.read()
    hdrs = {k.lower(): v for k, v in r.getheaders()}
    c.close()
    try:
        parsed = json.loads(data) if data else None
    except ValueError:
        parsed = data.decode("utf-8", "replace")
    return r.status, parsed, hdrs


def call(srv, op, body):
    """A JSON 1.0 call that must succeed: returns the parsed answer."""
    status, out, _ = raw(srv, op, body)
    if status != 200:
        raise AssertionError("%s -> %d %s" % (op, status, out))
    return out


def wait_done(srv, arn, timeout=30):
    """Polls DescribeExecution until the execution leaves RUNNING."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        d = call(srv, "DescribeExecution", {"executionArn": arn})
        if d["status"] != "RUNNING":
            return d
        time.sleep(0.02)
    raise AssertionError("execution %s still RUNNING after %ds" % (arn, timeout))


# ---- DynamoDB suites (test_ddb_*.py) ----------------------------------------

DDB_PREFIX = "DynamoDB_20120810"


class ExternalEndpoint:
    """A DynamoDB-compatible server someone else runs on 127.0.0.1, named by
    STEPD_DDB_ENDPOINT=http://127.0.0.1:PORT (e.g. `moto_server -p PORT`):
    how the DynamoDB suites are checked against a reference by hand. On
    entry every table is deleted, so each test starts from an empty
    server, as it does with a fresh `stepd serve`."""

    def __init__(self, url):
        host, _, port = url.split("://", 1)[-1].rstrip("/").rpartition(":")
        assert host in ("127.0.0.1", "localhost"), "STEPD_DDB_ENDPOINT must be on 127.0.0.1: %s" % url
        self.port = int(port)
        self.log_path = os.devnull

    @property
    def endpoint(self):
        return "http://127.0.0.1:%d" % self.port

    def log(self):
        return ""

    def alive(self):
        return True

    def __enter__(self):
        ddb = boto3_client(self, "dynamodb")
        for name in ddb.list_tables()["TableNames"]:
            ddb.delete_table(TableName=name)
        return self

    def __exit__(self, exc_type, exc, tb):
        return False


def ddb_server(ctx):
    """The server a DynamoDB test talks to: a fresh `stepd serve` (the
    default, and CI's), or STEPD_DDB_ENDPOINT's server when set."""
    url = os.environ.get("STEPD_DDB_ENDPOINT")
    return ExternalEndpoint(url) if url else Server(ctx.stepd)


DDB_AUTH = {  # an unchecked signature naming the service, as clients send (moto routes on it)
    "Authorization": "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/dynamodb/aws4_request, "
                     "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=" + "0" * 64,
    "X-Amz-Date": "20260101T000000Z",
}


def ddb_raw(srv, op, body, headers=None):
    """raw() with DynamoDB's X-Amz-Target prefix and an Authorization header."""
    h = dict(DDB_AUTH)
    h.update(headers or {})
    return raw(srv, op, body, target_prefix=DDB_PREFIX, headers=h)
