"""test_serve — the server's own promises beyond the API shapes: shutdown
answers the calls it parks, an answer is only given for what was
committed, and a restart carries running executions on."""
import json
import sqlite3
import threading
import time

from harness import Server, call, raw, wait_done
from machines import token_of

ROLE = "arn:aws:iam::123456789012:role/r"
CALLBACK = {"StartAt": "T", "States": {"T": {
    "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
    "Parameters": {"QueueUrl": "q", "MessageBody": {"token.$": "$$.Task.Token"}}, "End": True}}}


def test_shutdown_answers_waiting_sync_calls(ctx):
    """SIGTERM while StartSyncExecution calls wait: each gets a 503 in AWS's
    error shape, none a dropped connection, and the server exits 0."""
    srv = Server(ctx.stepd).start()
    try:
        d = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 30, "End": True}}}
        m = call(srv, "CreateStateMachine", {"name": "slow", "definition": json.dumps(d),
                                             "roleArn": ROLE, "type": "EXPRESS"})["stateMachineArn"]
        got = []

        def waiter():
            try:
                status, body, _ = raw(srv, "StartSyncExecution", {"stateMachineArn": m})
                got.append((status, body.get("__type") if isinstance(body, dict) else body))
            except Exception as e:  # a dropped connection is the failure we look for
                got.append(repr(e))

        threads = [threading.Thread(target=waiter) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        assert srv.stop() == 0
        for t in threads:
            t.join(10)
        assert got == [(503, "ServiceUnavailable")] * 4, got
    finally:
        srv.kill()


def test_callback_is_answered_only_once_committed(ctx):
    """While another process holds the database's write lock past the busy
    timeout, SendTaskSuccess cannot be stored: it gets a 500, not a 200,
    and the task still waits; once the lock is gone the same callback
    goes through and the execution ends with its output."""
    with Server(ctx.stepd) as srv:
        m = call(srv, "CreateStateMachine", {"name": "cb", "definition": json.dumps(CALLBACK),
                                             "roleArn": ROLE})["stateMachineArn"]
        arn = call(srv, "StartExecution", {"stateMachineArn": m, "name": "e"})["executionArn"]
        token = token_of(srv, arn)
        db = sqlite3.connect(srv.store, timeout=30, isolation_level=None)
        db.execute("BEGIN IMMEDIATE")
        try:
            status, body, _ = raw(srv, "SendTaskSuccess", {"taskToken": token, "output": '{"ok":1}'})
        finally:
            db.execute("ROLLBACK")
            db.close()
        assert status == 500, (status, body)
        assert call(srv, "DescribeExecution", {"executionArn": arn})["status"] == "RUNNING"
        call(srv, "SendTaskSuccess", {"taskToken": token, "output": '{"ok":1}'})
        d = wait_done(srv, arn)
        assert d["status"] == "SUCCEEDED" and json.loads(d["output"]) == {"ok": 1}, d


def test_restart_continues_waiting_execution(ctx):
    """A callback task and a Wait survive a clean restart: the token still
    works and the Wait still ends at its time."""
    srv = Server(ctx.stepd).start()
    try:
        m = call(srv, "CreateStateMachine", {"name": "cb", "definition": json.dumps(CALLBACK),
                                             "roleArn": ROLE})["stateMachineArn"]
        w = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "End": True}}}
        mw = call(srv, "CreateStateMachine", {"name": "w", "definition": json.dumps(w),
                                              "roleArn": ROLE})["stateMachineArn"]
        a = call(srv, "StartExecution", {"stateMachineArn": m, "name": "a", "input": '{"x":1}'})["executionArn"]
        b = call(srv, "StartExecution", {"stateMachineArn": mw, "name": "b"})["executionArn"]
        token = token_of(srv, a)
        assert srv.stop() == 0
        srv.start()
        call(srv, "SendTaskSuccess", {"taskToken": token, "output": '{"done":true}'})
        assert json.loads(wait_done(srv, a)["output"]) == {"done": True}
        d = wait_done(srv, b)
        assert d["status"] == "SUCCEEDED" and d["stopDate"] - d["startDate"] >= 0.99, d
        assert srv.stop() == 0
    finally:
        srv.kill()


