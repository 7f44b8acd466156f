"""boto3 against `stepd serve`: the calls a Python user makes, checked
against what AWS Step Functions answers (botocore's service model and the
Step Functions API reference; see /work/shared/reference/PROTOCOLS.md)."""
import datetime
import json
import re
import time

from botocore.config import Config
from botocore.exceptions import ClientError

from harness import Server, boto3_client, call
from machines import (EXEC_ARN, EXPRESS_ARN, FAIL, PASS, PASS_CHAIN, ROLE, SM_ARN, UUID_RE, WAIT1,
                      WAIT_LONG, callback_def)

# ---- helpers ----------------------------------------------------------------

def create(sfn, name, definition, type_="STANDARD"):
    return sfn.create_state_machine(name=name, definition=json.dumps(definition),
                                    roleArn=ROLE, type=type_)["stateMachineArn"]


def expect_error(code, fn, **kw):
    """Calls fn(**kw), which must fail with the AWS error `code` (HTTP 400)."""
    try:
        out = fn(**kw)
    except ClientError as e:
        got = e.response["Error"]["Code"]
        assert got == code, "expected %s, got %s: %s" % (code, got, e.response["Error"])
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400, e.response["ResponseMetadata"]
        return e
    raise AssertionError("expected %s, the call succeeded: %r" % (code, out))


def wait_status(sfn, arn, timeout=15):
    deadline = time.time() + timeout
    while time.time() < deadline:
        d = sfn.describe_execution(executionArn=arn)
        if d["status"] != "RUNNING":
            return d
        time.sleep(0.02)
    raise AssertionError("%s still RUNNING after %ds" % (arn, timeout))


def all_events(sfn, arn, **kw):
    events, token = [], None
    for _ in range(1000):
        args = dict(kw, executionArn=arn)
        if token:
            args["nextToken"] = token
        page = sfn.get_execution_history(**args)
        events += page["events"]
        token = page.get("nextToken")
        if not token:
            return events
    raise AssertionError("history paging never ended")


def wait_token(sfn, arn, timeout=10):
    """The task token the waitForTaskToken Task was given, read back from the
    TaskScheduled event's parameters (a JSON string)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for e in sfn.get_execution_history(executionArn=arn, maxResults=1000)["events"]:
            if e["type"] == "TaskScheduled":
                params = json.loads(e["taskScheduledEventDetails"]["parameters"])
                tok = params["MessageBody"]["token"]
                assert isinstance(tok, str) and tok, params
                return tok
        time.sleep(0.02)
    raise AssertionError("no TaskScheduled event in %s" % arn)


def is_dt(v):
    return isinstance(v, datetime.datetime) and v.tzinfo is not None \
        and abs(v.timestamp() - time.time()) < 3600


def modeled(sfn, shape, member):
    """Whether this botocore's model has the member (older ones, such as
    Debian's 1.29, predate revisionId and drop it from answers)."""
    try:
        return member in sfn.meta.service_model.shape_for(shape).members
    except Exception:
        return False


def details_of(e):
    return [v for k, v in e.items() if k.endswith("EventDetails")]


# ---- state machines ---------------------------------------------------------

