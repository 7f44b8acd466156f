"""Requests no real client sends, and loads no single client makes: malformed
bodies, wrong member types, unknown operations, missing members, oversized
bodies, a thousand connections, stalled clients. Each must get an AWS-shaped
answer (`{"__type","message"}` plus x-amzn-RequestId) or at least leave the
server serving, with its stored machines and executions intact."""
import json
import resource
import select
import socket
import time

from harness import Server, boto3_client, call, raw, wait_done

ROLE = "arn:aws:iam::123456789012:role/StepFunctionsRole"
SM_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:"
EXEC_ARN = "arn:aws:states:us-east-1:123456789012:execution:"
PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
CALLBACK = {"StartAt": "T", "States": {"T": {
    "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
    "Parameters": {"QueueUrl": "q", "MessageBody": {"token.$": "$$.Task.Token"}}, "End": True}}}
MIB = 1024 * 1024


# ---- raw HTTP over a socket -------------------------------------------------

def connect(srv, timeout=10):
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def head(srv, op, length, extra=""):
    """The request line and headers of a JSON 1.0 call, as bytes."""
    return ("POST / HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
            "Content-Type: application/x-amz-json-1.0\r\n"
            "X-Amz-Target: AWSStepFunctions.%s\r\nContent-Length: %d\r\n%s\r\n"
            % (srv.port, op, length, extra)).encode()


def request(srv, op, body=b"{}"):
    return head(srv, op, len(body)) + body


def read_response(sock, timeout=10):
    """Reads one HTTP response: (status, headers with lowercase names, body
    bytes). Raises on timeout or a connection closed before the end."""
    deadline = time.time() + timeout
    buf = b""

    def more():
        nonlocal buf
        left = deadline - time.time()
        if left <= 0:
            raise AssertionError("no complete response within %ss (have %r)" % (timeout, buf[:200]))
        sock.settimeout(left)
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("connection closed (have %r)" % buf[:200])
        buf += chunk

    while b"\r\n\r\n" not in buf:
        more()
    hdr, buf = buf.split(b"\r\n\r\n", 1)
    lines = hdr.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for ln in lines[1:]:
        k, _, v = ln.partition(":")
        headers[k.strip().lower()] = v.strip()
    if "content-length" in headers:
        n = int(headers["content-length"])
        while len(buf) < n:
            more()
        return status, headers, buf[:n]
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = b""
        while True:
            while b"\r\n" not in buf:
                more()
            size_line, buf = buf.split(b"\r\n", 1)
            size = int(size_line.split(b";")[0], 16)
            while len(buf) < size + 2:
                more()
            body, buf = body + buf[:size], buf[size + 2:]
            if size == 0:
                return status, headers, body
    while True:  # delimited by close
        try:
            more()
        except ConnectionError:
            return status, headers, buf


def aws_error(status, body, headers, code=None, statuses=(400,)):
    """Checks an AWS JSON error answer; returns the error code (the part of
    __type after '#', as botocore reads it)."""
    assert status in statuses, "status %d, want %s: %r" % (status, statuses, body)
    if isinstance(body, (bytes, bytearray)):
        body = json.loads(body)
    assert isinstance(body, dict) and isinstance(body.get("__type"), str), body
    got = body["__type"].rsplit("#", 1)[-1]
    msg = body.get("message", body.get("Message"))
    assert isinstance(msg, str) and msg, body
    assert headers.get("x-amzn-requestid"), headers
    assert headers.get("content-type", "").startswith("application/x-amz-json-1.0"), headers
    if code is not None:
        want = (code,) if isinstance(code, str) else tuple(code)
        assert got in want, "__type %s, want %s: %r" % (got, want, body)
    return got


def serves(srv):
    status, out, hdrs = raw(srv, "ListStateMachines", "{}")
    assert status == 200 and isinstance(out.get("stateMachines"), list), (status, out)
    assert hdrs.get("x-amzn-requestid"), hdrs
    return out["stateMachines"]


# ---- tests ------------------------------------------------------------------

