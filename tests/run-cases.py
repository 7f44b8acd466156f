#!/usr/bin/env python3
"""Run the data-driven cases under tests/cases through the real stepd binary.

    python3 tests/run-cases.py --stepd build/stepd tests/cases [-k TEXT] [-j 2] [-v]

Prints one line per failing case with the reason, and as its last line
"cases: N passed, N failed"; exits 1 when any case fails.

Validation cases (y_*.json, n_*.json) run `stepd validate FILE`:
  {"definition": {...} | "definition_text": "...",
   "expect_codes": [...], "expect_message_contains": [...]}
  y_ must print OK and exit 0; n_ must exit 2 with every code and message
  fragment on stderr.

Execution cases (every other *.json) run
  stepd run --definition F --input I --history [--type T] [--mock M --mock-case T] --no-wait
  {"comment": "...",
   "definition": {...} | "definition_text": "raw text",
   "input": <json> (default {}) | "input_text": "raw text" |
   "input_base64": "raw bytes, base64" (e.g. invalid UTF-8) |
   "input_generate": {"kind": "deep"|"deep_object"|"big", "n": N},
   "type": "STANDARD"|"EXPRESS",
   "mock": {"<state>": {"0": {"Return": ...}, "1-2": {"Throw": {"Error": .., "Cause": ..}}}},
   "args": [...extra CLI arguments...], "real_time": false, "timeout": 60,
   "expect": {
     "status": "SUCCEEDED"|"FAILED"|"TIMED_OUT"|"ABORTED",
     "output": <json>,            JSON values: 1 == 1.0, key order ignored;
                                  {"$regex": "..."} matches a string by re.fullmatch,
                                  {"$type": "string"|"number"|"integer"|"boolean"|
                                   "null"|"array"|"object"} matches by type
     "error": <str|null>, "cause": <str|null|{"contains": ".."}|{"regex": ".."}>,
     "history": ["ExecutionStarted", "PassStateEntered:A", ...],   exact, in order
     "history_contains": [...],   each present, in this relative order
     "history_count": {"<event>": N, ...},
     "event_times": [{"event": "TaskScheduled", "seconds": [0, 1, [2, 4]]}],
                                  seconds since ExecutionStarted of each event of
                                  that type (number, or [lo, hi])
     "exit": 0|1|2|[allowed exits], "stderr_contains": "..."}}
  On exit 2 (definition or input rejected) only exit and stderr are checked.
  Without "exit", 0 is expected for SUCCEEDED and 1 otherwise.
"""
import argparse
import base64
import concurrent.futures
import json
import math
import os
import re
import subprocess
import sys
import tempfile

MISSING = object()


# ------------------------------------------------------------------ comparison
def same(expected, actual, where="$"):
    """Returns None when actual matches expected, else a short reason."""
    if isinstance(expected, dict) and len(expected) == 1 and "$regex" in expected:
        if isinstance(actual, str) and re.fullmatch(expected["$regex"], actual, re.S):
            return None
        return f"{where}: {short(actual)} does not match /{expected['$regex']}/"
    if isinstance(expected, dict) and len(expected) == 1 and "$type" in expected:
        t = expected["$type"]
        ok = {
            "string": isinstance(actual, str),
            "number": isinstance(actual, (int, float)) and not isinstance(actual, bool),
            "integer": isinstance(actual, int) and not isinstance(actual, bool),
            "boolean": isinstance(actual, bool),
            "null": actual is None,
            "array": isinstance(actual, list),
            "object": isinstance(actual, dict),
        }.get(t, False)
        return None if ok else f"{where}: {short(actual)} is not of type {t}"
    if isinstance(expected, bool) or isinstance(actual, bool):
        if type(expected) is type(actual) and expected == actual:
            return None
        return f"{where}: expected {short(expected)}, got {short(actual)}"
    if isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        if expected == actual or (
            isinstance(expected, float) or isinstance(actual, float)
        ) and math.isclose(expected, actual, rel_tol=1e-12, abs_tol=0):
            return None
        return f"{where}: expected {short(expected)}, got {short(actual)}"
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return f"{where}: expected an object, got {short(actual)}"
        if set(expected) != set(actual):
            miss = sorted(set(expected) - set(actual))
            extra = sorted(set(actual) - set(expected))
            return f"{where}: keys differ (missing {miss}, unexpected {extra}) in {short(actual)}"
        for k in expected:
            r = same(expected[k], actual[k], f"{where}.{k}")
            if r:
                return r
        return None
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return f"{where}: expected an array, got {short(actual)}"
        if len(expected) != len(actual):
            return f"{where}: expected {len(expected)} elements, got {len(actual)}: {short(actual)}"
        for i, (e, a) in enumerate(zip(expected, actual)):
            r = same(e, a, f"{where}[{i}]")
            if r:
                return r
        return None
    if expected == actual and type(expected) is type(actual):
        return None
    return f"{where}: expected {short(expected)}, got {short(actual)}"


