"""The `stepd` client commands (create-state-machine, start-execution,
describe-execution, history, list-executions, stop-execution,
send-task-success, send-task-failure) run as a user runs them, against a
real `stepd serve`: what they print on stdout and stderr, and their exit
status (0 done, 1 the server said no or is not there, 2 bad usage). What
they print is compared with what the API itself answers (raw JSON 1.0
calls), as values."""
import json
import os
import pty
import re
import select
import socket
import subprocess
import tempfile
import time

from harness import Server, call, raw, wait_done

SM_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:"
EXEC_ARN = "arn:aws:states:us-east-1:123456789012:execution:"
ROLE = "arn:aws:iam::123456789012:role/stepd"
ISO_RE = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"

COMMANDS = ["create-state-machine", "start-execution", "describe-execution", "history",
            "list-executions", "stop-execution", "send-task-success", "send-task-failure"]

GREET = {"StartAt": "Greet", "States": {
    "Greet": {"Type": "Pass", "Parameters": {"greeting.$": "States.Format('hello {}', $.who)"},
              "Next": "Done"},
    "Done": {"Type": "Succeed"}}}
CHAIN = {"StartAt": "A", "States": {
    "A": {"Type": "Pass", "Next": "B"},
    "B": {"Type": "Pass", "Next": "C"},
    "C": {"Type": "Pass", "Next": "D"},
    "D": {"Type": "Pass", "End": True}}}
FAIL = {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "MyErr", "Cause": "it broke"}}}
MAYBE_FAIL = {"StartAt": "Check", "States": {
    "Check": {"Type": "Choice", "Choices": [{"And": [{"Variable": "$.fail", "IsPresent": True},
                                                     {"Variable": "$.fail", "BooleanEquals": True}],
                                             "Next": "No"}],
              "Default": "Yes"},
    "Yes": {"Type": "Succeed"},
    "No": {"Type": "Fail", "Error": "Nope", "Cause": "asked to fail"}}}
WAIT_LONG = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 600, "End": True}}}
CALLBACK = {"StartAt": "T", "States": {"T": {
    "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
    "Parameters": {"QueueUrl": "q", "MessageBody": {"token.$": "$$.Task.Token"}}, "End": True}}}


# ---- helpers ----------------------------------------------------------------

def stepd(ctx, srv, *args, env=None, input=None, timeout=60):
    """Runs `stepd ARGS --endpoint SRV` (no --endpoint when srv is None);
    returns the CompletedProcess (text)."""
    cmd = [ctx.stepd] + list(args)
    if srv is not None:
        cmd += ["--endpoint", srv.endpoint]
    e = dict(os.environ)
    e.pop("STEPD_ENDPOINT", None)
    e.update(env or {})
    return subprocess.run(cmd, capture_output=True, text=True, env=e, input=input, timeout=timeout)


def ok(p):
    """The JSON a command that must succeed printed."""
    assert p.returncode == 0, "rc %d, stderr: %s" % (p.returncode, p.stderr)
    return json.loads(p.stdout)


def failed(p, code):
    """A command that the server refused with the AWS error `code`: exit 1,
    `stepd: CODE: message` on stderr, nothing on stdout."""
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    assert p.stdout == "", p.stdout
    assert p.stderr.startswith("stepd: %s: " % code), p.stderr
    return p.stderr


def usage_error(p, *needles):
    assert p.returncode == 2, (p.returncode, p.stdout, p.stderr)
    assert p.stdout == "", p.stdout
    for n in needles:
        assert n in p.stderr, (n, p.stderr)
    assert "usage: stepd " in p.stderr, p.stderr


def write(tmp, name, value):
    path = os.path.join(tmp, name)
    with open(path, "w") as f:
        f.write(value if isinstance(value, str) else json.dumps(value))
    return path


def closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def table_rows(text):
    """A --table's lines split on runs of two or more spaces."""
    return [re.split(r"\s{2,}", line.strip()) for line in text.splitlines() if line.strip()]


def create(ctx, srv, tmp, name, definition, *extra):
    out = ok(stepd(ctx, srv, "create-state-machine", "--name", name,
                   "--definition", write(tmp, name + ".json", definition), *extra))
    return out["stateMachineArn"]


