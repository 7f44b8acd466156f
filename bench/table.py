#!/usr/bin/env python3
"""Bench bookkeeping for bench/run.sh.

  table.py record RESULTS ENGINE BENCH RUN RC RSS_KB EXECS TRANS  < stdout
      reads what one engine printed for one run (stepd: a JSON object with a
      "bench" member; the peer harness: a flat JSON object), appends one line
      to RESULTS (JSON lines), exits 1 when the run gave no measurement.
  table.py table RESULTS
      prints the medians per bench side by side.
  table.py serve RESULTS
      prints the service benches (bench/serve.sh, rows written by
      bench/serve.py): medians per bench, stepd against the peer
      stepfunctions-local and against the targets.

transitions/s is computed the same way for both engines: the bench's states
entered per execution (TRANS) x executions / the timed seconds. stepd's own
count is kept too, and a mismatch is flagged in the table.
"""
import json
import statistics
import sys


def parse_object(text):
    text = text.strip()
    if not text:
        return None
    try:
        v = json.loads(text)
        return v if isinstance(v, dict) else None
    except ValueError:
        pass
    # Something printed before or after it: take the last object that parses.
    dec = json.JSONDecoder()
    found = None
    for i, ch in enumerate(text):
        if ch == "{":
            try:
                v, _ = dec.raw_decode(text[i:])
            except ValueError:
                continue
            if isinstance(v, dict):
                found = v
    return found


def record(path, engine, bench, run, rc, rss, execs, trans):
    obj = parse_object(sys.stdin.read())
    m = None
    if obj is not None:
        m = obj.get("bench") if engine == "stepd" else obj
    row = {"engine": engine, "bench": bench, "run": int(run), "rc": int(rc)}
    ok = int(rc) == 0 and isinstance(m, dict) and m.get("seconds")
    if ok:
        seconds = float(m["seconds"])
        execs, trans = int(execs), int(trans)
        row.update({
            "executions": int(m.get("executions", execs)),
            "seconds": seconds,
            "transitions_per_second": trans * execs / seconds if seconds > 0 else None,
            "engine_transitions": m.get("transitions"),
            "expected_transitions": trans * execs,
            "executions_per_second": execs / seconds if seconds > 0 else None,
            "max_rss_kb": int(rss) if rss and rss.isdigit() else m.get("max_rss_kb"),
        })
        if engine == "stepd" and obj.get("status") not in (None, "SUCCEEDED"):
            row["status"] = obj.get("status")
            ok = False
    row["ok"] = bool(ok)
    with open(path, "a") as f:
        f.write(json.dumps(row) + "\n")
    if not ok:
        if obj is not None and obj.get("status") not in (None, "SUCCEEDED"):
            why = f"{obj.get('status')}: {obj.get('error')}: {str(obj.get('cause'))[:160]}"
        elif int(rc):
            why = f"exit {rc}"
        else:
            why = 'no "bench" member in its output' if engine == "stepd" else "no measurement in its output"
        print(f"bench: {engine} {bench}: n/a ({why})", file=sys.stderr)
        return 1
    return 0


def fmt_int(v):
    return "n/a" if v is None else f"{v:,.0f}"


def fmt_mb(kb):
    return "n/a" if kb is None else f"{kb / 1024:.1f} MB"