def test_boto3_state_machine_lifecycle(ctx):
    """Create, Describe, List, Update (revisionId changes), Delete."""
    with Server(ctx.stepd) as srv:
        sfn = boto3_client(srv)
        out = sfn.create_state_machine(name="Life", definition=json.dumps(PASS), roleArn=ROLE)
        arn = out["stateMachineArn"]
        assert arn == SM_ARN + "Life", arn
        assert is_dt(out["creationDate"]), out
        assert out["ResponseMetadata"]["RequestId"], out["ResponseMetadata"]

        d = sfn.describe_state_machine(stateMachineArn=arn)
        assert d["stateMachineArn"] == arn and d["name"] == "Life", d
        assert json.loads(d["definition"]) == PASS, d["definition"]
        assert d["roleArn"] == ROLE and d["type"] == "STANDARD", d
        assert d["status"] == "ACTIVE", d
        assert is_dt(d["creationDate"]), d
        # "The first revision ID when you create the state machine is null."
        rev0 = d.get("revisionId")

        listed = sfn.list_state_machines()["stateMachines"]
        assert [m["stateMachineArn"] for m in listed] == [arn], listed
        assert listed[0]["name"] == "Life" and listed[0]["type"] == "STANDARD", listed
        assert is_dt(listed[0]["creationDate"]), listed

        u = sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(PASS_CHAIN))
        assert is_dt(u["updateDate"]), u
        d = sfn.describe_state_machine(stateMachineArn=arn)
        assert json.loads(d["definition"]) == PASS_CHAIN, d["definition"]
        if modeled(sfn, "UpdateStateMachineOutput", "revisionId"):
            rev1 = u.get("revisionId")
            assert isinstance(rev1, str) and rev1 and rev1 != rev0, (rev0, u)
            assert d.get("revisionId") == rev1, d
            u2 = sfn.update_state_machine(stateMachineArn=arn, definition=json.dumps(PASS))
            assert u2.get("revisionId") and u2["revisionId"] not in (rev0, rev1), u2
        else:  # an older botocore: check the server's answers directly
            rev1 = call(srv, "DescribeStateMachine", {"stateMachineArn": arn}).get("revisionId")
            assert rev1, "no revisionId after an update"
            u2 = call(srv, "UpdateStateMachine", {"stateMachineArn": arn, "definition": json.dumps(PASS)})
            assert u2.get("revisionId") and u2["revisionId"] != rev1, u2
        # an update with neither definition nor roleArn
        expect_error("MissingRequiredParameter", sfn.update_state_machine, stateMachineArn=arn)

        sfn.delete_state_machine(stateMachineArn=arn)
        # Deletion is asynchronous on AWS: the machine is gone or DELETING.
        try:
            d = sfn.describe_state_machine(stateMachineArn=arn)
            assert d["status"] == "DELETING", d
        except ClientError as e:
            assert e.response["Error"]["Code"] == "StateMachineDoesNotExist", e.response
            listed = sfn.list_state_machines()["stateMachines"]
            assert listed == [], listed


def test_boto3_create_idempotent_and_already_exists(ctx):
    """CreateStateMachine is idempotent on name+definition+type; a different
    definition under the same name is StateMachineAlreadyExists."""
    with Server(ctx.stepd) as srv:
        sfn = boto3_client(srv)
        a = sfn.create_state_machine(name="Same", definition=json.dumps(PASS), roleArn=ROLE)
        b = sfn.create_state_machine(name="Same", definition=json.dumps(PASS), roleArn=ROLE)
        assert a["stateMachineArn"] == b["stateMachineArn"], (a, b)
        e = expect_error("StateMachineAlreadyExists", sfn.create_state_machine, name="Same",
                         definition=json.dumps(PASS_CHAIN), roleArn=ROLE)
        assert e.response["Error"]["Message"], e.response
        assert len(sfn.list_state_machines()["stateMachines"]) == 1


def test_boto3_list_state_machines_pagination(ctx):
    """maxResults + nextToken by hand, and boto3's paginator (PageSize,
    MaxItems, StartingToken)."""
    with Server(ctx.stepd) as srv:
        sfn = boto3_client(srv)
        arns = {create(sfn, "m%d" % i, PASS) for i in range(7)}
        seen, token, pages = [], None, 0
        while True:
            args = {"maxResults": 3}
            if token:
                args["nextToken"] = token
            page = sfn.list_state_machines(**args)
            pages += 1
            assert len(page["stateMachines"]) <= 3, page
            seen += [m["stateMachineArn"] for m in page["stateMachines"]]
            token = page.get("nextToken")
            if not token:
                break
            assert pages < 20, "paging never ends"
        assert sorted(seen) == sorted(arns), (seen, arns)
        assert pages >= 3, "7 machines at maxResults 3 came in %d pages" % pages

        p = sfn.get_paginator("list_state_machines")
        got = [m["stateMachineArn"] for pg in p.paginate(PaginationConfig={"PageSize": 2})
               for m in pg["stateMachines"]]
        assert sorted(got) == sorted(arns), got

        first = p.paginate(PaginationConfig={"MaxItems": 3, "PageSize": 2}).build_full_result()
        assert len(first["stateMachines"]) == 3 and first.get("NextToken"), first
        rest = p.paginate(PaginationConfig={"StartingToken": first["NextToken"]}).build_full_result()
        both = [m["stateMachineArn"] for m in first["stateMachines"] + rest["stateMachines"]]
        assert sorted(both) == sorted(arns), both
        # a token the server never issued
        expect_error("InvalidToken", sfn.list_state_machines, nextToken="garbage-token")