def raw_history(srv, arn, **kw):
    events, token = [], None
    while True:
        body = dict(kw, executionArn=arn)
        if token:
            body["nextToken"] = token
        page = call(srv, "GetExecutionHistory", body)
        events += page["events"]
        token = page.get("nextToken")
        if not token:
            return events


# ---- without a server -------------------------------------------------------

def test_cli_help_and_usage_errors(ctx):
    """--help prints each command's usage on stdout (exit 0); bad usage exits
    2 with a message and the usage on stderr, before any request is sent
    (the endpoint here has nothing listening: a request would exit 1)."""
    top = subprocess.run([ctx.stepd, "--help"], capture_output=True, text=True)
    assert top.returncode == 0, top
    for c in COMMANDS:
        assert c in top.stdout, (c, top.stdout)
        p = subprocess.run([ctx.stepd, c, "--help"], capture_output=True, text=True)
        assert p.returncode == 0 and p.stderr == "", (c, p)
        assert p.stdout.startswith("usage: stepd %s" % c), p.stdout
        assert "--endpoint URL" in p.stdout and "--table" in p.stdout, p.stdout

    end = ["--endpoint", "http://127.0.0.1:%d" % closed_port()]
    run = lambda c, *a: subprocess.run([ctx.stepd, c] + end + list(a), capture_output=True, text=True)
    usage_error(run("create-state-machine", "--name", "x"), "--definition")
    usage_error(run("create-state-machine", "--name", "x", "--definition", "/nonexistent/def.json"),
                "/nonexistent/def.json")
    with tempfile.TemporaryDirectory() as tmp:
        d = write(tmp, "d.json", CHAIN)
        usage_error(run("create-state-machine", "--name", "x", "--definition", d, "--type", "FAST"),
                    "STANDARD or EXPRESS")
        bad = write(tmp, "bad.json", "{not json")
        usage_error(run("start-execution", "--state-machine", "x", "--input", bad), bad, "not JSON")
    usage_error(run("start-execution"), "--state-machine")
    usage_error(run("start-execution", "--state-machine", "x", "--input", "{oops"),
                "neither a file nor JSON")
    usage_error(run("start-execution", "--state-machine", "x", "stray"), "unexpected argument 'stray'")
    usage_error(run("describe-execution"), "EXECUTION_ARN is required")
    usage_error(run("describe-execution", "a", "b"), "takes one EXECUTION_ARN")
    usage_error(run("history", "arn:x", "--bogus"), "unknown option '--bogus'")
    usage_error(run("history", "arn:x", "--max-results", "many"), "--max-results")
    usage_error(run("history", "arn:x", "--max-results"), "--max-results needs a value")
    usage_error(run("list-executions", "--state-machine", "x", "--status", "DONE"), "--status")
    usage_error(run("stop-execution"), "EXECUTION_ARN")
    usage_error(run("send-task-success", "--token", "t"), "--output")
    usage_error(run("send-task-success", "--token", "t", "--output", "nope{"), "neither a file nor JSON")
    usage_error(run("send-task-failure", "--error", "E"), "--token")
    # an option of another command
    usage_error(run("describe-execution", "arn:x", "--wait"), "unknown option '--wait'")


def test_cli_cannot_connect(ctx):
    """Nothing listening: exit 1 and a message naming the endpoint, from
    --endpoint, else $STEPD_ENDPOINT."""
    port = closed_port()
    url = "http://127.0.0.1:%d" % port
    p = subprocess.run([ctx.stepd, "describe-execution", EXEC_ARN + "m:e", "--endpoint", url],
                       capture_output=True, text=True)
    assert p.returncode == 1 and p.stdout == "", p
    assert url in p.stderr and "stepd serve" in p.stderr, p.stderr
    assert p.stderr.count("\n") == 1, p.stderr

    env = dict(os.environ, STEPD_ENDPOINT=url)
    p = subprocess.run([ctx.stepd, "start-execution", "--state-machine", "Hello", "--wait"],
                       capture_output=True, text=True, env=env)
    assert p.returncode == 1 and url in p.stderr and "stepd serve" in p.stderr, p


# ---- against `stepd serve` --------------------------------------------------

