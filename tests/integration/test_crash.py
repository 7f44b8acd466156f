"""Crash tests: `stepd serve` on a file store is killed while executions are
being started and are running, then restarted on the same file. Nothing it
acknowledged may be lost, nothing may run twice: every execution ends with
the output an uninterrupted run gives, and its history has no duplicated or
missing event.

  test_sigkill_three_times   1,000 STANDARD executions of a machine with
      Choice, Wait (Seconds 1, SecondsPath, Seconds 0) and an inline Map
      (with a Wait inside each iteration), started over several keep-alive
      connections; the server is SIGKILLed at three random moments (the seed
      is printed; STEPD_CRASH_SEED=N replays one) and restarted each time.
      A start that got no answer is retried with the same name and input
      (idempotent StartExecution). Then: every execution SUCCEEDED with the
      expected output; GetExecutionHistory (all pages) has ids 1..N, each
      previousEventId < id, one ExecutionStarted, one ExecutionSucceeded, and
      the same events (type, state) as an uninterrupted run of its band.
  test_sigterm_mid_load      SIGTERM while starts are in flight: exit 0;
      after the restart every acknowledged execution is there and finishes.
"""
import collections
import http.client
import json
import os
import random
import shutil
import tempfile
import threading
import time

from harness import Server, call

N_EXEC = 1000
START_THREADS = 4

# Bands: n < 333 low (Wait 1 s), 333 <= n < 666 mid (Wait SecondsPath: n % 2),
# else high (Wait 0 s). Then an inline Map over 3 items, each Pass + Wait
# (item's s seconds) + Pass, and a final Pass shaping the output.
DEFINITION = {
    "Comment": "crash test: Choice bands, Waits, inline Map",
    "StartAt": "Classify",
    "States": {
        "Classify": {"Type": "Choice", "Choices": [
            {"Variable": "$.n", "NumericLessThan": 333, "Next": "Low"},
            {"And": [{"Variable": "$.n", "NumericGreaterThanEquals": 333},
                     {"Variable": "$.n", "NumericLessThan": 666}], "Next": "Mid"}],
            "Default": "High"},
        "Low": {"Type": "Pass", "Parameters": {
            "n.$": "$.n", "items.$": "$.items", "band": "low",
            "x.$": "States.MathAdd($.n, 1000)"}, "Next": "WaitOne"},
        "Mid": {"Type": "Pass", "Parameters": {
            "n.$": "$.n", "items.$": "$.items", "band": "mid",
            "x.$": "States.MathAdd($.n, -7)", "wait.$": "$.wait"}, "Next": "WaitPath"},
        "High": {"Type": "Pass", "Parameters": {
            "n.$": "$.n", "items.$": "$.items", "band": "high",
            "x.$": "States.Format('h{}', $.n)"}, "Next": "WaitZero"},
        "WaitOne": {"Type": "Wait", "Seconds": 1, "Next": "Fan"},
        "WaitPath": {"Type": "Wait", "SecondsPath": "$.wait", "Next": "Fan"},
        "WaitZero": {"Type": "Wait", "Seconds": 0, "Next": "Fan"},
        "Fan": {
            "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2,
            "ItemSelector": {"v.$": "$$.Map.Item.Value.v", "s.$": "$$.Map.Item.Value.s",
                             "i.$": "$$.Map.Item.Index", "n.$": "$.n"},
            "ItemProcessor": {
                "ProcessorConfig": {"Mode": "INLINE"},
                "StartAt": "Double",
                "States": {
                    "Double": {"Type": "Pass", "Parameters": {
                        "d.$": "States.MathAdd($.v, $.v)", "i.$": "$.i", "s.$": "$.s",
                        "tag.$": "States.Format('{}-{}', $.n, $.i)"}, "Next": "Nap"},
                    "Nap": {"Type": "Wait", "SecondsPath": "$.s", "Next": "Mark"},
                    "Mark": {"Type": "Pass", "Result": True, "ResultPath": "$.done", "End": True},
                },
            },
            "ResultPath": "$.mapped", "Next": "Shape"},
        "Shape": {"Type": "Pass", "Parameters": {
            "n.$": "$.n", "band.$": "$.band", "x.$": "$.x", "mapped.$": "$.mapped",
            "count.$": "States.ArrayLength($.mapped)"}, "Next": "Done"},
        "Done": {"Type": "Succeed"},
    },
}


