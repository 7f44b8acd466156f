#!/usr/bin/env python3
"""Service benchmarks: one engine speaking the Step Functions JSON 1.0 API
over HTTP (`stepd serve` on a SQLite file store, or the peer
stepfunctions-local), one bench, one run; appends one JSON line to RESULTS.
bench/serve.sh calls it; the benches are described there.

  serve.py BENCH --engine stepd|peer --run N --results FILE --work DIR
           [--stepd BIN] [--node NODE --peers DIR] [--gen DIR]
           [--executions N] [--connections C] [--seconds S]

BENCH: serve-pass-chain | serve-pass-chain-seq | serve-start | serve-sleepers.
The engine is started fresh for each run (stepd: `serve --listen
127.0.0.1:0 --store DIR/state.db`, stopped with SIGTERM, which must exit 0;
peer: `node stepfunctions-local-start.js --port P`). Peak RSS is the
server's VmHWM from /proc just before it is stopped; server CPU seconds are
its utime + stime over the timed part.
"""
import argparse
import http.client
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

ROLE = "arn:aws:iam::123456789012:role/bench"
WAIT_3600 = {"Comment": "one Wait of an hour: a cheap, sleeping execution",
             "StartAt": "Sleep", "States": {"Sleep": {"Type": "Wait", "Seconds": 3600, "End": True}}}
TICK = os.sysconf("SC_CLK_TCK")
STARTUP_SECONDS = 300  # recovery of 100,000 sleeping executions included