def test_cli_create_start_describe(ctx):
    """create-state-machine prints the ARN; start-execution (by name or ARN,
    input as JSON text or a file) prints StartExecution's answer, with --wait
    the execution's end; describe-execution prints DescribeExecution's answer
    exactly; $STEPD_ENDPOINT works in place of --endpoint."""
    with Server(ctx.stepd) as srv, tempfile.TemporaryDirectory() as tmp:
        out = ok(stepd(ctx, srv, "create-state-machine", "--name", "Hello",
                       "--definition", write(tmp, "hello.asl.json", GREET)))
        assert out["stateMachineArn"] == SM_ARN + "Hello", out
        assert abs(out["creationDate"] - time.time()) < 600, out
        d = call(srv, "DescribeStateMachine", {"stateMachineArn": SM_ARN + "Hello"})
        assert json.loads(d["definition"]) == GREET and d["roleArn"] == ROLE and d["type"] == "STANDARD", d

        p = stepd(ctx, srv, "start-execution", "--state-machine", "Hello", "--name", "e1",
                  "--input", '{"who": "ann"}', "--wait")
        d = ok(p)
        assert p.stderr == "", p.stderr  # no progress lines when stderr is not a terminal
        assert d["status"] == "SUCCEEDED" and d["executionArn"] == EXEC_ARN + "Hello:e1", d
        assert json.loads(d["output"]) == {"greeting": "hello ann"}, d
        assert d == call(srv, "DescribeExecution", {"executionArn": d["executionArn"]}), d
        assert p.stdout.startswith('{\n  "'), p.stdout  # pretty-printed, two spaces

        inp = write(tmp, "input.json", {"who": "bob"})
        s = ok(stepd(ctx, srv, "start-execution", "--state-machine", SM_ARN + "Hello", "--input", inp))
        assert set(s) == {"executionArn", "startDate"}, s
        assert s["executionArn"].startswith(EXEC_ARN + "Hello:"), s
        wait_done(srv, s["executionArn"])
        d = ok(stepd(ctx, srv, "describe-execution", s["executionArn"]))
        assert d == call(srv, "DescribeExecution", {"executionArn": s["executionArn"]}), d
        assert json.loads(d["output"]) == {"greeting": "hello bob"}, d

        # --input from stdin, the endpoint from the environment
        p = stepd(ctx, None, "start-execution", "--state-machine", "Hello", "--input", "-", "--wait",
                  env={"STEPD_ENDPOINT": srv.endpoint}, input='{"who": "cy"}')
        assert json.loads(ok(p)["output"]) == {"greeting": "hello cy"}, p.stdout

        # the table: key, value; dates in ISO-8601 UTC
        p = stepd(ctx, srv, "describe-execution", EXEC_ARN + "Hello:e1", "--table")
        assert p.returncode == 0, p.stderr
        rows = {r[0]: r[1] for r in table_rows(p.stdout)}
        assert rows["status"] == "SUCCEEDED" and rows["name"] == "e1", rows
        assert rows["executionArn"] == EXEC_ARN + "Hello:e1", rows
        assert re.fullmatch(ISO_RE, rows["startDate"]) and re.fullmatch(ISO_RE, rows["stopDate"]), rows
        assert json.loads(rows["output"]) == {"greeting": "hello ann"}, rows


