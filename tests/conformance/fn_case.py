#!/usr/bin/env python3
"""Runs one conformance case that calls Lambda functions through stepd, as a
SAM user would: the case's `lambda_functions` (each described by what it
does) become Python functions of our own in a template, the case's
definition becomes the template's state machine, and `stepd run
template.yaml` runs it with the real functions. Prints what `stepd run`
prints (the checker's engine contract).

    check.py --needs pure --needs lambda --needing lambda --without jsonata \\
        --engine "python3 tests/conformance/fn_case.py --stepd build/stepd --case {case} \\
                  --definition {definition} --input {input}"
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

# Our own handler code for each behaviour the corpus describes. The raising
# one keeps its raise on line 2: AWS's cause quotes the traceback.
HANDLERS = {
    "identity": "def handler(event, context):\n    return event\n",
    "raise": "def handler(event, context):\n    raise Exception(\"Some exception was raised.\")\n",
    "sleep": "import time\n\n\ndef handler(event, context):\n    time.sleep(60)\n    return event\n",
    "large": "def handler(event, context):\n    return \"a\" * (257 * 1024)\n",
    "bytes": "def handler(event, context):\n    return b'\"HelloWorld!\"'\n",
}


def kind_of(behaviour):
    b = behaviour.lower()
    if b.startswith("raises"):
        return "raise"
    if b.startswith("sleeps"):
        return "sleep"
    if "257 kib" in b:
        return "large"
    if "bytes" in b:
        return "bytes"
    if "returns its event" in b:
        return "identity"
    raise SystemExit(f"fn_case: no function of ours does {behaviour!r}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--stepd", required=True)
    ap.add_argument("--case", required=True)
    ap.add_argument("--definition", required=True)
    ap.add_argument("--input", required=True)
    a = ap.parse_args()
    case = json.load(open(a.case))
    work = tempfile.mkdtemp(prefix="stepd-fncase-")
    try:
        lines = ["Transform: AWS::Serverless-2016-10-31", "Resources:"]
        for name, spec in sorted((case.get("lambda_functions") or {}).items()):
            kind = kind_of(spec.get("behaviour", ""))
            code = os.path.join(work, "fn", name)
            os.makedirs(code)
            with open(os.path.join(code, "handler.py"), "w") as f:
                f.write(HANDLERS[kind])
            lid = "F" + "".join(ch for ch in name if ch.isalnum())
            lines += [f"  {lid}:", "    Type: AWS::Serverless::Function", "    Properties:",
                      f"      FunctionName: {name}", f"      CodeUri: fn/{name}",
                      "      Handler: handler.handler", f"      Runtime: {spec.get('runtime', 'python3.12')}",
                      "      Timeout: 90"]
        shutil.copy(a.definition, os.path.join(work, "definition.json"))
        stype = case.get("type") or case.get("state_machine_type") or "STANDARD"
        lines += ["  Machine:", "    Type: AWS::Serverless::StateMachine", "    Properties:",
                  "      Name: Machine", "      DefinitionUri: definition.json", f"      Type: {stype}"]
        tpl = os.path.join(work, "template.yaml")
        with open(tpl, "w") as f:
            f.write("\n".join(lines) + "\n")
        r = subprocess.run([a.stepd, "run", tpl, "--input", a.input, "--history", "--quiet"],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        sys.stdout.write(r.stdout)
        if r.returncode not in (0, 1):
            sys.stderr.write(r.stderr)
        return r.returncode
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