def make_input(n):
    # item seconds: at most one 1-second nap per execution keeps the test short
    items = [{"v": n + j, "s": 1 if (n + j) % 5 == 0 else 0} for j in range(3)]
    return {"n": n, "items": items, "wait": n % 2}


def band(n):
    return "low" if n < 333 else "mid" if n < 666 else "high"


def expected_output(n):
    inp = make_input(n)
    x = n + 1000 if n < 333 else n - 7 if n < 666 else "h%d" % n
    mapped = [{"d": 2 * it["v"], "i": i, "s": it["s"], "tag": "%d-%d" % (n, i), "done": True}
              for i, it in enumerate(inp["items"])]
    return {"n": n, "band": band(n), "x": x, "mapped": mapped, "count": 3}


def start(srv, timeout=30):
    """srv.start(), but a server that never says 'listening' (hung in its
    recovery, say) is killed after `timeout` s, so the test fails instead
    of waiting forever on its stdout."""
    done = threading.Event()

    def watchdog():
        if not done.wait(timeout):
            p = srv.proc
            if p is not None and p.poll() is None:
                hung.append(p.pid)
                p.kill()

    hung = []
    threading.Thread(target=watchdog, daemon=True).start()
    try:
        srv.start()
    except RuntimeError as e:
        if hung:
            raise AssertionError("stepd serve (pid %d) did not listen within %ds of its start on %s "
                                 "(it hung; killed): %s" % (hung[0], timeout, srv.store, srv.log())) from None
        raise e
    finally:
        done.set()


def log(ctx, msg):
    if ctx.verbose:
        print("  crash: " + msg, flush=True)


class Client:
    """One keep-alive connection to whatever port the server listens on now;
    reconnects after an error (the server may have been killed)."""

    def __init__(self, srv, timeout=10):
        self.srv, self.timeout, self.conn, self.port = srv, timeout, None, None

    def close(self):
        if self.conn:
            self.conn.close()
        self.conn = None

    def request(self, op, body):
        """Returns (status, parsed body); raises OSError/HTTPException when
        the connection failed (no answer)."""
        port = self.srv.port
        if self.conn is None or self.port != port:
            self.close()
            self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=self.timeout)
            self.port = port
        try:
            self.conn.request("POST", "/", body=json.dumps(body).encode(), headers={
                "Content-Type": "application/x-amz-json-1.0",
                "X-Amz-Target": "AWSStepFunctions." + op})
            r = self.conn.getresponse()
            data = r.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        if r.getheader("Connection", "").lower() == "close":
            self.close()
        return r.status, (json.loads(data) if data else None)


class Starter:
    """Starts executions 0..n-1 from several threads. An execution whose
    StartExecution got no answer is retried (same name, same input) until
    one comes: 200, or ExecutionAlreadyExists for a retry (the first attempt
    was committed and the execution has since ended)."""

    def __init__(self, srv, sm_arn, names, n_threads):
        self.srv, self.sm_arn = srv, sm_arn
        self.queue = collections.deque(range(len(names)))
        self.names = names
        self.lock = threading.Lock()
        self.acked = {}       # index -> (server generation when acknowledged, arn)
        self.retried = set()  # indexes whose first answer was lost
        self.errors = []      # unexpected answers
        self.finished = 0     # executions with a final answer (acknowledged or an error)
        self.generation = 0   # bumped at each restart by the test
        self.paused = threading.Event()
        self.paused.set()     # set = running
        self.threads = [threading.Thread(target=self.work, daemon=True) for _ in range(n_threads)]

    def acked_count(self):
        with self.lock:
            return len(self.acked)

    def done(self):
        with self.lock:
            return self.finished == len(self.names)

    def work(self):
        cl = Client(self.srv)
        while True:
            with self.lock:
                if not self.queue:
                    break
                i = self.queue.popleft()
            name = self.names[i]
            body = {"stateMachineArn": self.sm_arn, "name": name,
                    "input": json.dumps(make_input(i), sort_keys=True)}
            deadline = time.time() + 60
            while True:
                self.paused.wait()
                try:
                    st, out = cl.request("StartExecution", body)
                    if st == 503:
                        # the server is shutting down and did not store it:
                        # retry, as AWS's SDKs retry a 503
                        raise http.client.HTTPException("503 %s" % out)
                except (OSError, http.client.HTTPException):
                    with self.lock:
                        self.retried.add(i)
                    if time.time() > deadline:
                        with self.lock:
                            self.errors.append("%s: no answer for 60 s" % name)
                            self.finished += 1
                        break
                    time.sleep(0.02)
                    continue
                with self.lock:
                    if st == 200 and out and out.get("executionArn"):
                        self.acked[i] = (self.generation, out["executionArn"])
                    elif (i in self.retried and st == 400 and out
                          and "ExecutionAlreadyExists" in str(out.get("__type"))):
                        self.acked[i] = (self.generation, None)
                    else:
                        self.errors.append("%s: StartExecution -> %d %s" % (name, st, out))
                    self.finished += 1
                break
        cl.close()


