#!/usr/bin/env python3
"""Writes the benchmark workloads (ASL definitions in JSONPath mode, and
their inputs) into a folder, build/bench/ by default.

  pass-chain-100   100 Pass states in a row; each adds a field with
                   Result + ResultPath, so the payload grows to 100 fields
  choice-loop      Pass (States.MathAdd) + Choice looping until counter == 10000
  map-10k          inline Map over 10,000 items, two Pass states per item
  parallel-fanout  one Parallel state, 10 branches of 10 Pass states

The shapes are the ones the peers were measured on, so numbers compare.
usage: gen.py [OUT_DIR]
"""
import json
import os
import sys


def pass_chain(n=100):
    states = {}
    for i in range(1, n + 1):
        st = {"Type": "Pass", "Result": {"step": i}, "ResultPath": f"$.f{i:03d}"}
        if i < n:
            st["Next"] = f"S{i + 1:03d}"
        else:
            st["End"] = True
        states[f"S{i:03d}"] = st
    definition = {"Comment": f"{n} Pass states in a chain, each adds a field",
                  "StartAt": "S001", "States": states}
    return definition, {"id": "exec-1", "payload": {"a": 1, "b": "two", "c": [1, 2, 3]}}


def choice_loop(limit=10000):
    definition = {
        "Comment": f"Pass adds 1 to counter (States.MathAdd); Choice loops until counter == {limit}",
        "StartAt": "Increment",
        "States": {
            "Increment": {"Type": "Pass",
                          "Parameters": {"counter.$": "States.MathAdd($.counter, 1)",
                                         "limit.$": "$.limit"},
                          "Next": "Check"},
            "Check": {"Type": "Choice",
                      "Choices": [{"Variable": "$.counter", "NumericEqualsPath": "$.limit",
                                   "Next": "Done"}],
                      "Default": "Increment"},
            "Done": {"Type": "Succeed"},
        },
    }
    return definition, {"counter": 0, "limit": limit}


def map_items(n=10000):
    definition = {
        "Comment": f"Inline Map over {n} items, each through 2 Pass states",
        "StartAt": "ForEach",
        "States": {
            "ForEach": {
                "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 0,
                "ItemProcessor": {
                    "ProcessorConfig": {"Mode": "INLINE"},
                    "StartAt": "Shape",
                    "States": {
                        "Shape": {"Type": "Pass",
                                  "Parameters": {"id.$": "$.id", "name.$": "$.name", "kind": "item"},
                                  "Next": "Mark"},
                        "Mark": {"Type": "Pass", "Result": True, "ResultPath": "$.done", "End": True},
                    },
                },
                "End": True,
            }
        },
    }
    items = [{"id": i, "name": f"item-{i}", "qty": i % 7} for i in range(n)]
    return definition, {"items": items}


def parallel_fanout(branches=10, steps=10):
    brs = []
    for b in range(1, branches + 1):
        states = {}
        for s in range(1, steps + 1):
            st = {"Type": "Pass", "Result": {"branch": b, "step": s}, "ResultPath": f"$.s{s}"}
            if s < steps:
                st["Next"] = f"B{b}S{s + 1}"
            else:
                st["End"] = True
            states[f"B{b}S{s}"] = st
        brs.append({"StartAt": f"B{b}S1", "States": states})
    definition = {"Comment": f"Parallel, {branches} branches x {steps} Pass states",
                  "StartAt": "FanOut",
                  "States": {"FanOut": {"Type": "Parallel", "Branches": brs, "End": True}}}
    return definition, {"id": "exec-1", "payload": {"a": 1}}


WORKLOADS = {
    "pass-chain-100": pass_chain,
    "choice-loop": choice_loop,
    "map-10k": map_items,
    "parallel-fanout": parallel_fanout,
}


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "build/bench"
    os.makedirs(out, exist_ok=True)
    for name, make in WORKLOADS.items():
        definition, inp = make()
        with open(os.path.join(out, f"{name}.asl.json"), "w") as f:
            json.dump(definition, f, indent=2)
            f.write("\n")
        with open(os.path.join(out, f"{name}.input.json"), "w") as f:
            json.dump(inp, f, separators=(",", ":"))
            f.write("\n")


if __name__ == "__main__":
    main()