def say(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


# --- engines ------------------------------------------------------------------
class Engine:
    """A server process; .port, .pid, .stop() -> exit status."""

    def proc_status(self):
        """VmRSS and VmHWM (kB) of the server process."""
        out = {}
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    out[line.split(":")[0]] = int(line.split()[1])
        return out

    def cpu_seconds(self):
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime

    def stop(self, timeout=60):
        if self.proc.poll() is not None:
            return self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return "ignored SIGTERM for %ds" % timeout


class Stepd(Engine):
    name = "stepd"

    def __init__(self, binary, store, log):
        self.binary, self.store, self.log = binary, store, log
        self.start()

    def start(self):
        binary, store, log = self.binary, self.store, self.log
        self.proc = subprocess.Popen([binary, "serve", "--listen", "127.0.0.1:0", "--store", store],
                                     stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL)
        t0 = time.time()
        # a server that never says where it listens (hung in recovery) is killed
        timer = threading.Timer(STARTUP_SECONDS, self.proc.kill)
        timer.start()
        while True:
            line = self.proc.stdout.readline()
            if not line:
                timer.cancel()
                self.proc.wait()
                raise RuntimeError("stepd serve exited or hung (killed after %d s) before listening (status %s)"
                                   % (STARTUP_SECONDS, self.proc.returncode))
            m = re.search(rb"listening on http://[^\s:]+:(\d+)", line)
            if m:
                self.port = int(m.group(1))
                self.ready_seconds = time.time() - t0
                timer.cancel()
                break
        # keep draining stdout so the server never blocks on a full pipe
        threading.Thread(target=lambda: [None for _ in self.proc.stdout], daemon=True).start()

    def db_bytes(self):
        """(state.db, -wal, -shm) sizes in bytes."""
        return tuple(os.path.getsize(p) if os.path.exists(p) else 0
                     for p in (self.store, self.store + "-wal", self.store + "-shm"))


def listen_on_free_port(argv_for, what, log):
    """Starts argv_for(port) on a free loopback port and waits (30 s at
    most) until it accepts connections: (process, port)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(argv_for(port), stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    deadline = time.time() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), 0.5).close()
            return proc, port
        except OSError:
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("%s did not listen on port %d" % (what, port))
            time.sleep(0.05)


class Peer(Engine):
    name = "peer"

    def __init__(self, node, peers, log):
        start = os.path.join(peers, "node_modules", "stepfunctions-local", "bin", "stepfunctions-local-start.js")
        self.proc, self.port = listen_on_free_port(lambda port: [node, start, "--port", str(port)],
                                                   "stepfunctions-local", log)


# --- the API ------------------------------------------------------------------
class ApiError(Exception):
    pass


class Api:
    """One keep-alive connection. It is opened anew after 2 s idle: servers
    close idle keep-alive connections (node after 5 s), and a request sent
    on one that was just closed gets no answer."""

    def __init__(self, port):
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.used = time.monotonic()

    def call(self, op, body):
        if time.monotonic() - self.used > 2:
            self.conn.close()
        self.conn.request("POST", "/", body=json.dumps(body), headers={
            "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "AWSStepFunctions." + op})
        r = self.conn.getresponse()
        data = r.read()
        self.used = time.monotonic()
        if r.status != 200:
            raise ApiError("%s -> HTTP %d: %s" % (op, r.status, data[:300].decode("utf-8", "replace")))
        return json.loads(data) if data else {}

    def close(self):
        self.conn.close()


def create_machine(api, name, definition):
    return api.call("CreateStateMachine", {"name": name, "definition": json.dumps(definition),
                                           "roleArn": ROLE, "type": "STANDARD"})["stateMachineArn"]


def run_one(api, sm, name, input_text):
    """StartExecution + DescribeExecution polled back to back; returns
    (output, polls)."""
    arn = api.call("StartExecution", {"stateMachineArn": sm, "name": name, "input": input_text})["executionArn"]
    polls = 0
    while True:
        d = api.call("DescribeExecution", {"executionArn": arn})
        polls += 1
        if d["status"] != "RUNNING":
            if d["status"] != "SUCCEEDED":
                raise ApiError("execution %s: %s" % (d["status"], json.dumps(d)[:300]))
            return json.loads(d["output"]), polls


def count_executions(api, sm, status=None, limit_seconds=300):
    n, token, t0 = 0, None, time.time()
    while True:
        body = {"stateMachineArn": sm, "maxResults": 1000}
        if status:
            body["statusFilter"] = status
        if token:
            body["nextToken"] = token
        page = api.call("ListExecutions", body)
        n += len(page.get("executions", []))
        token = page.get("nextToken")
        if not token or time.time() - t0 > limit_seconds:
            return n


def start_many(port, sm, names, input_text, connections):
    """StartExecution for every name (None: no name, a fresh execution)
    over `connections` keep-alive connections (threads); returns the
    errors (strings)."""
    lock = threading.Lock()
    it = iter(names)
    errors = []
    end = object()

    def work():
        api = Api(port)
        while True:
            with lock:
                name = next(it, end)
            if name is end:
                break
            body = {"stateMachineArn": sm, "input": input_text}
            if name:
                body["name"] = name
            try:
                api.call("StartExecution", body)
            except (ApiError, OSError, http.client.HTTPException) as e:
                with lock:
                    errors.append(str(e))
                api.close()
                api = Api(port)
        api.close()

    ts = [threading.Thread(target=work) for _ in range(connections)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return errors


def client_cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def pass_chain_ok(out):
    return (isinstance(out, dict) and len([k for k in out if k.startswith("f")]) == 100
            and out.get("f100", {}).get("step") == 100)


# --- the benches --------------------------------------------------------------
def bench_pass_chain(eng, a):
    """N executions started at once over C connections, then ListExecutions
    (RUNNING) polled until it is empty."""
    definition = json.load(open(os.path.join(a.gen, "pass-chain-100.asl.json")))
    input_text = open(os.path.join(a.gen, "pass-chain-100.input.json")).read().strip()
    api = Api(eng.port)
    sm = create_machine(api, "pass-chain-100", definition)
    for i in range(10):  # warm-up, excluded
        run_one(api, sm, "w%d" % i, input_text)
    n = a.executions
    cpu0, t0, ccpu0 = eng.cpu_seconds(), time.perf_counter(), client_cpu()
    errors = start_many(eng.port, sm, ["b%d" % i for i in range(n)], input_text, a.connections)
    started = time.perf_counter() - t0
    polls = 0
    while api.call("ListExecutions", {"stateMachineArn": sm, "statusFilter": "RUNNING",
                                      "maxResults": 1}).get("executions"):
        polls += 1
        time.sleep(0.005)
    seconds = time.perf_counter() - t0
    cpu, ccpu = eng.cpu_seconds() - cpu0, client_cpu() - ccpu0
    succeeded = count_executions(api, sm, "SUCCEEDED") - 10
    d = api.call("DescribeExecution", {"executionArn": sm.replace(":stateMachine:", ":execution:") + ":b%d" % (n - 1)})
    ok = not errors and succeeded == n and pass_chain_ok(json.loads(d.get("output") or "null"))
    api.close()
    return ok, {"executions": n, "connections": a.connections, "seconds": seconds,
                "start_seconds": started, "transitions_per_second": 100 * n / seconds,
                "executions_per_second": n / seconds, "succeeded": succeeded,
                "start_errors": len(errors), "first_error": errors[0] if errors else None,
                "server_cpu_seconds": cpu, "client_cpu_seconds": ccpu, "running_polls": polls}


def bench_pass_chain_seq(eng, a):
    """The peer harness's shape (run-sfnapi.mjs): one connection, per
    execution StartExecution then DescribeExecution polled back to back."""
    definition = json.load(open(os.path.join(a.gen, "pass-chain-100.asl.json")))
    input_text = open(os.path.join(a.gen, "pass-chain-100.input.json")).read().strip()
    api = Api(eng.port)
    sm = create_machine(api, "pass-chain-100-seq", definition)
    for i in range(10):
        run_one(api, sm, "w%d" % i, input_text)
    n = a.executions
    lat, polls, ok = [], 0, True
    cpu0, t0, ccpu0 = eng.cpu_seconds(), time.perf_counter(), client_cpu()
    for i in range(n):
        s = time.perf_counter()
        out, p = run_one(api, sm, "e%d" % i, input_text)
        lat.append(time.perf_counter() - s)
        polls += p
        if i in (0, n - 1) and not pass_chain_ok(out):
            ok = False
    seconds = time.perf_counter() - t0
    cpu, ccpu = eng.cpu_seconds() - cpu0, client_cpu() - ccpu0
    api.close()
    lat.sort()
    return ok, {"executions": n, "seconds": seconds, "transitions_per_second": 100 * n / seconds,
                "executions_per_second": n / seconds,
                "latency_ms_mean": 1e3 * sum(lat) / n, "latency_ms_p50": 1e3 * lat[n // 2],
                "latency_ms_p99": 1e3 * lat[min(n - 1, int(0.99 * n))],
                "describe_polls": polls, "server_cpu_seconds": cpu, "client_cpu_seconds": ccpu}


WRK_LUA = r"""-- StartExecution with no name: every request creates a fresh execution.
wrk.method = "POST"
wrk.body = %s
wrk.headers["Content-Type"] = "application/x-amz-json-1.0"
wrk.headers["X-Amz-Target"] = "AWSStepFunctions.StartExecution"
local threads = {}
function setup(thread) table.insert(threads, thread) end
function init(args) ok2xx = 0; non2xx = 0; sample = "" end
function response(status, headers, body)
  if status >= 200 and status < 300 then ok2xx = ok2xx + 1
  else
    non2xx = non2xx + 1
    if sample == "" then sample = status .. " " .. string.gsub(string.sub(body, 1, 200), '[%%c"\\]', " ") end
  end
end
function done(summary, latency, requests)
  local ok, bad, smp = 0, 0, ""
  for _, t in ipairs(threads) do
    ok = ok + t:get("ok2xx"); bad = bad + t:get("non2xx")
    if smp == "" then smp = t:get("sample") end
  end
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%%d,"duration_us":%%d,"ok2xx":%%d,"non2xx":%%d,' ..
    '"socket_errors":%%d,"timeouts":%%d,"latency_us_p50":%%d,"latency_us_p99":%%d,"latency_us_max":%%d,"sample":"%%s"}\n',
    summary.requests, summary.duration, ok, bad, e.connect + e.read + e.write, e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max, smp))