# ---- executions -------------------------------------------------------------

def test_boto3_start_and_describe_execution(ctx):
    """StartExecution's ARN and dates; DescribeExecution of a succeeded and of
    a failed execution (output only on success, error/cause only on failure)."""
    with Server(ctx.stepd) as srv:
        sfn = boto3_client(srv)
        arn = create(sfn, "Hello", PASS)
        s = sfn.start_execution(stateMachineArn=arn, name="run1", input='{"a": 1}')
        assert s["executionArn"] == EXEC_ARN + "Hello:run1", s
        assert is_dt(s["startDate"]), s
        d = wait_status(sfn, s["executionArn"])
        assert d["status"] == "SUCCEEDED", d
        assert d["executionArn"] == s["executionArn"] and d["stateMachineArn"] == arn, d
        assert d["name"] == "run1", d
        assert json.loads(d["input"]) == {"a": 1} and json.loads(d["output"]) == {"a": 1}, d
        assert is_dt(d["startDate"]) and is_dt(d["stopDate"]), d
        assert d["stopDate"] >= d["startDate"], d
        assert "error" not in d and "cause" not in d, d

        # no name: a UUID; no input: "{}"
        s2 = sfn.start_execution(stateMachineArn=arn)
        assert re.fullmatch(re.escape(EXEC_ARN + "Hello:") + UUID_RE, s2["executionArn"]), s2
        d2 = wait_status(sfn, s2["executionArn"])
        assert json.loads(d2["input"]) == {} and d2["status"] == "SUCCEEDED", d2

        farn = create(sfn, "Failing", FAIL)
        f = sfn.start_execution(stateMachineArn=farn, name="f1")
        d = wait_status(sfn, f["executionArn"])
        assert d["status"] == "FAILED", d
        assert d["error"] == "MyErr" and d["cause"] == "it broke", d
        assert "output" not in d, d


def test_boto3_list_executions_pagination(ctx):
    """ListExecutions: newest first, maxResults/nextToken, the paginator, and
    statusFilter."""
    with Server(ctx.stepd) as srv:
        sfn = boto3_client(srv)
        arn = create(sfn, "Lister", PASS)
        started = []
        for i in range(5):
            started.append(sfn.start_execution(stateMachineArn=arn, name="e%d" % i)["executionArn"])
            time.sleep(0.01)
        for a in started:
            wait_status(sfn, a)
        carn = create(sfn, "Waiter", callback_def())
        running = sfn.start_execution(stateMachineArn=carn, name="r")["executionArn"]

        seen, token, pages = [], None, 0
        while True:
            args = {"stateMachineArn": arn, "maxResults": 2}
            if token:
                args["nextToken"] = token
            page = sfn.list_executions(**args)
            pages += 1
            assert len(page["executions"]) <= 2, page
            for e in page["executions"]:
                assert e["stateMachineArn"] == arn and e["status"] == "SUCCEEDED", e
                assert is_dt(e["startDate"]) and is_dt(e["stopDate"]), e
            seen += [e["executionArn"] for e in page["executions"]]
            token = page.get("nextToken")
            if not token:
                break
            assert pages < 20, "paging never ends"
        # "Results are sorted by time, with the most recent execution first."
        assert seen == list(reversed(started)), seen

        p = sfn.get_paginator("list_executions")
        got = [e["executionArn"] for pg in p.paginate(stateMachineArn=arn, PaginationConfig={"PageSize": 3})
               for e in pg["executions"]]
        assert got == list(reversed(started)), got

        r = sfn.list_executions(stateMachineArn=carn, statusFilter="RUNNING")["executions"]
        assert [e["executionArn"] for e in r] == [running], r
        assert "stopDate" not in r[0], r
        assert sfn.list_executions(stateMachineArn=carn, statusFilter="SUCCEEDED")["executions"] == []
        assert sfn.list_executions(stateMachineArn=arn, statusFilter="RUNNING")["executions"] == []
        expect_error("StateMachineDoesNotExist", sfn.list_executions, stateMachineArn=SM_ARN + "Nope")
        sfn.stop_execution(executionArn=running)


