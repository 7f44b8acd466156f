#!/usr/bin/env python3
"""DynamoDB API benchmarks: PutItem and GetItem over HTTP, 32 keep-alive
connections (wrk), against `stepd serve` on a SQLite file store (every
PutItem committed before it is answered) and against the peer dynalite (a
DynamoDB emulator in node, in memory). One engine, one bench, one run;
appends one JSON line to RESULTS. bench/ddb.sh calls it.

  ddb.py run --bench ddb-put|ddb-get --engine stepd|peer --run N --results F
             --work DIR [--stepd BIN] [--node NODE --peers DIR]
             [--connections 32] [--threads 2] [--seconds 10] [--items 10000]
  ddb.py table --results F

ddb-put: wrk with bench/ddb/put.lua, a new item per request (~150 bytes).
Afterwards the table must hold every answered PutItem (stepd: ItemCount;
the peer: a Scan with Select COUNT). ddb-get: --items items are loaded
first (BatchWriteItem), then wrk with bench/ddb/get.lua reads random ones;
every answer must hold its Item. Peak RSS is the server's VmHWM."""
import argparse
import http.client
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve import Engine, Stepd, listen_on_free_port  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
AUTH = {"X-Amz-Date": "20261206T000000Z",
        "Authorization": "AWS4-HMAC-SHA256 Credential=bench/20261206/us-east-1/dynamodb/aws4_request, "
                         "SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=0"}