def test_many_clients_each_with_a_start_in_flight(ctx):
    """150 keep-alive clients, each with a StartExecution in flight at all
    times (every answer waits for a group commit), make 20 each: all 3,000
    are answered 200 promptly (no connection left parked) and all 3,000
    executions are stored. (The epoll stall that made the server use poll
    needs 128 ready connections at one instant, which wrk produces and
    Python threads do not: `make bench`'s serve-start covers that.)"""
    import http.client
    with Server(ctx.stepd) as srv:
        w = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3600, "End": True}}}
        m = call(srv, "CreateStateMachine", {"name": "w", "definition": json.dumps(w),
                                             "roleArn": ROLE})["stateMachineArn"]
        body = json.dumps({"stateMachineArn": m})
        bad, slow = [], []

        def client():
            c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=20)
            for _ in range(20):
                t = time.time()
                c.request("POST", "/", body, {"X-Amz-Target": "AWSStepFunctions.StartExecution",
                                              "Content-Type": "application/x-amz-json-1.0"})
                r = c.getresponse()
                r.read()
                if r.status != 200:
                    bad.append(r.status)
                if time.time() - t > 5:
                    slow.append(time.time() - t)
            c.close()

        threads = [threading.Thread(target=client) for _ in range(150)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not bad and not slow, (bad[:5], slow[:5])
        n, token = 0, None
        while True:
            req = {"stateMachineArn": m, "maxResults": 1000}
            if token:
                req["nextToken"] = token
            page = call(srv, "ListExecutions", req)
            n += len(page["executions"])
            token = page.get("nextToken")
            if not token:
                break
        assert n == 3000, n


def test_serve_refuses_bad_options_clearly(ctx):
    """Mistakes at start get a message naming what is wrong and a non-zero
    exit, never a server half up: a malformed --listen (usage, 2), a store
    that cannot be created or is not a database (1), a port already taken
    (1)."""
    import subprocess
    import tempfile

    def serve(*args):
        p = subprocess.run([ctx.stepd, "serve"] + list(args), capture_output=True, text=True, timeout=20)
        return p.returncode, p.stderr

    rc, err = serve("--listen", "nonsense")
    assert rc == 2 and "--listen" in err and "nonsense" in err, (rc, err)
    rc, err = serve("--listen", "127.0.0.1:0", "--store", "/proc/nope/state.db")
    assert rc == 1 and "/proc/nope/state.db" in err, (rc, err)
    with tempfile.NamedTemporaryFile(suffix=".db") as f:
        f.write(b"this is not a database, it is a file of plain text that says so" * 4)
        f.flush()
        rc, err = serve("--listen", "127.0.0.1:0", "--store", f.name)
        assert rc == 1 and f.name in err, (rc, err)
    with Server(ctx.stepd) as srv:
        rc, err = serve("--listen", "127.0.0.1:%d" % srv.port, "--store", ":memory:")
        assert rc == 1 and "cannot listen" in err and str(srv.port) in err, (rc, err)
        call(srv, "ListStateMachines", {})  # the first server is unharmed


def test_evicted_executions_wake_for_timers_callbacks_and_stops(ctx):
    """With --max-loaded 1 nearly every waiting execution is evicted to its
    snapshot after each step, so Waits that fire, callbacks, heartbeats,
    task timeouts and stops all find it restored from the store: each
    still ends as it should, with a contiguous history."""
    defn = {"StartAt": "W", "States": {
        "W": {"Type": "Wait", "SecondsPath": "$.wait", "Next": "T"},
        "T": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
              "Parameters": {"QueueUrl": "q", "MessageBody": {"token.$": "$$.Task.Token", "n.$": "$.n"}},
              "HeartbeatSeconds": 5, "TimeoutSeconds": 6, "ResultPath": "$.reply", "Next": "P"},
        "P": {"Type": "Pass", "Parameters": {"n.$": "$.n", "got.$": "$.reply.v"}, "End": True}}}
    with Server(ctx.stepd, args=["--max-loaded", "1"]) as srv:
        m = call(srv, "CreateStateMachine", {"name": "ev", "definition": json.dumps(defn),
                                             "roleArn": ROLE})["stateMachineArn"]
        arns = [call(srv, "StartExecution", {"stateMachineArn": m, "name": "e%02d" % i,
                                             "input": json.dumps({"n": i, "wait": i % 2})})["executionArn"]
                for i in range(24)]
        # e00..e19 get their callback (with a heartbeat first), e20..e21 are
        # stopped while waiting, e22..e23 are left to time out (no heartbeat
        # within HeartbeatSeconds)
        for i in range(20):
            tok = token_of(srv, arns[i])
            call(srv, "SendTaskHeartbeat", {"taskToken": tok})
            call(srv, "SendTaskSuccess", {"taskToken": tok, "output": json.dumps({"v": i * 10})})
        for i in (20, 21):
            token_of(srv, arns[i])
            call(srv, "StopExecution", {"executionArn": arns[i], "error": "Stop", "cause": "test"})
        for i, arn in enumerate(arns):
            d = wait_done(srv, arn, timeout=30)
            if i < 20:
                assert d["status"] == "SUCCEEDED" and json.loads(d["output"]) == {"n": i, "got": i * 10}, d
            elif i < 22:
                assert d["status"] == "ABORTED" and d["error"] == "Stop", d
            else:
                assert d["status"] == "FAILED" and d["error"] == "States.HeartbeatTimeout", d
            events = call(srv, "GetExecutionHistory", {"executionArn": arn, "maxResults": 1000})["events"]
            assert [e["id"] for e in events] == list(range(1, len(events) + 1)), arn
            assert sum(e["type"].startswith("Execution") and e["type"] != "ExecutionStarted"
                       for e in events) == 1, arn