def table(path):
    rows = [json.loads(line) for line in open(path) if line.strip()]
    benches = []
    for r in rows:
        if r["bench"] not in benches:
            benches.append(r["bench"])

    def med(bench, engine, key):
        vals = [r[key] for r in rows if r["bench"] == bench and r["engine"] == engine
                and r.get("ok") and r.get(key) is not None]
        return statistics.median(vals) if vals else None

    head = ["bench", "stepd transitions/s", "peer transitions/s", "stepd/peer",
            "stepd peak RSS", "peer peak RSS"]
    lines = [head]
    notes = []
    for b in benches:
        s, p = med(b, "stepd", "transitions_per_second"), med(b, "peer", "transitions_per_second")
        ratio = f"{s / p:.1f}x" if s and p else "n/a"
        lines.append([b, fmt_int(s), fmt_int(p), ratio,
                      fmt_mb(med(b, "stepd", "max_rss_kb")), fmt_mb(med(b, "peer", "max_rss_kb"))])
        for r in rows:
            if (r["bench"] == b and r["engine"] == "stepd" and r.get("ok")
                    and r.get("engine_transitions") not in (None, r["expected_transitions"])):
                notes.append(f"{b}: stepd counted {r['engine_transitions']} transitions, "
                             f"the bench expects {r['expected_transitions']}")
                break
    widths = [max(len(str(l[i])) for l in lines) for i in range(len(head))]
    for n, l in enumerate(lines):
        print("| " + " | ".join(str(c).ljust(widths[i]) if i == 0 else str(c).rjust(widths[i])
                                for i, c in enumerate(l)) + " |")
        if n == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    runs = max((r["run"] for r in rows), default=0)
    print(f"\nmedians of {runs} run(s); peer = aws-local-stepfunctions; "
          "transitions/s = states entered per execution x executions / timed seconds; "
          "peak RSS from /usr/bin/time")
    for n in notes:
        print("note: " + n)


# bench -> (what is measured, key, unit, target, "min"|"max"): the row's
# figure is the median of the key over the runs that were ok.
SERVE_ROWS = [
    ("serve-pass-chain", "pass-chain-100, executions started at once", "transitions_per_second", "/s", 100000, "min"),
    ("serve-pass-chain-seq", "pass-chain-100, start + describe polled, one by one",
     "transitions_per_second", "/s", None, None),
    ("serve-start", "StartExecution requests (wrk)", "requests_per_second", "/s", 10000, "min"),
    ("serve-sleepers", "server RSS with the sleepers", "rss_kb", "kB", 200 * 1024, "max"),
    ("serve-sleepers", "bytes per sleeping execution (db + wal)", "bytes_per_execution", "B", None, None),
]


def fmt_unit(v, unit):
    if v is None:
        return "n/a"
    if unit == "kB":
        return fmt_mb(v)
    if unit == "B":
        return f"{v:,.0f} B"
    return f"{v:,.0f}{unit}"