def test_badreq_malformed_json(ctx):
    """A body that is not a JSON object: 400 SerializationException."""
    with Server(ctx.stepd) as srv:
        for body in ('{"name": ', "{bad", '{"a": 1}}', "[1, 2]", '"text"', "\xff\xfe"):
            status, out, hdrs = raw(srv, "ListStateMachines", body.encode("latin-1"))
            aws_error(status, out, hdrs, "SerializationException")
        status, out, hdrs = raw(srv, "CreateStateMachine", '{"name": "x", "definition": ')
        aws_error(status, out, hdrs, "SerializationException")
        assert serves(srv) == []


def test_badreq_wrong_member_types(ctx):
    """Members of the wrong JSON type: 400 SerializationException (or
    ValidationException), never a 500 or a success."""
    with Server(ctx.stepd) as srv:
        sm = call(srv, "CreateStateMachine", {"name": "M", "definition": json.dumps(PASS), "roleArn": ROLE})
        arn = sm["stateMachineArn"]
        bad = [
            ("CreateStateMachine", {"name": 5, "definition": json.dumps(PASS), "roleArn": ROLE}),
            ("CreateStateMachine", {"name": "N", "definition": PASS, "roleArn": ROLE}),
            ("ListStateMachines", {"maxResults": "ten"}),
            ("StartExecution", {"stateMachineArn": arn, "input": {"a": 1}}),
            ("StartExecution", {"stateMachineArn": [arn]}),
            ("GetExecutionHistory", {"executionArn": EXEC_ARN + "M:e", "reverseOrder": "yes"}),
            ("DescribeStateMachine", {"stateMachineArn": {"arn": arn}}),
        ]
        for op, body in bad:
            status, out, hdrs = raw(srv, op, body)
            aws_error(status, out, hdrs, ("SerializationException", "ValidationException"))
        # out of the modeled range (PageSize: 0..1000)
        for n in (1001, -1):
            status, out, hdrs = raw(srv, "ListStateMachines", {"maxResults": n})
            aws_error(status, out, hdrs, "ValidationException")
        assert [m["name"] for m in serves(srv)] == ["M"]
        assert call(srv, "ListExecutions", {"stateMachineArn": arn})["executions"] == []


def test_badreq_unknown_operation(ctx):
    """An X-Amz-Target naming no operation: UnknownOperationException (AWS's
    Common Errors page documents 404; Coral services answer 400)."""
    with Server(ctx.stepd) as srv:
        for op, prefix in (("NoSuchOperation", "AWSStepFunctions"), ("listStateMachines", "AWSStepFunctions"),
                           ("ListStateMachines", "NoSuchService_20200101")):
            status, out, hdrs = raw(srv, op, "{}", target_prefix=prefix)
            aws_error(status, out, hdrs, "UnknownOperationException", statuses=(400, 404))
        serves(srv)


def test_badreq_missing_required_members(ctx):
    """A required member left out: 400 ValidationException naming it."""
    with Server(ctx.stepd) as srv:
        cases = [
            ("StartExecution", {}, "stateMachineArn"),
            ("CreateStateMachine", {"name": "x", "roleArn": ROLE}, "definition"),
            ("CreateStateMachine", {"definition": json.dumps(PASS), "roleArn": ROLE}, "name"),
            ("DescribeStateMachine", {}, "stateMachineArn"),
            ("DescribeExecution", {}, "executionArn"),
            ("GetExecutionHistory", {}, "executionArn"),
            ("StopExecution", {}, "executionArn"),
            ("SendTaskSuccess", {"taskToken": "t"}, "output"),
            ("SendTaskFailure", {}, "taskToken"),
            ("ValidateStateMachineDefinition", {}, "definition"),
        ]
        for op, body, member in cases:
            status, out, hdrs = raw(srv, op, body)
            aws_error(status, out, hdrs, "ValidationException")
            assert "'%s'" % member in out["message"] or member in out["message"], (op, out)
        assert serves(srv) == []