def test_cli_server_errors(ctx):
    """The server's AWS errors: `stepd: Code: message` on stderr, exit 1."""
    with Server(ctx.stepd) as srv, tempfile.TemporaryDirectory() as tmp:
        failed(stepd(ctx, srv, "describe-execution", EXEC_ARN + "Nope:x"), "ExecutionDoesNotExist")
        failed(stepd(ctx, srv, "history", EXEC_ARN + "Nope:x"), "ExecutionDoesNotExist")
        failed(stepd(ctx, srv, "stop-execution", EXEC_ARN + "Nope:x"), "ExecutionDoesNotExist")
        failed(stepd(ctx, srv, "start-execution", "--state-machine", "Nope"), "StateMachineDoesNotExist")
        failed(stepd(ctx, srv, "start-execution", "--state-machine", SM_ARN + "Nope"),
               "StateMachineDoesNotExist")
        failed(stepd(ctx, srv, "list-executions", "--state-machine", "Nope"), "StateMachineDoesNotExist")
        msg = failed(stepd(ctx, srv, "create-state-machine", "--name", "Bad",
                           "--definition", write(tmp, "bad.json", {"StartAt": "X", "States": {}})),
                     "InvalidDefinition")
        assert len(msg) > len("stepd: InvalidDefinition: \n"), msg
        create(ctx, srv, tmp, "Hello", GREET)
        ok(stepd(ctx, srv, "start-execution", "--state-machine", "Hello", "--name", "once",
                 "--input", '{"who": 1}', "--wait"))
        failed(stepd(ctx, srv, "start-execution", "--state-machine", "Hello", "--name", "once",
                     "--input", '{"who": 2}'), "ExecutionAlreadyExists")
        failed(stepd(ctx, srv, "send-task-success", "--token", "no-such-token", "--output", "{}"),
               "InvalidToken")


def test_cli_create_update(ctx):
    """A second create of the same name with another definition is
    StateMachineAlreadyExists; with --update the definition is replaced
    (the next execution runs it) and the ARN printed; --update cannot
    change the type; --update of a new name creates it."""
    v1 = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": "v1", "End": True}}}
    v2 = {"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": "v2", "End": True}}}
    with Server(ctx.stepd) as srv, tempfile.TemporaryDirectory() as tmp:
        arn = create(ctx, srv, tmp, "Ver", v1)
        d1 = write(tmp, "v1.json", v1)
        d2 = write(tmp, "v2.json", v2)
        # the same definition again: AWS's idempotent create
        assert ok(stepd(ctx, srv, "create-state-machine", "--name", "Ver", "--definition", d1))[
            "stateMachineArn"] == arn
        failed(stepd(ctx, srv, "create-state-machine", "--name", "Ver", "--definition", d2),
               "StateMachineAlreadyExists")
        d = ok(stepd(ctx, srv, "start-execution", "--state-machine", "Ver", "--wait"))
        assert json.loads(d["output"]) == "v1", d

        out = ok(stepd(ctx, srv, "create-state-machine", "--name", "Ver", "--definition", d2, "--update"))
        assert out["stateMachineArn"] == arn and "updateDate" in out, out
        got = call(srv, "DescribeStateMachine", {"stateMachineArn": arn})
        assert json.loads(got["definition"]) == v2, got
        d = ok(stepd(ctx, srv, "start-execution", "--state-machine", "Ver", "--wait"))
        assert json.loads(d["output"]) == "v2", d

        p = stepd(ctx, srv, "create-state-machine", "--name", "Ver", "--definition", d1, "--update",
                  "--type", "EXPRESS")
        assert p.returncode == 1 and "type" in p.stderr and p.stdout == "", p
        assert json.loads(call(srv, "DescribeStateMachine", {"stateMachineArn": arn})["definition"]) == v2

        out = ok(stepd(ctx, srv, "create-state-machine", "--name", "Fresh", "--definition", d1, "--update",
                       "--type", "EXPRESS", "--role-arn", "arn:aws:iam::123456789012:role/other"))
        assert out["stateMachineArn"] == SM_ARN + "Fresh", out
        got = call(srv, "DescribeStateMachine", {"stateMachineArn": SM_ARN + "Fresh"})
        assert got["type"] == "EXPRESS" and got["roleArn"] == "arn:aws:iam::123456789012:role/other", got

        p = stepd(ctx, srv, "create-state-machine", "--name", "Ver", "--definition", d1, "--update", "--table")
        assert p.returncode == 0, p.stderr
        rows = {r[0]: r[1] for r in table_rows(p.stdout)}
        assert rows["stateMachineArn"] == arn and re.fullmatch(ISO_RE, rows["updateDate"]), rows