def serve_table(path):
    rows = [json.loads(line) for line in open(path) if line.strip()]

    def runs(bench, engine):
        return [r for r in rows if r["bench"] == bench and r["engine"] == engine]

    def med(bench, engine, key):
        vals = [r[key] for r in runs(bench, engine) if r.get("ok") and r.get(key) is not None]
        return statistics.median(vals) if vals else None

    def setting(bench, key):  # a bench's parameter, whichever engine ran it
        return med(bench, "stepd", key) or med(bench, "peer", key)

    head = ["bench", "measure", "stepd", "peer", "stepd/peer", "target", "vs target",
            "stepd peak RSS", "peer peak RSS"]
    lines = [head]
    present = {r["bench"] for r in rows}
    for bench, what, key, unit, target, kind in SERVE_ROWS:
        if bench not in present:
            continue
        s, p = med(bench, "stepd", key), med(bench, "peer", key)
        if key == "rss_kb":
            n = setting(bench, "executions")
            what += f" ({n:,.0f})" if n else ""
        elif bench == "serve-pass-chain":
            n, c = setting(bench, "executions"), setting(bench, "connections")
            what += f" ({n:,.0f}, {c:.0f} conns)" if n and c else ""
        elif bench == "serve-start":
            c = setting(bench, "connections")
            what += f", {c:.0f} conns" if c else ""
        ratio = f"{s / p:.1f}x" if s and p else "n/a"
        if kind == "min":
            tgt, vs = f">= {fmt_unit(target, unit)}", ("n/a" if s is None else f"{s / target:.2f}x")
        elif kind == "max":
            tgt = f"< {fmt_unit(target, unit)}"
            vs = "n/a" if s is None else ("met" if s < target else "missed")
        else:
            tgt = vs = "-"
        lines.append([bench, what, fmt_unit(s, unit), fmt_unit(p, unit), ratio, tgt, vs,
                      fmt_mb(med(bench, "stepd", "max_rss_kb")),
                      fmt_mb(med(bench, "peer", "max_rss_kb"))])
    widths = [max(len(str(l[i])) for l in lines) for i in range(len(head))]
    for n, l in enumerate(lines):
        print("| " + " | ".join(str(c).ljust(widths[i]) if i < 2 else str(c).rjust(widths[i])
                                for i, c in enumerate(l)) + " |")
        if n == 0:
            print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    nruns = max((r["run"] for r in rows), default=0)
    print(f"\nmedians of up to {nruns} run(s), a fresh server each; stepd: `stepd serve`, STANDARD "
          "executions on a SQLite file store; peer = stepfunctions-local 1.3.1 (in memory); both over "
          "HTTP/1.1 keep-alive on 127.0.0.1, no proxy in front; peak RSS = the server's VmHWM")
    for eng in ("stepd", "peer"):
        seq = med("serve-pass-chain-seq", eng, "latency_ms_mean")
        if seq is not None:
            print(f"{eng} serve-pass-chain-seq: mean latency {seq:.2f} ms, "
                  f"p99 {med('serve-pass-chain-seq', eng, 'latency_ms_p99'):.2f} ms per execution")
        st = [r for r in runs("serve-start", eng) if "requests" in r]
        if st:
            print(f"{eng} serve-start: non-2xx {sum(r['non2xx'] for r in st)}, socket errors "
                  f"{sum(r['socket_errors'] + r['timeouts'] for r in st)} over {len(st)} run(s); "
                  f"p50 {med('serve-start', eng, 'latency_ms_p50'):.2f} ms, "
                  f"p99 {med('serve-start', eng, 'latency_ms_p99'):.2f} ms")
        cpu = med("serve-pass-chain", eng, "server_cpu_seconds")
        secs = med("serve-pass-chain", eng, "seconds")
        if cpu is not None and secs:
            print(f"{eng} serve-pass-chain: server CPU {cpu:.2f} s, client CPU "
                  f"{med('serve-pass-chain', eng, 'client_cpu_seconds') or 0:.2f} s over {secs:.2f} s wall")
    for r in runs("serve-sleepers", "stepd"):
        if "rss_kb" in r:
            print(f"stepd serve-sleepers run {r['run']}: {r['executions']:,} started in {r['start_seconds']:.1f} s "
                  f"({r['starts_per_second']:,.0f}/s over {r['connections']} conns; CPU: server "
                  f"{r.get('server_cpu_seconds', 0):.1f} s, client {r.get('client_cpu_seconds', 0):.1f} s), "
                  f"RSS {fmt_mb(r['rss_kb'])} "
                  f"(VmHWM {fmt_mb(r['hwm_kb'])}), state.db {r['db_bytes'] / 1e6:.1f} MB + wal "
                  f"{r['wal_bytes'] / 1e6:.1f} MB, {r.get('running'):,} RUNNING; restart: listening after "
                  f"{r.get('restart_ready_seconds', float('nan')):.2f} s, RSS {fmt_mb(r.get('restart_rss_kb'))} "
                  f"(VmHWM {fmt_mb(r.get('restart_hwm_kb'))}), "
                  f"{r.get('running_after_restart', 0):,} RUNNING")
    for r in rows:
        if not r.get("ok"):
            why = r.get("error") or r.get("first_error") or r.get("non2xx_sample") or {
                k: r.get(k) for k in ("exit_status", "succeeded", "executions_listed", "ok2xx", "running",
                                      "running_after_restart", "stop_status") if k in r}
            print(f"not ok: {r['engine']} {r['bench']} run {r['run']}: {why}")


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "serve":
        serve_table(sys.argv[2])
        return
    if len(sys.argv) >= 3 and sys.argv[1] == "record" and len(sys.argv) == 10:
        sys.exit(record(*sys.argv[2:]))
    if len(sys.argv) == 3 and sys.argv[1] == "table":
        table(sys.argv[2])
        return
    sys.exit(__doc__)


if __name__ == "__main__":
    main()