def test_badreq_body_over_1mib(ctx):
    """A body over 1 MiB is refused with 413 and an AWS error as soon as the
    headers announce it: the client never sends the rest."""
    with Server(ctx.stepd) as srv:
        for length in (MIB + 1, 64 * MIB):
            s = connect(srv)
            try:
                s.sendall(head(srv, "StartExecution", length) + b'{"input": "' + b"x" * 65536)
                t0 = time.time()
                status, hdrs, body = read_response(s, timeout=5)
                assert time.time() - t0 < 5
                # and then it hangs up rather than drain the rest of the body
                s.settimeout(3)
                try:
                    rest = s.recv(65536)
                except ConnectionResetError:
                    rest = b""
                assert rest == b"", "connection still open after 413: %r" % rest[:100]
            finally:
                s.close()
            aws_error(status, body, hdrs, "RequestEntityTooLargeException", statuses=(413,))
        # a big body under the limit is still read and answered
        body = b"{" + b" " * (512 * 1024) + b"}"
        status, out, hdrs = raw(srv, "ListStateMachines", body)
        assert status == 200, (status, out)
        serves(srv)


def test_badreq_thousand_connections(ctx):
    """1,000 connections open at once; then each sends ListStateMachines and
    gets its 200 (and a second call on some of them: keep-alive)."""
    n = 1000
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 2 * n + 256
    if soft < want:
        if hard != resource.RLIM_INFINITY and hard < want:
            raise AssertionError("RLIMIT_NOFILE hard limit %d < %d" % (hard, want))
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
    socks = []
    try:
        with Server(ctx.stepd) as srv:  # started after the raise: it inherits the limit
            call(srv, "CreateStateMachine", {"name": "M", "definition": json.dumps(PASS), "roleArn": ROLE})
            t0 = time.time()
            for _ in range(n):
                socks.append(connect(srv, timeout=20))
            req = request(srv, "ListStateMachines")
            for s in socks:
                s.sendall(req)
            ids = set()
            for s in socks:
                status, hdrs, body = read_response(s, timeout=max(1, 30 - (time.time() - t0)))
                assert status == 200, (status, body[:200])
                assert [m["name"] for m in json.loads(body)["stateMachines"]] == ["M"], body[:200]
                ids.add(hdrs.get("x-amzn-requestid"))
            assert None not in ids and len(ids) == n, "request ids: %d distinct of %d" % (len(ids), n)
            for s in socks[::10]:
                s.sendall(req)
            for s in socks[::10]:
                status, _, body = read_response(s, timeout=10)
                assert status == 200, (status, body[:200])
            took = time.time() - t0
            assert took < 30, "1,000 connections took %.1fs" % took
            for s in socks:
                s.close()
            socks = []
            serves(srv)
    finally:
        for s in socks:
            s.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_badreq_stalled_clients(ctx):
    """Clients that send half a request and stall do not hold up others."""
    with Server(ctx.stepd) as srv:
        stalled = []
        try:
            for i in range(50):
                s = connect(srv)
                if i % 2:
                    s.sendall(b"POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Amz-Tar")  # headers cut short
                else:
                    s.sendall(head(srv, "ListStateMachines", 100) + b'{"maxRes')  # body cut short
                stalled.append(s)
            time.sleep(0.2)
            sfn = boto3_client(srv)
            arn = sfn.create_state_machine(name="Live", definition=json.dumps(PASS), roleArn=ROLE)["stateMachineArn"]
            for i in range(20):
                t0 = time.time()
                ex = call(srv, "StartExecution", {"stateMachineArn": arn, "name": "e%d" % i})
                assert time.time() - t0 < 2, "a call took %.2fs beside stalled clients" % (time.time() - t0)
                assert wait_done(srv, ex["executionArn"], timeout=5)["status"] == "SUCCEEDED"
            assert len(sfn.list_executions(stateMachineArn=arn)["executions"]) == 20
            # the stalled ones got no answer yet: they never finished a request
            readable, _, _ = select.select(stalled, [], [], 0)
            for s in readable:
                try:
                    data = s.recv(65536)
                except OSError:
                    data = b""
                assert not data.startswith(b"HTTP/1.1 200"), data[:200]
        finally:
            for s in stalled:
                s.close()
        serves(srv)