def list_all(srv, sm_arn, status=None):
    out, token = [], None
    while True:
        body = {"stateMachineArn": sm_arn, "maxResults": 1000}
        if status:
            body["statusFilter"] = status
        if token:
            body["nextToken"] = token
        page = call(srv, "ListExecutions", body)
        out += page.get("executions", [])
        token = page.get("nextToken")
        if not token:
            return out


def wait_quiet(srv, sm_arn, timeout):
    deadline = time.time() + timeout
    while time.time() < deadline:
        page = call(srv, "ListExecutions", {"stateMachineArn": sm_arn, "statusFilter": "RUNNING",
                                            "maxResults": 1})
        if not page.get("executions"):
            return
        time.sleep(0.1)
    running = list_all(srv, sm_arn, "RUNNING")
    raise AssertionError("%d executions still RUNNING after %ds, e.g. %s"
                         % (len(running), timeout, [e["name"] for e in running[:5]]))


def history(cl, arn):
    events, token = [], None
    while True:
        body = {"executionArn": arn, "maxResults": 1000}
        if token:
            body["nextToken"] = token
        st, page = cl.request("GetExecutionHistory", body)
        if st != 200:
            raise AssertionError("GetExecutionHistory %s -> %d %s" % (arn, st, page))
        events += page.get("events", [])
        token = page.get("nextToken")
        if not token:
            return events


def state_of(ev):
    """(type, state name) of an event: the name from *EventDetails when it has one."""
    for k, v in ev.items():
        if k.endswith("EventDetails") and isinstance(v, dict) and "name" in v:
            return (ev["type"], v["name"])
    return (ev["type"], None)


def check_history(name, events, reference):
    """Problems (strings) found in one execution's history."""
    bad = []
    ids = [e.get("id") for e in events]
    if ids != list(range(1, len(events) + 1)):
        dup = [i for i, c in collections.Counter(ids).items() if c > 1]
        bad.append("%s: event ids are not 1..%d (duplicates %s, first ids %s)"
                   % (name, len(events), dup[:5], ids[:12]))
    for e in events:
        prev = e.get("previousEventId", 0)
        if e.get("id", 0) > 1 and not (0 <= prev < e["id"]):
            bad.append("%s: event %s has previousEventId %s" % (name, e.get("id"), prev))
            break
    types = collections.Counter(e["type"] for e in events)
    if types["ExecutionStarted"] != 1 or types["ExecutionSucceeded"] != 1:
        bad.append("%s: %d ExecutionStarted, %d ExecutionSucceeded"
                   % (name, types["ExecutionStarted"], types["ExecutionSucceeded"]))
    if events and (events[0]["type"] != "ExecutionStarted" or events[-1]["type"] != "ExecutionSucceeded"):
        bad.append("%s: history runs from %s to %s" % (name, events[0]["type"], events[-1]["type"]))
    got = collections.Counter(state_of(e) for e in events)
    if reference is not None and got != reference:
        extra = got - reference
        missing = reference - got
        bad.append("%s: events differ from an uninterrupted run: extra %s, missing %s"
                   % (name, dict(extra), dict(missing)))
    return bad


