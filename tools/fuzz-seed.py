#!/usr/bin/env python3
"""Seeds the libFuzzer corpora from the data-driven cases (tests/cases/).

fuzz_load gets each case's "definition" as JSON text; fuzz_expr gets every
string value in those definitions that starts with "$" or "States." (the
paths and intrinsic calls the cases use). A few built-in seeds keep the
corpora useful while the case set is small. Files are named by content
hash, so re-seeding an existing corpus adds nothing twice.

usage: fuzz-seed.py CASES_DIR OUT_DIR   (writes OUT_DIR/corpus-fuzz_load/ and
OUT_DIR/corpus-fuzz_expr/)
"""
import hashlib
import json
import os
import sys

BUILTIN_DEFS = [
    {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": True}}},
    {"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [
            {"Variable": "$.n", "NumericGreaterThan": 1, "Next": "W"}], "Default": "F"},
        "W": {"Type": "Wait", "Seconds": 1, "Next": "P"},
        "P": {"Type": "Parallel", "Branches": [
            {"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.items",
                "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": True}}},
                "End": True}}}], "Next": "S"},
        "S": {"Type": "Succeed"},
        "F": {"Type": "Fail", "Error": "E", "Cause": "c"}}},
]
BUILTIN_EXPRS = [
    "$", "$$", "$.a", "$.c[0]", "$.c[-1:]", "$..d", "$.c[?(@ > 1)]", "$['o']['k']",
    "$$.Execution.Input", "$x", "$obj.p.q", "$.c[*]", "$.c[0:2]",
    "States.Format('{} and {}', $.a, $.b)", "States.StringToJson('{\"a\":1}')",
    "States.JsonToString($.o)", "States.Array(1, 'two', $.a)", "States.ArrayLength($.c)",
    "States.ArrayRange(1, 9, 2)", "States.ArrayContains($.list, 1)", "States.ArrayUnique($.list)",
    "States.ArrayPartition($.list, 2)", "States.ArrayGetItem($.list, 0)",
    "States.MathAdd($.a, 1)", "States.MathRandom(1, 10)", "States.StringSplit($.s, ',')",
    "States.Base64Encode($.b)", "States.Base64Decode('dHdv')", "States.Hash($.b, 'SHA-256')",
    "States.JsonMerge($.o, $.o.n, false)", "States.UUID()",
]


def strings_in(value, out):
    """Collects every string value (not keys) that looks like a path or call."""
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
        elif isinstance(v, str) and (v.startswith("$") or v.startswith("States.")):
            out.add(v)


def write(dirname, data):
    name = hashlib.sha1(data).hexdigest()
    path = os.path.join(dirname, name)
    if not os.path.exists(path):
        with open(path, "wb") as f:
            f.write(data)


SM = "arn:aws:states:us-east-1:123456789012:stateMachine:m"
EX = "arn:aws:states:us-east-1:123456789012:execution:m:e1"
BUILTIN_API = [
    ("CreateStateMachine", {"name": "n", "roleArn": "arn:aws:iam::123456789012:role/r",
                            "definition": json.dumps(BUILTIN_DEFS[0]), "type": "EXPRESS"}),
    ("UpdateStateMachine", {"stateMachineArn": SM, "definition": json.dumps(BUILTIN_DEFS[1])}),
    ("DescribeStateMachine", {"stateMachineArn": SM}),
    ("ListStateMachines", {"maxResults": 1, "nextToken": "x"}),
    ("DeleteStateMachine", {"stateMachineArn": SM + "x"}),
    ("StartExecution", {"stateMachineArn": SM, "name": "a", "input": "{\"a\":1}"}),
    ("DescribeExecution", {"executionArn": EX}),
    ("DescribeStateMachineForExecution", {"executionArn": EX}),
    ("StopExecution", {"executionArn": EX, "error": "E", "cause": "C"}),
    ("ListExecutions", {"stateMachineArn": SM, "statusFilter": "RUNNING", "maxResults": 2}),
    ("GetExecutionHistory", {"executionArn": EX, "reverseOrder": True, "maxResults": 1,
                             "includeExecutionData": False}),
    ("SendTaskSuccess", {"taskToken": "t", "output": "{}"}),
    ("SendTaskFailure", {"taskToken": "t", "error": "E"}),
    ("SendTaskHeartbeat", {"taskToken": "t"}),
    ("ValidateStateMachineDefinition", {"definition": "{}", "maxResults": 3}),
]
DDB = "DynamoDB_20120810."
BUILTIN_DDB = [
    ("PutItem", {"TableName": "fz", "Item": {"id": {"S": "b"}, "n": {"N": "-1.5"}, "s": {"NS": ["1", "2"]}},
                 "ConditionExpression": "attribute_not_exists(id) OR #n < :v",
                 "ExpressionAttributeNames": {"#n": "n"}, "ExpressionAttributeValues": {":v": {"N": "3"}},
                 "ReturnValues": "ALL_OLD"}),
    ("UpdateItem", {"TableName": "fz", "Key": {"id": {"S": "a"}, "n": {"N": "1"}},
                    "UpdateExpression": "SET l[0] = if_not_exists(q, :v) + :v, z = list_append(l, :l) "
                                        "REMOVE l[1] ADD c :v DELETE s :s",
                    "ExpressionAttributeValues": {":v": {"N": "1"}, ":l": {"L": []}, ":s": {"NS": ["1"]}},
                    "ReturnValues": "UPDATED_NEW"}),
    ("Query", {"TableName": "fz", "KeyConditionExpression": "id = :a AND n BETWEEN :x AND :y",
               "FilterExpression": "size(l) > :x", "ProjectionExpression": "l[0], id",
               "ExpressionAttributeValues": {":a": {"S": "a"}, ":x": {"N": "0"}, ":y": {"N": "9"}},
               "Limit": 1, "ScanIndexForward": False}),
    ("Scan", {"TableName": "fz", "Segment": 0, "TotalSegments": 2, "Select": "COUNT"}),
    ("TransactWriteItems", {"TransactItems": [
        {"ConditionCheck": {"TableName": "fz", "Key": {"id": {"S": "a"}, "n": {"N": "1"}},
                            "ConditionExpression": "contains(l, :v)", "ExpressionAttributeValues": {":v": {"N": "2"}}}},
        {"Delete": {"TableName": "fz", "Key": {"id": {"S": "b"}, "n": {"N": "-1.5"}}}}]}),
    ("BatchWriteItem", {"RequestItems": {"fz": [{"PutRequest": {"Item": {"id": {"S": "c"}, "n": {"N": "0"}}}}]}}),
    ("BatchGetItem", {"RequestItems": {"fz": {"Keys": [{"id": {"S": "a"}, "n": {"N": "1"}}]}}}),
    ("CreateTable", {"TableName": "fz2", "KeySchema": [{"AttributeName": "k", "KeyType": "HASH"}],
                     "AttributeDefinitions": [{"AttributeName": "k", "AttributeType": "B"}],
                     "ProvisionedThroughput": {"ReadCapacityUnits": 1, "WriteCapacityUnits": 1}}),
]
CAPTURES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared",
                        "reference", "captures", "requests.jsonl")