def test_boto3_execution_history(ctx):
    """GetExecutionHistory: event shape and order, maxResults + nextToken,
    reverseOrder, includeExecutionData=false."""
    with Server(ctx.stepd) as srv:
        sfn = boto3_client(srv)
        arn = create(sfn, "Chain", PASS_CHAIN)
        ex = sfn.start_execution(stateMachineArn=arn, name="h", input='{"k": "v"}')["executionArn"]
        assert wait_status(sfn, ex)["status"] == "SUCCEEDED"

        full = sfn.get_execution_history(executionArn=ex)["events"]
        types = [e["type"] for e in full]
        assert types == ["ExecutionStarted"] + ["PassStateEntered", "PassStateExited"] * 4 + \
            ["ExecutionSucceeded"], types
        assert [e["id"] for e in full] == list(range(1, 11)), full
        assert full[0]["previousEventId"] == 0, full[0]
        for e in full[1:]:
            assert 0 < e["previousEventId"] < e["id"], e
        for a, b in zip(full, full[1:]):
            assert is_dt(a["timestamp"]) and a["timestamp"] <= b["timestamp"], (a, b)
        st = full[0]["executionStartedEventDetails"]
        assert json.loads(st["input"]) == {"k": "v"} and st["roleArn"] == ROLE, st
        assert full[1]["stateEnteredEventDetails"]["name"] == "A", full[1]
        assert json.loads(full[1]["stateEnteredEventDetails"]["input"]) == {"k": "v"}, full[1]
        assert json.loads(full[2]["stateExitedEventDetails"]["output"]) == {"k": "v"}, full[2]
        assert json.loads(full[-1]["executionSucceededEventDetails"]["output"]) == {"k": "v"}

        paged = all_events(sfn, ex, maxResults=3)
        assert [e["id"] for e in paged] == list(range(1, 11)), [e["id"] for e in paged]
        first = sfn.get_execution_history(executionArn=ex, maxResults=3)
        assert len(first["events"]) <= 3 and first.get("nextToken"), first

        rev = all_events(sfn, ex, maxResults=4, reverseOrder=True)
        assert [e["id"] for e in rev] == list(range(10, 0, -1)), [e["id"] for e in rev]
        assert rev[0]["type"] == "ExecutionSucceeded", rev[0]

        lean = all_events(sfn, ex, includeExecutionData=False)
        assert [e["type"] for e in lean] == types, lean
        for e in lean:
            for det in details_of(e):
                assert "input" not in det and "output" not in det, e

        p = sfn.get_paginator("get_execution_history")
        got = [e["id"] for pg in p.paginate(executionArn=ex, PaginationConfig={"PageSize": 4})
               for e in pg["events"]]
        assert got == list(range(1, 11)), got
        expect_error("ExecutionDoesNotExist", sfn.get_execution_history,
                     executionArn=EXEC_ARN + "Chain:nope")


def test_boto3_stop_execution(ctx):
    """StopExecution: ABORTED, with the given error and cause in the history."""
    with Server(ctx.stepd) as srv:
        sfn = boto3_client(srv)
        arn = create(sfn, "Long", WAIT_LONG)
        ex = sfn.start_execution(stateMachineArn=arn, name="s")["executionArn"]
        assert sfn.describe_execution(executionArn=ex)["status"] == "RUNNING"
        out = sfn.stop_execution(executionArn=ex, error="Stopped.ByTest", cause="enough")
        assert is_dt(out["stopDate"]), out
        d = sfn.describe_execution(executionArn=ex)
        assert d["status"] == "ABORTED", d
        assert is_dt(d["stopDate"]) and "output" not in d, d
        ev = sfn.get_execution_history(executionArn=ex, reverseOrder=True)["events"][0]
        assert ev["type"] == "ExecutionAborted", ev
        assert ev["executionAbortedEventDetails"] == {"error": "Stopped.ByTest", "cause": "enough"}, ev
        expect_error("ExecutionDoesNotExist", sfn.stop_execution, executionArn=EXEC_ARN + "Long:nope")