def say(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


class Dynalite(Engine):
    name = "peer"

    def __init__(self, node, peers, log):
        cli = os.path.join(peers, "node_modules", "dynalite", "cli.js")
        # tables are ACTIVE at once, as stepd makes them
        self.proc, self.port = listen_on_free_port(
            lambda port: [node, cli, "--port", str(port), "--createTableMs", "0"], "dynalite", log)


def call(port, op, body):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    h = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810." + op}
    h.update(AUTH)
    c.request("POST", "/", json.dumps(body), h)
    r = c.getresponse()
    data = r.read()
    c.close()
    if r.status != 200:
        raise RuntimeError("%s: %d %s" % (op, r.status, data[:300]))
    return json.loads(data)


def setup(port, items):
    call(port, "CreateTable", {"TableName": "bench", "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
                               "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
                               "BillingMode": "PAY_PER_REQUEST"})
    for _ in range(100):
        if call(port, "DescribeTable", {"TableName": "bench"})["Table"]["TableStatus"] == "ACTIVE":
            break
        time.sleep(0.1)
    pad = "x" * 100
    for start in range(0, items, 25):
        reqs = [{"PutRequest": {"Item": {"id": {"S": "p-%d" % i}, "amount": {"N": "%d.5" % i},
                                         "note": {"S": pad}}}}
                for i in range(start, min(items, start + 25))]
        left = {"bench": reqs}
        while left:
            left = call(port, "BatchWriteItem", {"RequestItems": left}).get("UnprocessedItems") or None


def count(port):
    n, start = 0, None
    while True:
        body = {"TableName": "bench", "Select": "COUNT"}
        if start:
            body["ExclusiveStartKey"] = start
        r = call(port, "Scan", body)
        n += r["Count"]
        start = r.get("LastEvaluatedKey")
        if not start:
            return n


def run(a):
    row = {"bench": a.bench, "engine": a.engine, "run": a.run, "connections": a.connections,
           "seconds_asked": a.seconds}
    os.makedirs(a.work, exist_ok=True)
    log = open(os.path.join(a.work, "%s-%s.log" % (a.engine, a.bench)), "ab")
    store = os.path.join(a.work, "state.db")
    for p in (store, store + "-wal", store + "-shm"):
        if os.path.exists(p):
            os.unlink(p)
    eng = Stepd(a.stepd, store, log) if a.engine == "stepd" else Dynalite(a.node, a.peers, log)
    ok = False
    try:
        setup(eng.port, a.items if a.bench == "ddb-get" else 0)
        script = os.path.join(HERE, "ddb", "put.lua" if a.bench == "ddb-put" else "get.lua")
        env = dict(os.environ, DDB_ITEMS=str(a.items))
        c0 = eng.cpu_seconds()
        out = subprocess.run(["wrk", "-t%d" % a.threads, "-c%d" % a.connections, "-d%ds" % a.seconds,
                              "--latency", "-s", script, "http://127.0.0.1:%d/" % eng.port],
                             capture_output=True, text=True, env=env, timeout=a.seconds + 120)
        res = [json.loads(l) for l in out.stdout.splitlines() if l.startswith("{")]
        if not res:
            raise RuntimeError("wrk printed no result: " + (out.stderr or out.stdout)[-300:])
        r = res[-1]
        row.update(r)
        row["server_cpu_seconds"] = eng.cpu_seconds() - c0
        row["requests_per_second"] = r["requests"] / r["seconds"]
        row["max_rss_kb"] = eng.proc_status()["VmHWM"]
        if a.bench == "ddb-put":
            # every answered PutItem is in the table (one new key each)
            row["items_after"] = count(eng.port)
            ok = r["bad"] == 0 and r["non2xx"] == 0 and row["items_after"] >= r["requests"] - r["errors"]
        else:
            ok = r["bad"] == 0 and r["non2xx"] == 0
    except Exception as e:  # a failed run is a row, not a crash of the whole bench
        row["error"] = str(e)
        say("%s %s run %d failed: %s" % (a.engine, a.bench, a.run, e))
    finally:
        rc = eng.stop()
        log.close()
    row["exit_status"] = rc
    # stepd must exit 0 on SIGTERM; node dies of the signal
    row["ok"] = bool(ok and (rc == 0 or a.engine == "peer"))
    with open(a.results, "a") as f:
        f.write(json.dumps(row) + "\n")


def table(a):
    rows = [json.loads(l) for l in open(a.results) if l.strip()]

    def med(sel, key):
        v = sorted(r[key] for r in rows if r.get("ok") and all(r.get(k) == x for k, x in sel.items())
                   and r.get(key) is not None)
        return v[len(v) // 2] if v else None

    def f(v, fmt):
        return fmt.format(v) if v is not None else "n/a"

    head = ["bench", "stepd req/s", "p50 ms", "p99 ms", "peer req/s", "p50 ms", "p99 ms", "stepd/peer",
            "stepd RSS", "peer RSS"]
    lines = []
    for b in ("ddb-put", "ddb-get"):
        s, p = {"bench": b, "engine": "stepd"}, {"bench": b, "engine": "peer"}
        if not any(r.get("bench") == b for r in rows):
            continue
        sr, pr = med(s, "requests_per_second"), med(p, "requests_per_second")
        lines.append([b, f(sr, "{:,.0f}"), f(med(s, "p50_ms"), "{:.2f}"), f(med(s, "p99_ms"), "{:.2f}"),
                      f(pr, "{:,.0f}"), f(med(p, "p50_ms"), "{:.2f}"), f(med(p, "p99_ms"), "{:.2f}"),
                      f(sr / pr if sr and pr else None, "{:.1f}x"),
                      f((med(s, "max_rss_kb") or 0) / 1024 or None, "{:.1f} MB"),
                      f((med(p, "max_rss_kb") or 0) / 1024 or None, "{:.1f} MB")])
    w = [max(len(str(x)) for x in col) for col in zip(head, *lines)]
    for l in [head] + lines:
        print("  ".join(str(x).ljust(w[i]) if i == 0 else str(x).rjust(w[i]) for i, x in enumerate(l)))
    n = max([r["run"] for r in rows] or [0])
    print("medians of up to %d run(s); wrk, %s keep-alive connections; stepd: `stepd serve`, SQLite file "
          "store, each PutItem committed before its answer; peer: dynalite (node, in memory)"
          % (n, rows[0].get("connections") if rows else "?"))
    for r in rows:
        if not r.get("ok"):
            print("not ok: %s %s run %s: %s" % (r["engine"], r["bench"], r["run"],
                                               r.get("error") or {k: r.get(k) for k in
                                                                  ("bad", "non2xx", "errors", "items_after",
                                                                   "exit_status")}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("what", choices=("run", "table"))
    ap.add_argument("--bench", choices=("ddb-put", "ddb-get"))
    ap.add_argument("--engine", choices=("stepd", "peer"))
    ap.add_argument("--run", type=int, default=1)
    ap.add_argument("--results", required=True)
    ap.add_argument("--work", default="build/bench/ddb-work")
    ap.add_argument("--stepd", default="build/stepd")
    ap.add_argument("--node", default="node")
    ap.add_argument("--peers", default="bench/peers")
    ap.add_argument("--connections", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--items", type=int, default=10000)
    a = ap.parse_args()
    run(a) if a.what == "run" else table(a)


if __name__ == "__main__":
    main()