def text_matches(expected, actual):
    if isinstance(expected, dict):
        if actual is None:
            return False
        if "contains" in expected:
            return expected["contains"] in actual
        if "regex" in expected:
            return re.search(expected["regex"], actual, re.S) is not None
        return False
    return expected == actual


def short(v, n=200):
    s = json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else json.dumps(v)
    return s if len(s) <= n else s[:n] + "..."


def event_name(ev):
    for k in ("stateEnteredEventDetails", "stateExitedEventDetails"):
        if k in ev and isinstance(ev[k], dict) and "name" in ev[k]:
            return f"{ev['type']}:{ev[k]['name']}"
    return ev.get("type")


# ------------------------------------------------------------------ inputs
def generate_input(spec):
    kind, n = spec.get("kind"), int(spec.get("n", 0))
    if kind == "deep":
        return "[" * n + "]" * n
    if kind == "deep_object":
        return '{"a":' * n + "1" + "}" * n
    if kind == "big":
        return '{"data":"' + "x" * n + '"}'
    raise ValueError(f"unknown input_generate kind {kind!r}")


def write(path, text):
    with open(path, "w", encoding="utf-8", errors="surrogateescape") as f:
        f.write(text)


# ------------------------------------------------------------------ runners
def run_validation(stepd, path, case, tmp):
    name = os.path.basename(path)
    d = os.path.join(tmp, "definition.asl.json")
    if "definition_text" in case:
        write(d, case["definition_text"])
    else:
        write(d, json.dumps(case["definition"]))
    try:
        p = subprocess.run([stepd, "validate", d], capture_output=True, timeout=case.get("timeout", 60))
    except subprocess.TimeoutExpired:
        return "timed out"
    out = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    if p.returncode < 0:
        return f"stepd crashed (signal {-p.returncode}): {err.strip()[:300]}"
    if name.startswith("y_"):
        if p.returncode != 0 or out.strip() != "OK":
            return f"expected OK/exit 0, got exit {p.returncode}: {(out + err).strip()[:400]}"
        return None
    if p.returncode != 2:
        return f"expected exit 2 (rejected), got exit {p.returncode}: {(out + err).strip()[:400]}"
    for want in list(case.get("expect_codes", [])) + list(case.get("expect_message_contains", [])):
        if want not in err:
            return f"stderr lacks {want!r}: {err.strip()[:400]}"
    return None