def test_boto3_start_execution_idempotency(ctx):
    """Same name + same input while RUNNING: the same answer, 200. Different
    input, or the execution closed: ExecutionAlreadyExists."""
    with Server(ctx.stepd) as srv:
        sfn = boto3_client(srv)
        arn = create(sfn, "Idem", callback_def())
        a = sfn.start_execution(stateMachineArn=arn, name="once", input='{"x": 1}')
        b = sfn.start_execution(stateMachineArn=arn, name="once", input='{"x": 1}')
        assert a["executionArn"] == b["executionArn"] == EXEC_ARN + "Idem:once", (a, b)
        assert a["startDate"] == b["startDate"], (a, b)
        assert b["ResponseMetadata"]["HTTPStatusCode"] == 200
        expect_error("ExecutionAlreadyExists", sfn.start_execution, stateMachineArn=arn,
                     name="once", input='{"x": 2}')
        assert len(sfn.list_executions(stateMachineArn=arn)["executions"]) == 1

        sfn.send_task_success(taskToken=wait_token(sfn, a["executionArn"]), output="{}")
        assert wait_status(sfn, a["executionArn"])["status"] == "SUCCEEDED"
        expect_error("ExecutionAlreadyExists", sfn.start_execution, stateMachineArn=arn,
                     name="once", input='{"x": 1}')


# ---- callbacks --------------------------------------------------------------

def test_boto3_callback_success(ctx):
    """.waitForTaskToken: the token from TaskScheduled's parameters,
    SendTaskHeartbeat, SendTaskSuccess; a second callback is TaskTimedOut."""
    with Server(ctx.stepd) as srv:
        sfn = boto3_client(srv)
        arn = create(sfn, "Cb", callback_def())
        ex = sfn.start_execution(stateMachineArn=arn, name="c", input='{"order": 7}')["executionArn"]
        tok = wait_token(sfn, ex)
        sched = [e for e in sfn.get_execution_history(executionArn=ex)["events"]
                 if e["type"] == "TaskScheduled"][0]["taskScheduledEventDetails"]
        assert sched["resourceType"] == "sqs", sched
        assert sched["resource"] == "sendMessage.waitForTaskToken", sched
        assert sched["region"] == "us-east-1", sched
        assert json.loads(sched["parameters"]) == {"QueueUrl": "q", "MessageBody": {"token": tok}}

        time.sleep(0.2)
        assert sfn.describe_execution(executionArn=ex)["status"] == "RUNNING"
        hb = sfn.send_task_heartbeat(taskToken=tok)
        assert hb["ResponseMetadata"]["HTTPStatusCode"] == 200
        expect_error("InvalidOutput", sfn.send_task_success, taskToken=tok, output="not json")

        sfn.send_task_success(taskToken=tok, output='{"done": true}')
        d = wait_status(sfn, ex)
        assert d["status"] == "SUCCEEDED", d
        assert json.loads(d["output"]) == {"done": True}, d
        ev = sfn.get_execution_history(executionArn=ex)["events"]
        ok = [e for e in ev if e["type"] == "TaskSucceeded"]
        assert len(ok) == 1, [e["type"] for e in ev]
        det = ok[0]["taskSucceededEventDetails"]
        assert det["resourceType"] == "sqs" and json.loads(det["output"]) == {"done": True}, det

        expect_error("TaskTimedOut", sfn.send_task_success, taskToken=tok, output="{}")
        expect_error("TaskTimedOut", sfn.send_task_failure, taskToken=tok, error="E")
        expect_error("TaskTimedOut", sfn.send_task_heartbeat, taskToken=tok)


def test_boto3_callback_failure(ctx):
    """SendTaskFailure: the task fails with the given error and cause, and so
    does the execution (no Catch)."""
    with Server(ctx.stepd) as srv:
        sfn = boto3_client(srv)
        arn = create(sfn, "CbFail", callback_def())
        ex = sfn.start_execution(stateMachineArn=arn, name="c")["executionArn"]
        tok = wait_token(sfn, ex)
        sfn.send_task_failure(taskToken=tok, error="Payment.Declined", cause="card expired")
        d = wait_status(sfn, ex)
        assert d["status"] == "FAILED", d
        assert d["error"] == "Payment.Declined" and d["cause"] == "card expired", d
        ev = sfn.get_execution_history(executionArn=ex)["events"]
        tf = [e for e in ev if e["type"] == "TaskFailed"]
        assert len(tf) == 1, [e["type"] for e in ev]
        det = tf[0]["taskFailedEventDetails"]
        assert det["error"] == "Payment.Declined" and det["cause"] == "card expired", det
        assert ev[-1]["type"] == "ExecutionFailed", ev[-1]
        expect_error("TaskTimedOut", sfn.send_task_failure, taskToken=tok, error="again")


