#!/usr/bin/env python3
"""Bench bookkeeping for bench/run.sh.

  table.py record RESULTS ENGINE BENCH RUN RC RSS_KB EXECS TRANS  < stdout
      reads what one engine printed for one run (stepd: a JSON object with a
      "bench" member; the peer harness: a flat JSON object), appends one line
      to RESULTS (JSON lines), exits 1 when the run gave no measurement.
  table.py table RESULTS
      prints the medians per bench side by side.

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


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "record" and len(sys.argv) == 10:
        sys.exit(record(*sys.argv[2:]))
    if len(sys.argv) == 3 and sys.argv[1] == "table":
        table(sys.argv[2])
        return
    sys.exit(__doc__)


if __name__ == "__main__":
    main()