def run_execution(stepd, path, case, tmp):
    d = os.path.join(tmp, "M.asl.json")
    if "definition_text" in case:
        write(d, case["definition_text"])
    else:
        write(d, json.dumps(case["definition"]))
    i = os.path.join(tmp, "input.json")
    if "input_text" in case:
        write(i, case["input_text"])
    elif "input_base64" in case:
        with open(i, "wb") as f:
            f.write(base64.b64decode(case["input_base64"]))
    elif "input_generate" in case:
        write(i, generate_input(case["input_generate"]))
    else:
        write(i, json.dumps(case.get("input", {})))
    cmd = [stepd, "run", "--definition", d, "--input", i, "--history"]
    if "type" in case:
        cmd += ["--type", case["type"]]
    if "mock" in case:
        m = os.path.join(tmp, "mock.json")
        responses = {f"R_{state}": resp for state, resp in case["mock"].items()}
        doc = {
            "StateMachines": {"M": {"TestCases": {"T": {s: f"R_{s}" for s in case["mock"]}}}},
            "MockedResponses": responses,
        }
        write(m, json.dumps(doc))
        cmd += ["--mock", m, "--mock-case", "T"]
    if not case.get("real_time"):
        cmd.append("--no-wait")
    cmd += case.get("args", [])
    try:
        p = subprocess.run(cmd, capture_output=True, timeout=case.get("timeout", 60))
    except subprocess.TimeoutExpired:
        return "timed out"
    out = p.stdout.decode("utf-8", "replace")
    err = p.stderr.decode("utf-8", "replace")
    if p.returncode < 0:
        return f"stepd crashed (signal {-p.returncode}): {err.strip()[:300]}"
    exp = case.get("expect", {})
    want_exit = exp.get("exit")
    if want_exit is None:
        want_exit = 0 if exp.get("status", "SUCCEEDED") == "SUCCEEDED" else 1
    allowed = want_exit if isinstance(want_exit, list) else [want_exit]
    if p.returncode not in allowed:
        return f"exit {p.returncode}, expected {want_exit}; stdout {out.strip()[:300]!r} stderr {err.strip()[:300]!r}"
    if "stderr_contains" in exp and exp["stderr_contains"] not in err:
        return f"stderr lacks {exp['stderr_contains']!r}: {err.strip()[:400]!r}"
    if p.returncode == 2:
        return None
    try:
        res = json.loads(out)
    except ValueError as e:
        return f"stdout is not one JSON object ({e}): {out[:300]!r}"
    if "status" in exp and res.get("status") != exp["status"]:
        return (f"status {res.get('status')}, expected {exp['status']} "
                f"(error {res.get('error')!r}, cause {short(res.get('cause'))}, output {short(res.get('output'))})")
    if "output" in exp:
        r = same(exp["output"], res.get("output"))
        if r:
            return f"output {r}"
    for k in ("error", "cause"):
        if k in exp and not text_matches(exp[k], res.get(k)):
            return f"{k} {short(res.get(k), 400)}, expected {short(exp[k], 400)}"
    hist = res.get("history")
    if any(k in exp for k in ("history", "history_contains", "history_count", "event_times")):
        if not isinstance(hist, list):
            return "no history printed"
        names = [event_name(e) for e in hist]
        if "history" in exp and names != exp["history"]:
            return f"history differs:\n    expected {exp['history']}\n    got      {names}"
        if "history_contains" in exp:
            pos = 0
            for want in exp["history_contains"]:
                try:
                    pos = names.index(want, pos) + 1
                except ValueError:
                    return f"history lacks {want!r} (in order) in {names[:60]}{'...' if len(names) > 60 else ''}"
        for ev, n in exp.get("history_count", {}).items():
            got = sum(1 for x in names if x == ev or (":" not in ev and x.split(":")[0] == ev))
            if got != n:
                return f"history has {got} {ev} events, expected {n}"
        t0 = hist[0].get("timestamp") if hist else None
        for spec in exp.get("event_times", []):
            times = [e["timestamp"] - t0 for e in hist if event_name(e) == spec["event"] or e.get("type") == spec["event"]]
            want = spec["seconds"]
            if len(times) != len(want):
                return f"{len(times)} {spec['event']} events at {times}, expected {len(want)} at {want}"
            for got, w in zip(times, want):
                lo, hi = (w, w) if not isinstance(w, list) else w
                if not (lo - 0.01 <= got <= hi + 0.01):
                    return f"{spec['event']} at {[round(t, 3) for t in times]}s, expected {want}"
    return None


def run_case(stepd, path):
    try:
        with open(path, encoding="utf-8") as f:
            case = json.load(f)
    except Exception as e:  # noqa: BLE001
        return f"case file is not JSON: {e}"
    with tempfile.TemporaryDirectory(prefix="stepd-case-") as tmp:
        base = os.path.basename(path)
        try:
            if base.startswith(("y_", "n_")):
                return run_validation(stepd, path, case, tmp)
            return run_execution(stepd, path, case, tmp)
        except Exception as e:  # noqa: BLE001
            return f"runner error: {type(e).__name__}: {e}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--stepd", required=True)
    ap.add_argument("dir")
    ap.add_argument("-k", dest="filter", help="only case files whose name contains TEXT")
    ap.add_argument("-j", "--jobs", type=int, default=2)
    ap.add_argument("-v", "--verbose", action="store_true", help="also print passing cases")
    a = ap.parse_args()
    stepd = os.path.abspath(a.stepd)
    files = []
    for root, _dirs, names in os.walk(a.dir):
        for n in names:
            if n.endswith(".json") and (not a.filter or a.filter in n):
                files.append(os.path.join(root, n))
    files.sort()
    passed = failed = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=a.jobs) as ex:
        for path, why in zip(files, ex.map(lambda p: run_case(stepd, p), files)):
            rel = os.path.relpath(path, a.dir)
            if why is None:
                passed += 1
                if a.verbose:
                    print(f"ok   {rel}")
            else:
                failed += 1
                print(f"FAIL {rel}: {why}", flush=True)
    print(f"cases: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