def test_boto3_heartbeat_keeps_task_alive(ctx):
    """HeartbeatSeconds 1: heartbeats every 0.3 s keep the task alive past
    two seconds; then SendTaskSuccess completes it."""
    with Server(ctx.stepd) as srv:
        sfn = boto3_client(srv)
        arn = create(sfn, "Hb", callback_def(heartbeat=1, timeout=60))
        ex = sfn.start_execution(stateMachineArn=arn, name="hb")["executionArn"]
        tok = wait_token(sfn, ex)
        sched = [e for e in sfn.get_execution_history(executionArn=ex)["events"]
                 if e["type"] == "TaskScheduled"][0]["taskScheduledEventDetails"]
        assert sched.get("heartbeatInSeconds") == 1 and sched.get("timeoutInSeconds") == 60, sched
        end = time.time() + 2.2
        while time.time() < end:
            sfn.send_task_heartbeat(taskToken=tok)
            time.sleep(0.3)
        assert sfn.describe_execution(executionArn=ex)["status"] == "RUNNING"
        sfn.send_task_success(taskToken=tok, output='"ok"')
        d = wait_status(sfn, ex)
        assert d["status"] == "SUCCEEDED" and json.loads(d["output"]) == "ok", d


def test_boto3_heartbeat_timeout(ctx):
    """HeartbeatSeconds 1 with no heartbeat: States.HeartbeatTimeout; a late
    callback gets TaskTimedOut."""
    with Server(ctx.stepd) as srv:
        sfn = boto3_client(srv)
        arn = create(sfn, "HbTo", callback_def(heartbeat=1))
        t0 = time.time()
        ex = sfn.start_execution(stateMachineArn=arn, name="to")["executionArn"]
        tok = wait_token(sfn, ex)
        d = wait_status(sfn, ex, timeout=10)
        took = time.time() - t0
        assert d["status"] == "FAILED", d
        assert d["error"] == "States.HeartbeatTimeout", d
        assert 0.9 <= took < 5, "heartbeat timeout after %.2fs" % took
        ev = sfn.get_execution_history(executionArn=ex)["events"]
        to = [e for e in ev if e["type"] == "TaskTimedOut"]
        assert len(to) == 1, [e["type"] for e in ev]
        assert to[0]["taskTimedOutEventDetails"]["error"] == "States.HeartbeatTimeout", to[0]
        expect_error("TaskTimedOut", sfn.send_task_success, taskToken=tok, output="{}")


def test_boto3_invalid_token(ctx):
    """A token stepd never issued: InvalidToken for all three callbacks."""
    with Server(ctx.stepd) as srv:
        sfn = boto3_client(srv)
        expect_error("InvalidToken", sfn.send_task_success, taskToken="not-a-token", output="{}")
        expect_error("InvalidToken", sfn.send_task_failure, taskToken="not-a-token", error="E")
        expect_error("InvalidToken", sfn.send_task_heartbeat, taskToken="not-a-token")


# ---- more operations --------------------------------------------------------