def seed_api(out, defs):
    """fuzz_api: "Operation\\nbody" from built-in requests (Step Functions'
    and DynamoDB's, "DynamoDB_20120810.Op"), every definition as a
    CreateStateMachine, and the real clients' requests in the shared
    captures when they are there."""
    d = os.path.join(out, "corpus-fuzz_api")
    os.makedirs(d, exist_ok=True)
    for op, body in BUILTIN_API:
        write(d, ("%s\n%s" % (op, json.dumps(body))).encode("utf-8"))
    for op, body in BUILTIN_DDB:
        write(d, ("%s%s\n%s" % (DDB, op, json.dumps(body))).encode("utf-8"))
    for df in defs[:50]:
        body = {"name": "m2", "roleArn": "arn:aws:iam::1:role/r", "definition": json.dumps(df)}
        write(d, ("CreateStateMachine\n%s" % json.dumps(body)).encode("utf-8"))
    try:
        with open(CAPTURES, encoding="utf-8") as f:
            for line in f:
                r = json.loads(line)
                target = dict((k.lower(), v) for k, v in r.get("headers", [])).get("x-amz-target", "")
                if target.startswith("AWSStepFunctions."):
                    write(d, ("%s\n%s" % (target.split(".", 1)[1], r.get("body") or "{}")).encode("utf-8"))
                elif target.startswith(DDB):
                    write(d, ("%s\n%s" % (target, r.get("body") or "{}")).encode("utf-8"))
    except (OSError, ValueError):
        pass


def seed_sam(out):
    """fuzz_sam: every template of the SAM loader's fixtures, good and broken."""
    d = os.path.join(out, "corpus-fuzz_sam")
    os.makedirs(d, exist_ok=True)
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests")
    for sub in ("sam", "templates"):
        for dirpath, _, files in os.walk(os.path.join(root, sub)):
            for fn in sorted(files):
                if fn.endswith((".yaml", ".yml", ".json")):
                    with open(os.path.join(dirpath, fn), "rb") as f:
                        write(d, f.read())


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    cases, out = sys.argv[1], sys.argv[2]
    load_dir = os.path.join(out, "corpus-fuzz_load")
    expr_dir = os.path.join(out, "corpus-fuzz_expr")
    os.makedirs(load_dir, exist_ok=True)
    os.makedirs(expr_dir, exist_ok=True)

    defs = list(BUILTIN_DEFS)
    exprs = set(BUILTIN_EXPRS)
    n_cases = 0
    if os.path.isdir(cases):
        for root, _, files in os.walk(cases):
            for fn in sorted(files):
                if not fn.endswith(".json"):
                    continue
                try:
                    with open(os.path.join(root, fn), encoding="utf-8") as f:
                        case = json.load(f)
                except (OSError, ValueError):
                    continue
                if not isinstance(case, dict):
                    continue
                d = case.get("definition")
                if d is None:
                    d = case.get("definition_text")  # malformed on purpose: keep as text
                if d is None:
                    continue
                n_cases += 1
                if isinstance(d, str):  # a case may hold the definition as text
                    write(load_dir, d.encode("utf-8"))
                    try:
                        d = json.loads(d)
                    except ValueError:
                        continue
                else:
                    defs.append(d)
                strings_in(d, exprs)
    for d in defs:
        write(load_dir, json.dumps(d, indent=2).encode("utf-8"))
    seed_api(out, defs)
    seed_sam(out)
    for e in sorted(exprs):
        write(expr_dir, e.encode("utf-8"))
    print(f"fuzz seeds: {n_cases} cases -> {len(os.listdir(load_dir))} definitions, "
          f"{len(os.listdir(expr_dir))} expressions")


if __name__ == "__main__":
    main()
