#!/usr/bin/env python3
"""Function benchmarks: `stepd serve` running Lambda functions as warm
worker processes through the Runtime API. bench/fn.sh calls it (one run
per call, one JSON line appended to RESULTS) and prints the table with it;
the benches are described at the top of bench/fn.sh.

  fn.py invoke --results F --run N --work DIR [--stepd BIN] [--cdir DIR]
               [--invocations N] [--warmup W]
  fn.py order  --results F --run N --work DIR --runtime python|c --inflight C
               [--stepd BIN] [--cdir DIR] [--executions N] [--warmup W] [--store file|memory]
  fn.py peer   --results F --run N --inflight C --executions N  < peer-alsf.mjs output
  fn.py table  --results F [--floor FLOOR_JSONL]

The clients are lean on purpose: raw sockets, HTTP/1.1 keep-alive,
requests preformatted, one thread (16 connections are multiplexed with
select), so that as little of the machine's two CPUs as possible goes to
the client.
"""
import argparse
import json
import os
import re
import resource
import select
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
FN = os.path.join(HERE, "fn")
# The floor's event (bench/floor/responder.c), so the payloads compare.
EVENT = b'{"key1":"value1","key2":"value2","key3":"value3"}'
SM_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:order-workflow"


def say(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


def pct(v, p):
    """Nearest-rank percentile of the sorted list v."""
    if not v:
        return None
    k = max(1, min(len(v), -(-len(v) * p // 100)))
    return v[k - 1]


# --- the server ---------------------------------------------------------------
class Stepd:
    def __init__(self, binary, work, template, overrides, store, pin=None):
        """pin: a CPU for stepd and (inheriting it) its workers, or None."""
        self.work = work
        self.log = open(os.path.join(work, "server.log"), "ab")
        cmd = (["taskset", "-c", str(pin)] if pin is not None else []) + [
            binary, "serve", "--listen", "127.0.0.1:0", "--quiet", "--store", store, "--template", template]
        if overrides:
            cmd += ["--parameter-overrides"] + overrides
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=self.log, stdin=subprocess.DEVNULL)
        timer = threading.Timer(60, self.proc.kill)
        timer.start()
        while True:
            line = self.proc.stdout.readline()
            if not line:
                timer.cancel()
                self.proc.wait()
                raise RuntimeError("stepd serve exited before listening (status %s)" % self.proc.returncode)
            m = re.search(rb"listening on http://[^\s:]+:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                timer.cancel()
                break
        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()

    def cpu(self):
        """(stepd's CPU seconds, its live children's: the workers), from
        the scheduler's nanosecond counters of every thread
        (/proc/PID/task/TID/schedstat): per-process tick counts would
        round two dozen mostly idle workers down to nothing."""
        def run_ns(pid):
            total = 0
            try:
                for tid in os.listdir("/proc/%d/task" % pid):
                    with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                        total += int(f.read().split()[0])
            except OSError:
                pass
            return total
        kids = 0
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    with open("/proc/%s/stat" % d) as f:
                        ppid = int(f.read().rsplit(")", 1)[1].split()[1])
                except (OSError, ValueError, IndexError):
                    continue
                if ppid == self.proc.pid:
                    kids += run_ns(int(d))
        return run_ns(self.proc.pid) / 1e9, kids / 1e9

    def workers_rss_kb(self):
        """VmRSS summed over the live children (the workers)."""
        total = 0
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % d) as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) != self.proc.pid:
                        continue
                with open("/proc/%s/status" % d) as f:
                    for line in f:
                        if line.startswith("VmRSS:"):
                            total += int(line.split()[1])
            except (OSError, ValueError, IndexError):
                continue
        return total

    def hwm_kb(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
        return None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                return "ignored SIGTERM for 30 s"
        self.log.close()
        return self.proc.returncode


def client_cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


# --- a raw HTTP/1.1 keep-alive connection ----------------------------------------
class Conn:
    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def parse(self):
        """A complete response at the head of buf: (status, body), consumed;
        None when more is needed."""
        h = self.buf.find(b"\r\n\r\n")
        if h < 0:
            return None
        head = self.buf[:h]
        m = re.search(rb"\r\ncontent-length:\s*(\d+)", head, re.I)
        if not m:
            raise RuntimeError("a response without Content-Length: %r" % head[:200])
        end = h + 4 + int(m.group(1))
        if len(self.buf) < end:
            return None
        status = int(head[9:12])
        body = self.buf[h + 4:end]
        self.buf = self.buf[end:]
        return status, body

    def feed(self):
        data = self.sock.recv(65536)
        if not data:
            raise RuntimeError("the server closed the connection")
        self.buf += data

    def call(self, data):
        """Sends one request and reads its response (blocking)."""
        self.sock.sendall(data)
        while True:
            r = self.parse()
            if r:
                return r
            self.feed()

    def close(self):
        self.sock.close()


def post(path, body, headers=()):
    h = "".join("%s: %s\r\n" % kv for kv in headers)
    return ("POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n%sContent-Length: %d\r\n\r\n"
            % (path, h, len(body))).encode() + body


def get(path):
    return ("GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" % path).encode()


def sfn(op, doc):
    return post("/", json.dumps(doc, separators=(",", ":")).encode(),
                (("Content-Type", "application/x-amz-json-1.0"), ("X-Amz-Target", "AWSStepFunctions." + op)))


def stats(conn, reset=False):
    st, body = conn.call(get("/stepd/stats" + ("?reset=1" if reset else "")))
    if st != 200:
        raise RuntimeError("GET /stepd/stats -> %d" % st)
    return json.loads(body)


# --- fn-invoke ----------------------------------------------------------------
def invoke_loop(conn, fn, n):
    """n sequential invocations of fn with EVENT; every answer must be the
    event. Returns the client-side round trips (ns), sorted."""
    req = post("/2015-03-31/functions/%s/invocations" % fn, EVENT)
    want = json.loads(EVENT)
    lat = []
    clock = time.perf_counter_ns
    for _ in range(n):
        t = clock()
        st, body = conn.call(req)
        lat.append(clock() - t)
        if st != 200 or json.loads(body) != want:
            raise RuntimeError("invoke %s -> %d %r" % (fn, st, body[:200]))
    lat.sort()
    return lat


def bench_invoke(a):
    """placement "none": stepd, its workers and the client left to the
    scheduler (as stepd runs: the figure the issue's targets are about);
    "same": stepd and its workers pinned together on the first CPU, the
    client on the second (compared with the floor's "same": stepd's own
    cost, with no cross-CPU wake-up in the figure)."""
    rows = []
    pin = None
    if a.placement == "same":
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            raise RuntimeError("placement same needs two CPUs")
        pin = cpus[0]
        os.sched_setaffinity(0, {cpus[1]})
    eng = Stepd(a.stepd, a.work, os.path.join(FN, "identity.yaml"),
                ["CDir=" + os.path.abspath(os.path.join(a.cdir, "identity"))],
                os.path.join(a.work, "state.db"), pin)  # a file store: function logs are written, as usual
    try:
        conn = Conn(eng.port)
        for runtime, fn in (("python", "identity-python"), ("c", "identity-c")):
            key = "python" if runtime == "python" else "provided"
            invoke_loop(conn, fn, a.warmup)
            stats(conn, reset=True)
            c0 = eng.cpu()
            t0 = time.perf_counter()
            lat = invoke_loop(conn, fn, a.invocations)
            secs = time.perf_counter() - t0
            c1 = eng.cpu()
            s = stats(conn)
            f = s["functions"]
            m = f[key]
            ok = m["n"] == a.invocations and f["cold_starts"] == 0
            rows.append({"bench": "fn-invoke", "engine": "stepd", "runtime": runtime, "run": a.run,
                         "placement": a.placement,
                         "ok": ok, "invocations": a.invocations, "warmup": a.warmup,
                         "n": m["n"], "p50_us": m["p50_us"], "p90_us": m["p90_us"], "p99_us": m["p99_us"],
                         "max_us": m["max_us"], "cold_starts": f["cold_starts"], "workers": f["workers"],
                         "client_p50_us": pct(lat, 50) / 1e3, "client_p99_us": pct(lat, 99) / 1e3,
                         "invocations_per_second": a.invocations / secs,
                         "stepd_cpu_us_per_invocation": 1e6 * (c1[0] - c0[0]) / a.invocations,
                         "worker_cpu_us_per_invocation": 1e6 * (c1[1] - c0[1]) / a.invocations})
        conn.close()
    finally:
        rc = eng.stop()
    for r in rows:
        r["exit_status"] = rc
        r["ok"] = r["ok"] and rc == 0
    return rows


# --- fn-order -----------------------------------------------------------------
def order_input(tpl, oid):
    d = dict(tpl)
    d["order"] = dict(tpl["order"], id=oid)
    return json.dumps(d, separators=(",", ":"))


def run_orders(port, tpl, ids, inflight):
    """Runs one execution per id over `inflight` keep-alive connections,
    each doing StartExecution then DescribeExecution polled back to back
    until the execution is done (one thread, select). Returns (latencies
    in ns sorted, polls, failures: [str])."""
    ids = list(ids)
    nxt = 0
    conns = [Conn(port) for _ in range(min(inflight, len(ids)))]
    state = {}  # conn -> [phase, id, arn, t0, describe request]
    lat, polls, bad = [], 0, []
    clock = time.perf_counter_ns

    def start(c):
        nonlocal nxt
        if nxt >= len(ids):
            state.pop(c, None)
            return
        oid = ids[nxt]
        nxt += 1
        state[c] = ["start", oid, None, clock(), None]
        c.send(sfn("StartExecution", {"stateMachineArn": SM_ARN, "name": oid,
                                      "input": order_input(tpl, oid)}))

    for c in conns:
        start(c)
    by_fd = {c.sock.fileno(): c for c in conns}
    while state:
        readable, _, _ = select.select([c.sock for c in state], [], [], 60)
        if not readable:
            raise RuntimeError("no answer from the server for 60 s")
        for s in readable:
            c = by_fd[s.fileno()]
            c.feed()
            while c in state:
                r = c.parse()
                if not r:
                    break
                st, body = r
                phase, oid, arn, t0, dreq = state[c]
                if st != 200:
                    bad.append("%s %s: HTTP %d %s" % (phase, oid, st, body[:200]))
                    start(c)
                    continue
                d = json.loads(body)
                if phase == "start":
                    dreq = sfn("DescribeExecution", {"executionArn": d["executionArn"]})
                    state[c] = ["describe", oid, d["executionArn"], t0, dreq]
                    c.send(dreq)
                    continue
                polls += 1
                if d["status"] == "RUNNING":
                    c.send(dreq)
                    continue
                lat.append(clock() - t0)
                out = d.get("output")
                if d["status"] != "SUCCEEDED" or json.loads(out or "null") != {"status": "recorded"}:
                    bad.append("%s: %s %s" % (oid, d["status"], json.dumps(d)[:300]))
                start(c)
    for c in conns:
        c.close()
    lat.sort()
    return lat, polls, bad


def bench_order(a):
    tpl = json.load(open(os.path.join(FN, "order-workflow.input.json")))
    if a.runtime == "python":
        template, overrides = os.path.join(FN, "order-python.yaml"), []
    elif a.runtime == "python-ddb":
        template, overrides = os.path.join(FN, "order-python-ddb.yaml"), []
    else:
        template, overrides = os.path.join(FN, "order-c.yaml"), ["CDir=" + os.path.abspath(a.cdir)]
    store = ":memory:" if a.store == "memory" else os.path.join(a.work, "state.db")
    eng = Stepd(a.stepd, a.work, template, overrides, store)
    row = {"bench": "fn-order", "engine": "stepd", "runtime": a.runtime, "inflight": a.inflight,
           "run": a.run, "executions": a.executions, "warmup": a.warmup, "store": a.store}
    try:
        conn = Conn(eng.port)
        # warm-up at the same concurrency, so that every worker the
        # measured part needs is started
        _, _, bad = run_orders(eng.port, tpl, ["w-%d" % i for i in range(a.warmup)], a.inflight)
        if bad:
            raise RuntimeError("warm-up: " + bad[0])
        s0 = stats(conn, reset=True)
        c0, cc0 = eng.cpu(), client_cpu()
        t0 = time.perf_counter()
        lat, polls, bad = run_orders(eng.port, tpl, ["o-%d" % i for i in range(1, a.executions + 1)],
                                     a.inflight)
        secs = time.perf_counter() - t0
        c1, cc1 = eng.cpu(), client_cpu()
        s = stats(conn)
        conn.close()
        f = s["functions"]
        n = a.executions
        row.update({"seconds": secs, "executions_per_second": n / secs,
                    "transitions_per_second": 3 * n / secs,
                    "succeeded": len(lat) - len(bad), "failures": len(bad),
                    "first_failure": bad[0] if bad else None,
                    "latency_ms_p50": pct(lat, 50) / 1e6, "latency_ms_p99": pct(lat, 99) / 1e6,
                    "describe_polls_per_execution": polls / n,
                    "invocations": f["invocations"], "cold_starts": f["cold_starts"], "workers": f["workers"],
                    "fn_p50_us": f["provided" if a.runtime == "c" else "python"]["p50_us"],
                    "fn_p99_us": f["provided" if a.runtime == "c" else "python"]["p99_us"],
                    # the scheduler's counters are not reset by ?reset=1
                    "commits_per_execution": (s["executions"]["commits"] - s0["executions"]["commits"]) / n,
                    "turns_per_execution": (s["executions"]["turns"] - s0["executions"]["turns"]) / n,
                    "stepd_cpu_seconds": c1[0] - c0[0], "worker_cpu_seconds": c1[1] - c0[1],
                    "client_cpu_seconds": cc1 - cc0, "max_rss_kb": eng.hwm_kb(),
                    "workers_rss_kb": eng.workers_rss_kb()})
        ok = not bad and len(lat) == n and f["invocations"] == 3 * n
    finally:
        rc = eng.stop()
    row["exit_status"] = rc
    row["ok"] = bool(ok and rc == 0)
    return [row]


def record_peer(a):
    text = sys.stdin.read().strip()
    row = {"bench": "fn-order", "engine": "peer", "runtime": "js-in-process", "inflight": a.inflight,
           "run": a.run, "executions": a.executions}
    try:
        m = json.loads(text.splitlines()[-1])
        row.update({k: m[k] for k in ("engine", "node", "seconds", "executions_per_second", "max_rss_kb",
                                      "latency_ms_p50", "latency_ms_p99", "checked") if k in m})
        row["peer"] = row.pop("engine")
        row["engine"] = "peer"
        row["transitions_per_second"] = 3 * a.executions / m["seconds"]
        row["ok"] = m.get("checked") == a.executions
    except (ValueError, IndexError, KeyError) as e:
        row["ok"] = False
        row["error"] = "no measurement in the peer's output (%s): %s" % (e, text[-300:])
    return [row]


# --- the table ------------------------------------------------------------------
def fmt(v, f="{:,.1f}"):
    return "n/a" if v is None else f.format(v)


def print_table(head, lines, left=1):
    lines = [head] + lines
    widths = [max(len(str(l[i])) for l in lines) for i in range(len(head))]
    for n, l in enumerate(lines):
        print("| " + " | ".join(str(c).ljust(widths[i]) if i < left else str(c).rjust(widths[i])
                                for i, c in enumerate(l)) + " |")
        if n == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")


def table(a):
    rows = [json.loads(l) for l in open(a.results) if l.strip()]
    floor = [r for r in rows if r.get("bench") == "runtime-floor"]
    if a.floor and os.path.exists(a.floor) and not floor:
        floor = [json.loads(l) for l in open(a.floor) if l.strip()]

    def med(sel, key):
        v = [r[key] for r in rows if r.get("ok") and r.get(key) is not None and all(
            r.get(k) == x for k, x in sel.items())]
        return statistics.median(v) if v else None

    def fl(placement, transport="tcp", client="bare"):
        for r in floor:
            if (r["placement"], r["transport"], r["client"]) == (placement, transport, client):
                return r
        return None

    inv = [r for r in rows if r.get("bench") == "fn-invoke"]
    if inv:
        print("fn-invoke: warm invocation round trip of an identity function, timed inside stepd "
              "(event written to the worker's waiting GET next -> its POST response read), µs")
        head = ["runtime", "placement", "n", "p50", "p90", "p99", "max", "p50/cycle", "p99/cycle",
                "p50/interval", "target", "client p50", "invokes/s", "CPU/inv stepd", "CPU/inv worker"]
        lines = []
        for pl in ("none", "same"):
            ref = fl(pl)
            for rt, target in (("python", "p50 <= 1.5x cycle, p99 < 1 ms"), ("c", "p50 <= 1.25x cycle")):
                sel = {"bench": "fn-invoke", "runtime": rt, "placement": pl}
                if not any(all(r.get(k) == x for k, x in sel.items()) for r in inv):
                    continue
                p50, p99 = med(sel, "p50_us"), med(sel, "p99_us")
                cyc50, cyc99, int50 = (ref["cycle_p50_us"], ref["cycle_p99_us"], ref["p50_us"]) if ref else (None,) * 3
                r50 = p50 / cyc50 if p50 and cyc50 else None
                verdict = target
                if pl != "none":
                    verdict = "(diagnostic)"
                elif r50 is not None:
                    met = r50 <= (1.5 if rt == "python" else 1.25) and (rt != "python" or (p99 or 1e9) < 1000)
                    verdict += " " + ("met" if met else "missed")
                lines.append([rt, {"none": "unpinned", "same": "one CPU"}[pl], fmt(med(sel, "n"), "{:,.0f}"),
                              fmt(p50), fmt(med(sel, "p90_us")), fmt(p99), fmt(med(sel, "max_us")),
                              fmt(r50, "{:.2f}x"), fmt(p99 / cyc99 if p99 and cyc99 else None, "{:.2f}x"),
                              fmt(p50 / int50 if p50 and int50 else None, "{:.2f}x"), verdict,
                              fmt(med(sel, "client_p50_us")), fmt(med(sel, "invocations_per_second"), "{:,.0f}"),
                              fmt(med(sel, "stepd_cpu_us_per_invocation"), "{:.0f} µs"),
                              fmt(med(sel, "worker_cpu_us_per_invocation"), "{:.0f} µs")])
        print_table(head, lines, left=2)
        nruns = len({r["run"] for r in inv})
        print("medians of %d run(s), a fresh `stepd serve --template bench/fn/identity.yaml` each; payload "
              "%d bytes. Ratios are to the floor measured in this run (bench/floor/run.sh: the bare C client "
              "against the trivial C responder over TCP) in the same placement: \"unpinned\" = stepd, its "
              "worker and the client left to the scheduler (the figure the targets are about), against the "
              "floor's \"none\"; \"one CPU\" = stepd and its worker pinned on one CPU, the client on the "
              "other, against the floor's \"same\" (stepd's own cost without cross-CPU wake-ups)."
              % (nruns, len(EVENT)))
        print("cycle = GET next + POST response (two round trips, POST to POST: the issue's 121 µs floor and "
              "its ratio); interval = GET answer written -> POST read (one round trip: the same span as "
              "stepd's figure, the like-for-like ratio). client p50 = the Invoke API round trip seen by the "
              "bench's client. CPU/inv: scheduler time of stepd's threads and of the worker per invocation.")
        print("floor, TCP, bare client, p50 (p99) µs:")
        for pl, what in (("none", "unpinned"), ("cross", "two CPUs"), ("same", "one CPU")):
            b, u, cu = fl(pl), fl(pl, "unix", "crt"), fl(pl, "tcp", "crt")
            if not b:
                continue
            line = "  %-5s (%s): interval %.1f (%.1f), cycle %.1f (%.1f)" % (
                pl, what, b["p50_us"], b["p99_us"], b["cycle_p50_us"], b["cycle_p99_us"])
            if cu:
                line += "; our C runtime client over TCP: interval %.1f, cycle %.1f" % (cu["p50_us"], cu["cycle_p50_us"])
            if u:
                line += "; over a Unix socket: interval %.1f, cycle %.1f = %.2fx the TCP floor's%s" % (
                    u["p50_us"], u["cycle_p50_us"], u["cycle_p50_us"] / b["cycle_p50_us"],
                    " (beats it)" if u["cycle_p50_us"] < b["cycle_p50_us"] else "")
            print(line)
        if not floor:
            print("  none measured in this run: ratios n/a")
        print("  (stepd serves the Runtime API to its workers over TCP only: the Unix-socket figures are the "
              "runtime client against the floor responder, not through stepd)")
        print()
    if any(r.get("bench") == "fn-order" for r in rows):
        print("fn-order: order workflow (Validate -> Charge -> Record), executions/s")
        head = ["engine", "functions", "in flight", "executions/s", "vs peer", "p50 ms", "p99 ms",
                "polls/exec", "fn p50 µs", "stepd CPU", "workers CPU", "client CPU", "peak RSS", "workers RSS"]
        lines = []
        for inflight in sorted({r["inflight"] for r in rows if r.get("bench") == "fn-order"}):
            peer = med({"bench": "fn-order", "engine": "peer", "inflight": inflight}, "executions_per_second")
            for eng, rt in (("stepd", "python"), ("stepd", "c"), ("stepd", "python-ddb"), ("peer", "js-in-process")):
                sel = {"bench": "fn-order", "engine": eng, "runtime": rt, "inflight": inflight}
                eps = med(sel, "executions_per_second")
                if eps is None and not any(all(r.get(k) == x for k, x in sel.items()) for r in rows):
                    continue
                secs = med(sel, "seconds")
                cpu = lambda k: (fmt(med(sel, k) / secs, "{:.2f} cores") if secs and med(sel, k) is not None
                                 else "-")
                lines.append(["stepd" if eng == "stepd" else "aws-local-stepfunctions",
                              {"python": "Python workers", "c": "C workers",
                               "python-ddb": "Python workers, Record to a table",
                               "js-in-process": "JS, in its process"}[rt],
                              inflight, fmt(eps, "{:,.0f}"),
                              fmt(eps / peer if eps and peer and eng == "stepd" else None, "{:.3f}x"),
                              fmt(med(sel, "latency_ms_p50"), "{:.3f}"), fmt(med(sel, "latency_ms_p99"), "{:.3f}"),
                              fmt(med(sel, "describe_polls_per_execution"), "{:.1f}") if eng == "stepd" else "-",
                              fmt(med(sel, "fn_p50_us")) if eng == "stepd" else "-",
                              cpu("stepd_cpu_seconds") if eng == "stepd" else "-",
                              cpu("worker_cpu_seconds") if eng == "stepd" else "-",
                              cpu("client_cpu_seconds") if eng == "stepd" else "-",
                              fmt((med(sel, "max_rss_kb") or 0) / 1024 or None, "{:.1f} MB"),
                              fmt((med(sel, "workers_rss_kb") or 0) / 1024 or None, "{:.1f} MB")
                              if eng == "stepd" else "-"])
        print_table(head, lines, left=2)
        n = med({"bench": "fn-order", "engine": "stepd"}, "executions")
        store = {r.get("store") for r in rows if r.get("bench") == "fn-order" and r.get("engine") == "stepd"}
        print("medians of up to %d run(s); %s executions each after a warm-up; stepd: `stepd serve` "
              "(STANDARD, %s), functions in worker processes over the Runtime API, the client over the "
              "Step Functions API (StartExecution, then DescribeExecution polled back to back, one keep-alive "
              "connection per execution in flight); every output checked ({\"status\":\"recorded\"}). "
              "CPU: cores used over the timed part (scheduler time / wall); peak RSS: the server process "
              "(stepd's VmHWM; the peer's maxRSS, its functions included); workers RSS: stepd's live "
              "workers' VmRSS summed at the end"
              % (max([r["run"] for r in rows if r.get("bench") == "fn-order"] or [0]),
                 fmt(n, "{:,.0f}"), "/".join(sorted("SQLite file store" if s == "file" else "in-memory store"
                                                    for s in store if s))))
        print("aws-local-stepfunctions runs each function as a JS function inside its own process "
              "(taskResourceLocalHandlers): no process boundary, no isolation, no HTTP, no API server, "
              "nothing durable. What isolation costs stepd, one execution in flight: 3 Runtime API round "
              "trips to worker processes (fn p50, timed inside stepd) out of the execution's p50 latency "
              "(the rest: the Step Functions API over HTTP, StartExecution + DescribeExecution polls, and "
              "the durable steps):")
        for rt in ("python", "c"):
            sel = {"bench": "fn-order", "engine": "stepd", "runtime": rt, "inflight": 1}
            f50, l50 = med(sel, "fn_p50_us"), med(sel, "latency_ms_p50")
            peer = med({"bench": "fn-order", "engine": "peer", "inflight": 1}, "latency_ms_p50")
            if f50 and l50:
                print("  %s: 3 x %.0f µs = %.3f ms of %.3f ms (%.0f%%)%s" % (
                    rt, f50, 3 * f50 / 1e3, l50, 100 * 3 * f50 / 1e3 / l50,
                    "; the peer's whole execution: %.3f ms" % peer if peer else ""))
    for r in rows:
        if r.get("bench") in ("fn-invoke", "fn-order") and not r.get("ok"):
            print("not ok: %s %s %s run %s: %s" % (r["engine"], r["bench"], r.get("runtime"), r["run"],
                                                   r.get("error") or r.get("first_failure") or
                                                   {k: r.get(k) for k in ("exit_status", "cold_starts", "n",
                                                                          "failures", "invocations")}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=("invoke", "order", "peer", "table"))
    ap.add_argument("--results", required=True)
    ap.add_argument("--run", type=int, default=1)
    ap.add_argument("--work", default="build/bench/fn-work")
    ap.add_argument("--stepd", default="build/stepd")
    ap.add_argument("--cdir", default="build/bench/fn/c", help="where bench/fn/rules.mk built the C functions")
    ap.add_argument("--invocations", type=int, default=5000)
    ap.add_argument("--placement", choices=("none", "same"), default="none")
    ap.add_argument("--runtime", choices=("python", "c", "python-ddb"))
    ap.add_argument("--inflight", type=int, default=1)
    ap.add_argument("--executions", type=int, default=2000)
    ap.add_argument("--warmup", type=int, default=None)
    ap.add_argument("--store", choices=("file", "memory"), default="file")
    ap.add_argument("--floor", help="floor.jsonl (bench/floor/run.sh) when RESULTS has no floor rows")
    a = ap.parse_args()
    if a.what == "table":
        table(a)
        return
    if a.what == "peer":
        rows = record_peer(a)
    else:
        a.stepd = os.path.abspath(a.stepd)
        os.makedirs(a.work, exist_ok=True)
        a.work = tempfile.mkdtemp(prefix="%s-" % a.what, dir=a.work)
        try:
            if a.what == "invoke":
                a.warmup = 200 if a.warmup is None else a.warmup
                rows = bench_invoke(a)
            else:
                a.warmup = 200 if a.warmup is None else a.warmup
                rows = bench_order(a)
        except Exception as e:  # one line in the results; the table says n/a
            rows = [{"bench": "fn-" + a.what, "engine": "stepd", "runtime": a.runtime, "inflight": a.inflight,
                     "placement": a.placement, "run": a.run, "ok": False, "error": "%s: %s" % (type(e).__name__, e)}]
    with open(a.results, "a") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    for r in rows:
        say(json.dumps({k: (round(v, 2) if isinstance(v, float) else v) for k, v in r.items()}))
    if not all(r.get("ok") for r in rows):
        if a.what != "peer":
            try:
                tail = open(os.path.join(a.work, "server.log"), "rb").read()[-1500:].decode("utf-8", "replace")
                say("not ok; server log %s ends:\n%s" % (os.path.join(a.work, "server.log"), tail))
            except OSError:
                pass
        sys.exit(1)
    if a.what != "peer" and os.environ.get("KEEP_WORK") != "1":
        shutil.rmtree(a.work, ignore_errors=True)


if __name__ == "__main__":
    main()