def test_boto3_describe_state_machine_for_execution(ctx):
    """An execution keeps the definition it started with after an update."""
    with Server(ctx.stepd) as srv:
        sfn = boto3_client(srv)
        old = callback_def()
        arn = create(sfn, "Versioned", old)
        ex = sfn.start_execution(stateMachineArn=arn, name="v")["executionArn"]
        tok = wait_token(sfn, ex)
        d0 = sfn.describe_state_machine_for_execution(executionArn=ex)
        assert json.loads(d0["definition"]) == old and d0["name"] == "Versioned", d0
        d0 = call(srv, "DescribeStateMachineForExecution", {"executionArn": ex})  # as sent
        u = call(srv, "UpdateStateMachine", {"stateMachineArn": arn, "definition": json.dumps(PASS)})
        d = sfn.describe_state_machine_for_execution(executionArn=ex)
        assert d["stateMachineArn"] == arn and d["name"] == "Versioned", d
        assert json.loads(d["definition"]) == old, d["definition"]
        assert d["roleArn"] == ROLE and is_dt(d["updateDate"]), d
        if modeled(sfn, "DescribeStateMachineForExecutionOutput", "revisionId"):
            assert d.get("revisionId") != u.get("revisionId"), (d, u)
        assert json.loads(sfn.describe_state_machine(stateMachineArn=arn)["definition"]) == PASS

        sfn.send_task_success(taskToken=tok, output="{}")
        assert wait_status(sfn, ex)["status"] == "SUCCEEDED"
        new = sfn.start_execution(stateMachineArn=arn, name="v2")["executionArn"]
        wait_status(sfn, new)
        d2 = sfn.describe_state_machine_for_execution(executionArn=new)
        assert json.loads(d2["definition"]) == PASS, d2
        expect_error("ExecutionDoesNotExist", sfn.describe_state_machine_for_execution,
                     executionArn=EXEC_ARN + "Versioned:nope")
        # botocore's model (DescribeStateMachineForExecutionOutput.revisionId):
        # "The first revision ID when you create the state machine is null."
        first = call(srv, "DescribeStateMachineForExecution", {"executionArn": new})
        assert first.get("revisionId") == u.get("revisionId"), (first, u)
        assert d0.get("revisionId") is None, d0


def test_boto3_validate_definition(ctx):
    """ValidateStateMachineDefinition: OK, or FAIL with ERROR diagnostics."""
    with Server(ctx.stepd) as srv:
        sfn = boto3_client(srv)
        if hasattr(sfn, "validate_state_machine_definition"):
            validate = sfn.validate_state_machine_definition
        else:  # a botocore older than the operation (2024): the server, directly
            def validate(definition):
                return call(srv, "ValidateStateMachineDefinition", {"definition": definition})
        ok = validate(definition=json.dumps(PASS))
        assert ok["result"] == "OK", ok
        assert not [x for x in ok["diagnostics"] if x["severity"] == "ERROR"], ok

        bad = {"StartAt": "Nowhere", "States": {"P": {"Type": "Pass", "End": True}}}
        for definition in (json.dumps(bad), "{not json"):
            out = validate(definition=definition)
            assert out["result"] == "FAIL", out
            errs = [x for x in out["diagnostics"] if x["severity"] == "ERROR"]
            assert errs, out
            for x in errs:
                assert isinstance(x["code"], str) and x["code"], x
                assert isinstance(x["message"], str) and x["message"], x
        # nothing was created
        assert sfn.list_state_machines()["stateMachines"] == []


def test_boto3_start_sync_execution(ctx):
    """StartSyncExecution on an EXPRESS machine (client with
    inject_host_prefix=False); STANDARD machines refuse it."""
    import boto3
    with Server(ctx.stepd) as srv:
        sfn = boto3_client(srv)
        sync = boto3.client("stepfunctions", endpoint_url=srv.endpoint, region_name="us-east-1",
                            aws_access_key_id="testing", aws_secret_access_key="testing",
                            config=Config(inject_host_prefix=False, retries={"max_attempts": 1}))
        arn = create(sfn, "Quick", PASS, type_="EXPRESS")
        assert sfn.describe_state_machine(stateMachineArn=arn)["type"] == "EXPRESS"
        r = sync.start_sync_execution(stateMachineArn=arn, name="now", input='{"q": 1}')
        assert r["status"] == "SUCCEEDED", r
        assert json.loads(r["output"]) == {"q": 1}, r
        assert re.fullmatch(re.escape(EXPRESS_ARN + "Quick:now:") + UUID_RE, r["executionArn"]), r
        assert is_dt(r["startDate"]) and is_dt(r["stopDate"]) and r["stopDate"] >= r["startDate"], r
        assert r.get("stateMachineArn", arn) == arn, r

        f = sync.start_sync_execution(stateMachineArn=create(sfn, "QuickFail", FAIL, type_="EXPRESS"))
        assert f["ResponseMetadata"]["HTTPStatusCode"] == 200, f
        assert f["status"] == "FAILED" and f["error"] == "MyErr" and f["cause"] == "it broke", f
        assert "output" not in f, f

        # StartExecution on an EXPRESS machine: an express execution ARN
        a = sfn.start_execution(stateMachineArn=arn, name="async")["executionArn"]
        assert re.fullmatch(re.escape(EXPRESS_ARN + "Quick:async:") + UUID_RE, a), a

        # "This API action is not supported by EXPRESS state machines."
        expect_error("StateMachineTypeNotSupported", sfn.list_executions, stateMachineArn=arn)

        std = create(sfn, "Std", PASS)
        expect_error("StateMachineTypeNotSupported", sync.start_sync_execution, stateMachineArn=std)
        expect_error("StateMachineDoesNotExist", sync.start_sync_execution,
                     stateMachineArn=SM_ARN + "Nope")