end
"""


def lua_string(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def bench_start(eng, a):
    """wrk, C keep-alive connections, StartExecution of a one-Wait machine."""
    api = Api(eng.port)
    sm = create_machine(api, "wait-3600", WAIT_3600)
    script = os.path.join(a.work, "start.lua")
    with open(script, "w") as f:
        f.write(WRK_LUA % lua_string(json.dumps({"stateMachineArn": sm, "input": "{\"k\":1}"})))
    cmd = ["wrk", "-t", str(a.threads), "-c", str(a.connections), "-d", "%ds" % a.seconds,
           "--timeout", "10s", "-s", script, "http://127.0.0.1:%d/" % eng.port]
    cpu0 = eng.cpu_seconds()
    p = subprocess.run(cmd, capture_output=True, text=True)
    cpu = eng.cpu_seconds() - cpu0
    m = re.search(r"^WRKJSON (\{.*\})$", p.stdout, re.M)
    if p.returncode != 0 or not m:
        raise RuntimeError("wrk failed (%d): %s %s" % (p.returncode, p.stdout[-500:], p.stderr[-500:]))
    w = json.loads(m.group(1))
    seconds = w["duration_us"] / 1e6
    # every 2xx answer is an execution; requests in flight when wrk stopped may add up to C more
    t0 = time.time()
    listed = count_executions(api, sm, limit_seconds=120)
    api.close()
    ok = (w["non2xx"] == 0 and w["socket_errors"] == 0 and w["timeouts"] == 0
          and w["ok2xx"] <= listed <= w["ok2xx"] + a.connections)
    return ok, {"connections": a.connections, "wrk_threads": a.threads, "seconds": seconds,
                "requests": w["requests"], "requests_per_second": w["requests"] / seconds,
                "ok2xx": w["ok2xx"], "non2xx": w["non2xx"], "socket_errors": w["socket_errors"],
                "timeouts": w["timeouts"], "non2xx_sample": w["sample"] or None,
                "latency_ms_p50": w["latency_us_p50"] / 1e3, "latency_ms_p99": w["latency_us_p99"] / 1e3,
                "executions_listed": listed, "list_seconds": time.time() - t0, "server_cpu_seconds": cpu}


def wait_quiet(eng, max_seconds=120):
    """Waits until the server used < 2% of a core over two 0.5 s samples."""
    t0, calm = time.time(), 0
    while time.time() - t0 < max_seconds:
        c0 = eng.cpu_seconds()
        time.sleep(0.5)
        calm = calm + 1 if eng.cpu_seconds() - c0 < 0.011 else 0
        if calm >= 2:
            break
    return time.time() - t0


def bench_sleepers(eng, a):
    """N executions of a one-Wait (3600 s) machine; server RSS and database
    bytes per sleeping execution once it is quiet; then a restart."""
    api = Api(eng.port)
    sm = create_machine(api, "wait-3600", WAIT_3600)
    n = a.executions
    rss0 = eng.proc_status()["VmRSS"]
    t0, cpu0, ccpu0 = time.perf_counter(), eng.cpu_seconds(), client_cpu()
    errors = start_many(eng.port, sm, [None] * n, "{\"k\":1}", a.connections)
    start_seconds = time.perf_counter() - t0
    cpu, ccpu = eng.cpu_seconds() - cpu0, client_cpu() - ccpu0
    quiet = wait_quiet(eng)
    st = eng.proc_status()
    db, wal, shm = eng.db_bytes()
    running = count_executions(api, sm, "RUNNING")
    api.close()
    row = {"executions": n, "connections": a.connections, "start_seconds": start_seconds,
           "starts_per_second": n / start_seconds, "quiet_after_seconds": quiet,
           "server_cpu_seconds": cpu, "client_cpu_seconds": ccpu,
           "rss_kb_before": rss0, "rss_kb": st["VmRSS"], "hwm_kb": st["VmHWM"],
           "db_bytes": db, "wal_bytes": wal, "shm_bytes": shm,
           "bytes_per_execution": (db + wal) / n, "running": running,
           "start_errors": len(errors), "first_error": errors[0] if errors else None}
    row["max_rss_kb"] = st["VmHWM"]  # this server's; the restarted one's is restart_*
    ok = not errors and running == n
    if eng.name == "stepd":
        # restart on the same store: how long until it listens, and its RSS then
        row["stop_status"] = eng.stop()
        eng.start()
        row["restart_ready_seconds"] = eng.ready_seconds
        time.sleep(1)
        st = eng.proc_status()
        row["restart_rss_kb"], row["restart_hwm_kb"] = st["VmRSS"], st["VmHWM"]
        api = Api(eng.port)
        row["running_after_restart"] = count_executions(api, sm, "RUNNING")
        api.close()
        ok = ok and row["stop_status"] == 0 and row["running_after_restart"] == n
    return ok, row


BENCHES = {"serve-pass-chain": bench_pass_chain, "serve-pass-chain-seq": bench_pass_chain_seq,
           "serve-start": bench_start, "serve-sleepers": bench_sleepers}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("bench", choices=sorted(BENCHES))
    ap.add_argument("--engine", choices=("stepd", "peer"), required=True)
    ap.add_argument("--run", type=int, default=1)
    ap.add_argument("--results", required=True)
    ap.add_argument("--work", required=True, help="scratch folder (the store, logs)")
    ap.add_argument("--stepd", default="build/stepd")
    ap.add_argument("--node", default="node")
    ap.add_argument("--peers", default="bench/peers")
    ap.add_argument("--gen", default="build/bench")
    ap.add_argument("--executions", type=int, default=1000)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--threads", type=int, default=1, help="wrk threads")
    ap.add_argument("--seconds", type=int, default=10, help="wrk duration")
    a = ap.parse_args()
    a.stepd = os.path.abspath(a.stepd)
    work = tempfile.mkdtemp(prefix="%s-%s-" % (a.bench, a.engine), dir=a.work)
    a.work = work
    log = open(os.path.join(work, "server.log"), "ab")
    row = {"engine": a.engine, "bench": a.bench, "run": a.run}
    eng = None
    try:
        if a.engine == "stepd":
            eng = Stepd(a.stepd, os.path.join(work, "state.db"), log)
        else:
            eng = Peer(a.node, a.peers, log)
        ok, m = BENCHES[a.bench](eng, a)
        row.update(m)
        if eng.proc.poll() is None:
            st = eng.proc_status()
            row.setdefault("max_rss_kb", st["VmHWM"])
            row["end_rss_kb"] = st["VmRSS"]
        rc = eng.stop()
        if a.engine == "stepd":
            row["exit_status"] = rc
            ok = ok and rc == 0
        row["ok"] = bool(ok)
    except Exception as e:  # one line in the results; the table says n/a
        row["ok"] = False
        row["error"] = "%s: %s" % (type(e).__name__, e)
        if eng and eng.proc.poll() is None:
            eng.proc.kill()
            eng.proc.wait()
    log.close()
    with open(a.results, "a") as f:
        f.write(json.dumps(row) + "\n")
    brief = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()}
    say(json.dumps(brief))
    if not row["ok"]:
        with open(os.path.join(work, "server.log"), "rb") as f:
            tail = f.read()[-1500:].decode("utf-8", "replace")
        say("%s %s: not ok; server log %s ends:\n%s" % (a.engine, a.bench, os.path.join(work, "server.log"), tail))
        sys.exit(1)
    if os.environ.get("KEEP_WORK") != "1":
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