def verify(ctx, srv, sm_arn, names, starter):
    """Checks every execution against expected_output and an uninterrupted
    reference run of its band; raises AssertionError listing the problems."""
    problems = list(starter.errors)
    # Reference runs: one per band, on the final (uninterrupted) server.
    refs = {}
    for n in (0, 1, 333, 334, 700):
        arn = call(srv, "StartExecution", {"stateMachineArn": sm_arn, "name": "ref-%d" % n,
                                           "input": json.dumps(make_input(n), sort_keys=True)})["executionArn"]
        refs[n] = arn
    cl = Client(srv)
    ref_events = {}
    deadline = time.time() + 30
    for n, arn in refs.items():
        while True:
            st, d = cl.request("DescribeExecution", {"executionArn": arn})
            if st == 200 and d["status"] != "RUNNING":
                break
            if time.time() > deadline:
                raise AssertionError("reference execution %s still RUNNING" % arn)
            time.sleep(0.05)
        if d["status"] != "SUCCEEDED" or json.loads(d["output"]) != expected_output(n):
            raise AssertionError("reference run n=%d (no crash) gave %s %s, the test expects %s"
                                 % (n, d["status"], d.get("output"), expected_output(n)))
        evs = history(cl, arn)
        ref_problems = check_history("ref-%d" % n, evs, None)
        if ref_problems:
            raise AssertionError("uninterrupted run: " + "; ".join(ref_problems))
        ref_events[n] = collections.Counter(state_of(e) for e in evs)

    def ref_for(n):
        # the events (type, state) depend on the band alone, not on how long a Wait waits
        return ref_events[0 if n < 333 else 333 if n < 666 else 700]

    listed = list_all(srv, sm_arn)
    by_name = collections.Counter(e["name"] for e in listed)
    dups = [k for k, c in by_name.items() if c > 1]
    if dups:
        problems.append("ListExecutions lists %d names twice, e.g. %s" % (len(dups), dups[:5]))
    missing = [nm for nm in names if nm not in by_name]
    if missing:
        problems.append("%d executions missing from ListExecutions, e.g. %s" % (len(missing), missing[:5]))
    extra = [nm for nm in by_name if nm not in names and not nm.startswith("ref-")]
    if extra:
        problems.append("%d unexpected executions, e.g. %s" % (len(extra), extra[:5]))

    base = sm_arn.replace(":stateMachine:", ":execution:")
    lock = threading.Lock()
    queue = collections.deque(range(len(names)))

    def check_one():
        c = Client(srv)
        while True:
            with lock:
                if not queue:
                    break
                i = queue.popleft()
            nm = names[i]
            arn = base + ":" + nm
            gen = starter.acked.get(i, (None,))[0]
            st, d = c.request("DescribeExecution", {"executionArn": arn})
            mine = []
            if st != 200:
                mine.append("%s (acknowledged in server run %s, retried %s): DescribeExecution -> %d %s"
                            % (nm, gen, i in starter.retried, st, d))
            elif d["status"] != "SUCCEEDED":
                mine.append("%s: %s %s %s" % (nm, d["status"], d.get("error"), str(d.get("cause"))[:200]))
            elif json.loads(d["output"]) != expected_output(i):
                mine.append("%s: output %s, expected %s" % (nm, d["output"], json.dumps(expected_output(i))))
            if st == 200:
                mine += check_history(nm, history(c, arn), ref_for(i))
            if mine:
                with lock:
                    problems.extend(mine)
        c.close()

    ts = [threading.Thread(target=check_one) for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    cl.close()
    if problems:
        raise AssertionError("%d problems:\n  %s" % (len(problems), "\n  ".join(problems[:30])))


def create_machine(srv, name):
    return call(srv, "CreateStateMachine", {
        "name": name, "definition": json.dumps(DEFINITION), "type": "STANDARD",
        "roleArn": "arn:aws:iam::123456789012:role/crash"})["stateMachineArn"]


def test_sigkill_three_times(ctx):
    seed = int(os.environ.get("STEPD_CRASH_SEED", random.SystemRandom().randrange(1 << 30)))
    print("  test_sigkill_three_times: seed %d (STEPD_CRASH_SEED=%d replays it)" % (seed, seed), flush=True)
    rng = random.Random(seed)
    tmp = tempfile.mkdtemp(prefix="stepd-crash-")
    srv = Server(ctx.stepd, store=os.path.join(tmp, "state.db"))
    start(srv)
    t0 = time.time()
    try:
        sm_arn = create_machine(srv, "crash")
        names = ["c%04d" % i for i in range(N_EXEC)]
        starter = Starter(srv, sm_arn, names, START_THREADS)
        # Kills 1 and 2 when a random number of starts were acknowledged
        # (plus a random few ms), kill 3 a random moment after the last start,
        # while Waits and Map iterations are in flight.
        marks = sorted(rng.sample(range(50, N_EXEC - 50), 2))
        for t in starter.threads:
            t.start()
        for k in range(3):
            while time.time() - t0 < 45 and not starter.done() and (k == 2 or starter.acked_count() < marks[k]):
                time.sleep(0.001)
            time.sleep(rng.uniform(0, 0.05 if k < 2 else 1.2))
            if not srv.alive():
                raise AssertionError("the server died by itself before kill %d: %s" % (k + 1, srv.log()))
            log(ctx, "kill %d after %d acknowledged starts (%.2fs)" % (k + 1, starter.acked_count(), time.time() - t0))
            srv.kill()
            time.sleep(rng.uniform(0, 0.2))
            with starter.lock:
                starter.generation += 1
            start(srv)
        for t in starter.threads:
            t.join(60)
        log(ctx, "all started (%.2fs); %d starts retried" % (time.time() - t0, len(starter.retried)))
        if starter.errors:
            raise AssertionError("%d StartExecution calls failed, e.g.:\n  %s"
                                 % (len(starter.errors), "\n  ".join(starter.errors[:10])))
        wait_quiet(srv, sm_arn, 40)
        log(ctx, "all ended (%.2fs)" % (time.time() - t0))
        verify(ctx, srv, sm_arn, names, starter)
        log(ctx, "verified (%.2fs)" % (time.time() - t0))
        rc = srv.stop()
        assert rc == 0, "stepd serve exited %s on SIGTERM: %s" % (rc, srv.log())
    finally:
        if srv.alive():
            srv.kill()
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(srv.tmp, ignore_errors=True)


def test_sigterm_mid_load(ctx):
    tmp = tempfile.mkdtemp(prefix="stepd-term-")
    srv = Server(ctx.stepd, store=os.path.join(tmp, "state.db"))
    start(srv)
    try:
        sm_arn = create_machine(srv, "term")
        names = ["t%04d" % i for i in range(300)]
        starter = Starter(srv, sm_arn, names, START_THREADS)
        for t in starter.threads:
            t.start()
        t0 = time.time()
        while starter.acked_count() < 100 and not starter.done() and time.time() - t0 < 30:
            time.sleep(0.001)
        starter.paused.clear()  # no new request once the signal is sent
        rc = srv.stop()
        with starter.lock:
            before = dict(starter.acked)
        assert rc == 0, "stepd serve exited %s on SIGTERM mid-load: %s" % (rc, srv.log())
        log(ctx, "SIGTERM after %d acknowledged starts: exit 0" % len(before))
        with starter.lock:
            starter.generation += 1
        start(srv)
        starter.paused.set()
        # every start acknowledged before the SIGTERM is there
        for i, (_, arn) in before.items():
            st, d = Client(srv).request("DescribeExecution", {"executionArn": arn})
            assert st == 200, "%s acknowledged before SIGTERM, then %d %s" % (names[i], st, d)
        for t in starter.threads:
            t.join(60)
        wait_quiet(srv, sm_arn, 30)
        verify(ctx, srv, sm_arn, names, starter)
        rc = srv.stop()
        assert rc == 0, "stepd serve exited %s on SIGTERM: %s" % (rc, srv.log())
    finally:
        if srv.alive():
            srv.kill()
    shutil.rmtree(tmp, ignore_errors=True)
    shutil.rmtree(srv.tmp, ignore_errors=True)