def test_cli_wait_failed_execution(ctx):
    """--wait on an execution that fails: exit 1, DescribeExecution's answer
    with the error and cause."""
    with Server(ctx.stepd) as srv, tempfile.TemporaryDirectory() as tmp:
        create(ctx, srv, tmp, "Failing", FAIL)
        p = stepd(ctx, srv, "start-execution", "--state-machine", "Failing", "--name", "f1", "--wait")
        assert p.returncode == 1, (p.returncode, p.stderr)
        d = json.loads(p.stdout)
        assert d["status"] == "FAILED" and d["error"] == "MyErr" and d["cause"] == "it broke", d
        p = stepd(ctx, srv, "start-execution", "--state-machine", "Failing", "--wait", "--table")
        assert p.returncode == 1, p.stderr
        rows = {r[0]: r[1] for r in table_rows(p.stdout)}
        assert rows["status"] == "FAILED" and rows["error"] == "MyErr" and rows["cause"] == "it broke", rows


def test_cli_history(ctx):
    """history: every page as {"events": [...]} (a 122-event history is
    more than one default page), --reverse, --max-results (one page and its
    nextToken), --next-token, and the table (id, time, type, state)."""
    many = {"StartAt": "S0", "States": {}}
    for i in range(60):
        many["States"]["S%d" % i] = {"Type": "Pass", "Next": "S%d" % (i + 1)} if i < 59 else \
            {"Type": "Pass", "End": True}
    with Server(ctx.stepd) as srv, tempfile.TemporaryDirectory() as tmp:
        create(ctx, srv, tmp, "Chain", CHAIN)
        ex = ok(stepd(ctx, srv, "start-execution", "--state-machine", "Chain", "--name", "h",
                      "--input", '{"k": "v"}', "--wait"))["executionArn"]
        h = ok(stepd(ctx, srv, "history", ex))
        assert list(h) == ["events"], h
        assert h["events"] == raw_history(srv, ex), h
        types = [e["type"] for e in h["events"]]
        assert types == ["ExecutionStarted"] + ["PassStateEntered", "PassStateExited"] * 4 + \
            ["ExecutionSucceeded"], types

        rev = ok(stepd(ctx, srv, "history", ex, "--reverse"))["events"]
        assert [e["id"] for e in rev] == list(range(10, 0, -1)), rev

        page = ok(stepd(ctx, srv, "history", ex, "--max-results", "3"))
        assert [e["id"] for e in page["events"]] == [1, 2, 3] and page.get("nextToken"), page
        page2 = ok(stepd(ctx, srv, "history", ex, "--max-results", "3", "--next-token", page["nextToken"]))
        assert [e["id"] for e in page2["events"]] == [4, 5, 6], page2

        p = stepd(ctx, srv, "history", ex, "--table")
        assert p.returncode == 0, p.stderr
        rows = table_rows(p.stdout)
        assert rows[0] == ["ID", "TIMESTAMP", "TYPE", "STATE"], rows[0]
        assert len(rows) == 11, rows
        assert rows[1][0] == "1" and rows[1][2] == "ExecutionStarted" and rows[1][3] == "-", rows[1]
        assert rows[2][2:] == ["PassStateEntered", "A"] and rows[9][2:] == ["PassStateExited", "D"], rows
        assert all(re.fullmatch(ISO_RE, r[1]) for r in rows[1:]), rows

        p = stepd(ctx, srv, "history", ex, "--table", "--max-results", "2")
        lines = p.stdout.splitlines()
        assert len(lines) == 4 and re.fullmatch(r"nextToken: \S+", lines[-1]), lines

        create(ctx, srv, tmp, "Many", many)
        ex = ok(stepd(ctx, srv, "start-execution", "--state-machine", "Many", "--wait"))["executionArn"]
        h = ok(stepd(ctx, srv, "history", ex))["events"]
        assert [e["id"] for e in h] == list(range(1, 123)), [e["id"] for e in h]
        assert h == raw_history(srv, ex)
        rev = ok(stepd(ctx, srv, "history", ex, "--reverse"))["events"]
        assert [e["id"] for e in rev] == list(range(122, 0, -1)), [e["id"] for e in rev]