def test_boto3_wait_state_waits(ctx):
    """A 1-second Wait state takes a second of real time."""
    with Server(ctx.stepd) as srv:
        sfn = boto3_client(srv)
        arn = create(sfn, "Sleepy", WAIT1)
        ex = sfn.start_execution(stateMachineArn=arn, name="w")["executionArn"]
        time.sleep(0.4)
        assert sfn.describe_execution(executionArn=ex)["status"] == "RUNNING"
        d = wait_status(sfn, ex, timeout=10)
        assert d["status"] == "SUCCEEDED", d
        took = (d["stopDate"] - d["startDate"]).total_seconds()
        assert 0.99 <= took < 3, took
        ev = {e["type"]: e for e in sfn.get_execution_history(executionArn=ex)["events"]}
        waited = (ev["WaitStateExited"]["timestamp"] - ev["WaitStateEntered"]["timestamp"]).total_seconds()
        assert waited >= 0.99, waited


def test_boto3_error_codes(ctx):
    """StateMachineDoesNotExist, ExecutionDoesNotExist, InvalidArn,
    InvalidName, InvalidDefinition, InvalidExecutionInput."""
    with Server(ctx.stepd) as srv:
        sfn = boto3_client(srv)
        arn = create(sfn, "Errs", PASS)
        missing = SM_ARN + "Missing"
        e = expect_error("StateMachineDoesNotExist", sfn.describe_state_machine, stateMachineArn=missing)
        assert missing in e.response["Error"]["Message"], e.response["Error"]
        expect_error("StateMachineDoesNotExist", sfn.start_execution, stateMachineArn=missing)
        e = expect_error("ExecutionDoesNotExist", sfn.describe_execution,
                         executionArn=EXEC_ARN + "Errs:nope")
        assert EXEC_ARN + "Errs:nope" in e.response["Error"]["Message"], e.response["Error"]
        expect_error("InvalidArn", sfn.describe_state_machine, stateMachineArn="not-an-arn")
        expect_error("InvalidArn", sfn.describe_execution, executionArn="not-an-arn")
        expect_error("InvalidArn", sfn.start_execution, stateMachineArn="arn:aws:sqs:us-east-1:1:q")
        expect_error("InvalidName", sfn.create_state_machine, name="bad name",
                     definition=json.dumps(PASS), roleArn=ROLE)
        expect_error("InvalidName", sfn.create_state_machine, name="a/b",
                     definition=json.dumps(PASS), roleArn=ROLE)
        expect_error("InvalidName", sfn.start_execution, stateMachineArn=arn, name="x:y")
        e = expect_error("InvalidDefinition", sfn.create_state_machine, name="Broken",
                         definition=json.dumps({"StartAt": "X", "States": {}}), roleArn=ROLE)
        assert e.response["Error"]["Message"], e.response
        expect_error("InvalidDefinition", sfn.create_state_machine, name="Broken",
                     definition="{not json", roleArn=ROLE)
        expect_error("InvalidExecutionInput", sfn.start_execution, stateMachineArn=arn,
                     input="{not json")
        # none of the refused calls left anything behind
        assert [m["name"] for m in sfn.list_state_machines()["stateMachines"]] == ["Errs"]
        assert sfn.list_executions(stateMachineArn=arn)["executions"] == []