def test_badreq_request_id_on_every_answer(ctx):
    """x-amzn-RequestId on successes and on every kind of error, distinct."""
    with Server(ctx.stepd) as srv:
        answers = [
            raw(srv, "ListStateMachines", "{}"),
            raw(srv, "CreateStateMachine", {"name": "M", "definition": json.dumps(PASS), "roleArn": ROLE}),
            raw(srv, "DescribeStateMachine", {"stateMachineArn": SM_ARN + "Nope"}),
            raw(srv, "DescribeStateMachine", {"stateMachineArn": "bad"}),
            raw(srv, "StartExecution", {}),
            raw(srv, "ListStateMachines", "{bad"),
            raw(srv, "NoSuchOperation", "{}"),
            raw(srv, "SendTaskSuccess", {"taskToken": "nope", "output": "{}"}),
        ]
        ids = []
        for status, out, hdrs in answers:
            rid = hdrs.get("x-amzn-requestid")
            assert rid, (status, out, hdrs)
            ids.append(rid)
        s = connect(srv)
        try:
            s.sendall(head(srv, "ListStateMachines", 2 * MIB))
            status, hdrs, _ = read_response(s, timeout=5)
        finally:
            s.close()
        assert status == 413 and hdrs.get("x-amzn-requestid"), (status, hdrs)
        ids.append(hdrs["x-amzn-requestid"])
        assert len(set(ids)) == len(ids), ids


def test_badreq_server_survives_abuse(ctx):
    """After garbage, cut connections, oversized bodies and headers, the
    server still serves, and what it stored before is intact (also across
    a restart on the same store)."""
    with Server(ctx.stepd) as srv:
        arn = call(srv, "CreateStateMachine", {"name": "Keep", "definition": json.dumps(PASS),
                                               "roleArn": ROLE})["stateMachineArn"]
        done = call(srv, "StartExecution", {"stateMachineArn": arn, "name": "done", "input": '{"v": 1}'})["executionArn"]
        assert wait_done(srv, done)["status"] == "SUCCEEDED"
        cb = call(srv, "CreateStateMachine", {"name": "Cb", "definition": json.dumps(CALLBACK),
                                              "roleArn": ROLE})["stateMachineArn"]
        waiting = call(srv, "StartExecution", {"stateMachineArn": cb, "name": "w"})["executionArn"]
        before = {
            "machines": sorted(m["stateMachineArn"] for m in serves(srv)),
            "done": call(srv, "DescribeExecution", {"executionArn": done}),
            "history": call(srv, "GetExecutionHistory", {"executionArn": done})["events"],
        }

        def abuse(data, linger_reset=False):
            s = connect(srv)
            try:
                s.sendall(data)
                if linger_reset:  # close with RST instead of FIN
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                else:
                    s.settimeout(1)
                    try:
                        s.recv(65536)
                    except OSError:
                        pass
            finally:
                s.close()

        abuse(b"\x00\xff\x10garbage that is not HTTP\r\n\r\n")
        abuse(b"GET / HTTP/9.9\r\n\r\n")
        abuse(b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: AWSStepFunctions.ListStateMachines\r\n"
              b"Content-Length: -5\r\n\r\n")
        abuse(b"POST / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (256 * 1024) + b"\r\n\r\n")
        abuse(head(srv, "StartExecution", 500) + b'{"stateMachineArn": "', linger_reset=True)
        abuse(head(srv, "DeleteStateMachine", 3 * MIB) + b"{" * 4096)
        abuse(request(srv, "DeleteStateMachine", json.dumps({"stateMachineArn": arn}).encode())[:-3],
              linger_reset=True)
        for body in ("{bad", "[]", '{"stateMachineArn": 7}'):
            raw(srv, "DeleteStateMachine", body)

        def intact():
            assert sorted(m["stateMachineArn"] for m in serves(srv)) == before["machines"]
            assert call(srv, "DescribeExecution", {"executionArn": done}) == before["done"]
            assert call(srv, "GetExecutionHistory", {"executionArn": done})["events"] == before["history"]
            assert call(srv, "DescribeExecution", {"executionArn": waiting})["status"] == "RUNNING"

        intact()
        srv.stop()
        srv.start()
        intact()
        ev = call(srv, "GetExecutionHistory", {"executionArn": waiting})["events"]
        tok = [json.loads(e["taskScheduledEventDetails"]["parameters"])["MessageBody"]["token"]
               for e in ev if e["type"] == "TaskScheduled"][0]
        call(srv, "SendTaskSuccess", {"taskToken": tok, "output": '{"after": "abuse"}'})
        d = wait_done(srv, waiting)
        assert d["status"] == "SUCCEEDED" and json.loads(d["output"]) == {"after": "abuse"}, d