def test_cli_list_executions(ctx):
    """list-executions by name or ARN: every page (105 executions), the
    status filter, one page with --max-results, and the table."""
    with Server(ctx.stepd) as srv, tempfile.TemporaryDirectory() as tmp:
        arn = create(ctx, srv, tmp, "Maybe", MAYBE_FAIL)
        started = []
        for i in range(104):
            started.append(call(srv, "StartExecution", {"stateMachineArn": arn, "name": "ok%d" % i})[
                "executionArn"])
        p = stepd(ctx, srv, "start-execution", "--state-machine", "Maybe", "--name", "bad",
                  "--input", '{"fail": true}', "--wait")
        assert p.returncode == 1 and json.loads(p.stdout)["status"] == "FAILED", p
        for a in started:
            wait_done(srv, a)

        every = ok(stepd(ctx, srv, "list-executions", "--state-machine", "Maybe"))
        assert list(every) == ["executions"], list(every)
        names = [e["name"] for e in every["executions"]]
        assert sorted(names) == sorted(["ok%d" % i for i in range(104)] + ["bad"]), (len(names), names[:5])
        assert names[0] == "bad", names[:5]  # newest first
        assert all(e["status"] == "SUCCEEDED" for e in every["executions"][1:]), every["executions"][1]
        by_arn = ok(stepd(ctx, srv, "list-executions", "--state-machine", arn))
        assert by_arn == every

        f = ok(stepd(ctx, srv, "list-executions", "--state-machine", "Maybe", "--status", "FAILED"))
        got = [(e["name"], e["status"]) for e in f["executions"]]
        assert got == [("bad", "FAILED")], got[:5]
        assert ok(stepd(ctx, srv, "list-executions", "--state-machine", "Maybe",
                        "--status", "RUNNING")) == {"executions": []}

        one = ok(stepd(ctx, srv, "list-executions", "--state-machine", "Maybe", "--max-results", "2"))
        assert [e["name"] for e in one["executions"]] == names[:2] and one.get("nextToken"), one
        two = ok(stepd(ctx, srv, "list-executions", "--state-machine", "Maybe", "--max-results", "2",
                       "--next-token", one["nextToken"]))
        assert [e["name"] for e in two["executions"]] == names[2:4], two

        p = stepd(ctx, srv, "list-executions", "--state-machine", "Maybe", "--status", "FAILED", "--table")
        assert p.returncode == 0, p.stderr
        rows = table_rows(p.stdout)
        assert rows[0] == ["NAME", "STATUS", "START", "STOP", "ARN"], rows
        assert rows[1][:2] == ["bad", "FAILED"] and rows[1][4] == EXEC_ARN + "Maybe:bad", rows
        assert re.fullmatch(ISO_RE, rows[1][2]) and re.fullmatch(ISO_RE, rows[1][3]), rows
        assert len(rows) == 2, rows


def test_cli_stop_while_waiting(ctx):
    """stop-execution ends a RUNNING execution ABORTED with its error and
    cause; a `start-execution --wait` following it then exits 1 and prints
    the ABORTED execution."""
    with Server(ctx.stepd) as srv, tempfile.TemporaryDirectory() as tmp:
        create(ctx, srv, tmp, "Long", WAIT_LONG)
        ex = EXEC_ARN + "Long:s"
        waiter = subprocess.Popen([ctx.stepd, "start-execution", "--state-machine", "Long", "--name", "s",
                                   "--wait", "--endpoint", srv.endpoint],
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.time() + 10
            while raw(srv, "DescribeExecution", {"executionArn": ex})[0] != 200:
                assert time.time() < deadline, "the execution never started"
                time.sleep(0.02)
            time.sleep(0.2)
            assert waiter.poll() is None, "--wait returned while the execution runs"
            out = ok(stepd(ctx, srv, "stop-execution", ex, "--error", "Stopped.ByTest", "--cause", "enough"))
            assert abs(out["stopDate"] - time.time()) < 600, out
            so, se = waiter.communicate(timeout=10)
        finally:
            if waiter.poll() is None:
                waiter.kill()
                waiter.communicate()
        assert waiter.returncode == 1, (waiter.returncode, se)
        d = json.loads(so)
        assert d["status"] == "ABORTED" and d["executionArn"] == ex, d
        last = ok(stepd(ctx, srv, "history", ex, "--reverse"))["events"][0]
        assert last["type"] == "ExecutionAborted", last
        assert last["executionAbortedEventDetails"] == {"error": "Stopped.ByTest", "cause": "enough"}, last


def task_token(ctx, srv, ex, timeout=10):
    """The token of the waiting task, read with `stepd history`."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for e in ok(stepd(ctx, srv, "history", ex))["events"]:
            if e["type"] == "TaskScheduled":
                return json.loads(e["taskScheduledEventDetails"]["parameters"])["MessageBody"]["token"]
        time.sleep(0.05)
    raise AssertionError("no TaskScheduled event in %s" % ex)


def test_cli_task_callbacks(ctx):
    """send-task-success (output as JSON text or a file) completes a
    .waitForTaskToken task; send-task-failure fails it with error and cause;
    answering twice is TaskTimedOut."""
    with Server(ctx.stepd) as srv, tempfile.TemporaryDirectory() as tmp:
        create(ctx, srv, tmp, "Cb", CALLBACK)
        ex = ok(stepd(ctx, srv, "start-execution", "--state-machine", "Cb", "--name", "yes"))["executionArn"]
        tok = task_token(ctx, srv, ex)
        p = stepd(ctx, srv, "send-task-success", "--token", tok, "--output", '{"done": true}')
        assert ok(p) == {}, p.stdout
        d = wait_done(srv, ex)
        assert d["status"] == "SUCCEEDED" and json.loads(d["output"]) == {"done": True}, d
        failed(stepd(ctx, srv, "send-task-success", "--token", tok, "--output", "{}"), "TaskTimedOut")

        ex = ok(stepd(ctx, srv, "start-execution", "--state-machine", "Cb", "--name", "file"))["executionArn"]
        out = write(tmp, "out.json", [1, 2, {"three": 3}])
        ok(stepd(ctx, srv, "send-task-success", "--token", task_token(ctx, srv, ex), "--output", out))
        d = wait_done(srv, ex)
        assert json.loads(d["output"]) == [1, 2, {"three": 3}], d

        ex = ok(stepd(ctx, srv, "start-execution", "--state-machine", "Cb", "--name", "no"))["executionArn"]
        tok = task_token(ctx, srv, ex)
        assert ok(stepd(ctx, srv, "send-task-failure", "--token", tok, "--error", "Bad.Thing",
                        "--cause", "it went wrong")) == {}
        d = wait_done(srv, ex)
        assert d["status"] == "FAILED" and d["error"] == "Bad.Thing" and d["cause"] == "it went wrong", d
        failed(stepd(ctx, srv, "send-task-failure", "--token", tok), "TaskTimedOut")


def test_cli_wait_progress_on_terminal(ctx):
    """start-execution --wait with stderr on a terminal: one `→ State` line
    per state entered, in order; stdout still has only the JSON."""
    with Server(ctx.stepd) as srv, tempfile.TemporaryDirectory() as tmp:
        wait = {"StartAt": "First", "States": {
            "First": {"Type": "Pass", "Next": "Nap"},
            "Nap": {"Type": "Wait", "Seconds": 1, "Next": "Last"},
            "Last": {"Type": "Pass", "End": True}}}
        create(ctx, srv, tmp, "Steps", wait)
        create(ctx, srv, tmp, "Chain", CHAIN)
        for machine, states in (("Steps", ["First", "Nap", "Last"]), ("Chain", ["A", "B", "C", "D"])):
            master, slave = pty.openpty()
            try:
                p = subprocess.Popen([ctx.stepd, "start-execution", "--state-machine", machine, "--wait",
                                      "--endpoint", srv.endpoint],
                                     stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL)
                os.close(slave)
                slave = None
                err = b""
                deadline = time.time() + 30
                while time.time() < deadline:
                    r, _, _ = select.select([master], [], [], 0.5)
                    if not r:
                        if p.poll() is not None:
                            break
                        continue
                    try:
                        chunk = os.read(master, 4096)
                    except OSError:  # EIO: the child closed the terminal
                        break
                    if not chunk:
                        break
                    err += chunk
                out = p.stdout.read()
                p.wait(timeout=10)
            finally:
                os.close(master)
                if slave is not None:
                    os.close(slave)
            assert p.returncode == 0, (p.returncode, err)
            assert json.loads(out)["status"] == "SUCCEEDED", out
            lines = err.decode().replace("\r", "").splitlines()
            assert lines == ["\u2192 " + s for s in states], lines
