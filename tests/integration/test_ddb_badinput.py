"""Requests to stepd's DynamoDB API that no correct client sends, or that
DynamoDB refuses: malformed AttributeValues, empty or duplicate sets, wrong
key types, broken expressions, unused or missing placeholders, oversized
items and bodies, hostile nesting, unknown operations, oversized batches.
Each must get a 400 in DynamoDB's error shape (`__type` ending in the code,
a message) -- never a crash or a 500 -- and afterwards the server must still
answer, with the stored items intact. Every answer's x-amz-crc32 header,
when present, must be the CRC32 of the exact body bytes (botocore checks it).

Raw HTTP where the body must be read as sent; boto3 with parameter
validation off where a real client can be made to send the request.
STEPD_DDB_ENDPOINT runs the suite against another server (see
harness.ddb_server)."""
import http.client
import json
import re
import zlib

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from harness import DDB_AUTH, DDB_PREFIX, ddb_server

TABLE = "bad-input"
SEED = [
    {"pk": {"S": "k%d" % i}, "sk": {"N": str(i)}, "v": {"S": "value %d" % i}, "n": {"N": str(i * 10)},
     "tags": {"SS": ["a", "b"]}, "m": {"M": {"x": {"L": [{"N": "1"}, {"BOOL": True}]}}}}
    for i in range(5)]
SER_OR_VAL = ("SerializationException", "ValidationException")
# AWS says "The parameter cannot be converted to a numeric value: abc";
# DynamoDB Local "A value provided cannot be converted into a number"
NOT_A_NUMBER = r"cannot be converted (to a numeric value|into a number)"


# ---- raw HTTP ------------------------------------------------------------------

def post(srv, op, body, headers=None, target=True):
    """One request; returns (status, parsed JSON or None, raw body bytes,
    headers with lowercase names). Checks x-amz-crc32 when present."""
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=60)
    h = {"Content-Type": "application/x-amz-json-1.0"}
    h.update(DDB_AUTH)
    if target:
        h["X-Amz-Target"] = "%s.%s" % (DDB_PREFIX, op)
    h.update(headers or {})
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode("utf-8")
    try:
        c.request("POST", "/", body=body, headers=h)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server answered before reading everything: read that answer
    r = c.getresponse()
    data = r.read()
    hdrs = {k.lower(): v for k, v in r.getheaders()}
    c.close()
    if "x-amz-crc32" in hdrs:
        assert int(hdrs["x-amz-crc32"]) == zlib.crc32(data), (
            "x-amz-crc32 %s, CRC32 of the body %d" % (hdrs["x-amz-crc32"], zlib.crc32(data)))
    try:
        parsed = json.loads(data) if data else None
    except ValueError:
        parsed = None
    return r.status, parsed, data, hdrs


def ok(srv, op, body):
    status, out, data, _ = post(srv, op, body)
    assert status == 200 and isinstance(out, dict), "%s -> %d %r" % (op, status, data[:300])
    return out


def refused(srv, op, body, codes=("ValidationException",), msg=None, contains=(), need_message=True):
    """The request must get a 400 in DynamoDB's error shape with one of
    `codes`; msg: the exact message; contains: texts the message holds."""
    status, out, data, hdrs = post(srv, op, body)
    what = "%s %s" % (op, (body if isinstance(body, (str, bytes)) else json.dumps(body))[:160])
    assert status == 400, "%s: status %d, want 400: %r" % (what, status, data[:300])
    assert isinstance(out, dict) and isinstance(out.get("__type"), str), "%s: %r" % (what, data[:300])
    code = out["__type"].rsplit("#", 1)[-1]
    codes = (codes,) if isinstance(codes, str) else tuple(codes)
    assert code in codes, "%s: __type %s, want %s: %r" % (what, out["__type"], codes, out)
    m = out.get("message", out.get("Message"))
    if need_message or m is not None:
        assert isinstance(m, str) and m, "%s: no message: %r" % (what, out)
    if msg is not None:
        assert m == msg, "%s: message %r, want %r" % (what, m, msg)
    for c in ([contains] if isinstance(contains, str) else contains):
        assert c in m, "%s: message %r lacks %r" % (what, m, c)
    assert hdrs.get("content-type", "").startswith(("application/x-amz-json-1.0", "application/json")), (what, hdrs)
    assert hdrs.get("x-amzn-requestid"), (what, hdrs)
    return out


def setup(srv):
    ok(srv, "CreateTable", {
        "TableName": TABLE, "BillingMode": "PAY_PER_REQUEST",
        "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                 {"AttributeName": "sk", "AttributeType": "N"}]})
    for item in SEED:
        ok(srv, "PutItem", {"TableName": TABLE, "Item": item})


def intact(srv):
    """The server answers, and the seeded items are exactly as written."""
    assert srv.alive(), "stepd is gone; log:\n" + srv.log()
    for item in SEED:
        got = ok(srv, "GetItem", {"TableName": TABLE, "Key": {"pk": item["pk"], "sk": item["sk"]}})
        assert norm(got.get("Item")) == norm(item), (got, item)
    out = ok(srv, "Scan", {"TableName": TABLE})
    assert out["Count"] == len(SEED), out
    assert TABLE in ok(srv, "ListTables", {})["TableNames"]


def norm(av):
    if isinstance(av, dict):
        return {k: (sorted(v) if k in ("SS", "NS", "BS") else norm(v)) for k, v in av.items()}
    if isinstance(av, list):
        return [norm(x) for x in av]
    return av


def put(attr_value, **extra):
    """A PutItem body whose item has attribute x = attr_value."""
    return dict({"TableName": TABLE, "Item": {"pk": {"S": "new"}, "sk": {"N": "1"}, "x": attr_value}}, **extra)


KEY = {"pk": {"S": "k1"}, "sk": {"N": "1"}}


def upd(expr, values=None, names=None, **extra):
    b = {"TableName": TABLE, "Key": KEY, "UpdateExpression": expr}
    if values is not None:
        b["ExpressionAttributeValues"] = values
    if names is not None:
        b["ExpressionAttributeNames"] = names
    b.update(extra)
    return b


# ---- tests ---------------------------------------------------------------------

def test_ddb_bad_attribute_values(ctx):
    with ddb_server(ctx) as srv:
        setup(srv)
        refused(srv, "PutItem", put({}),
                msg="Supplied AttributeValue is empty, must contain exactly one of the supported datatypes")
        refused(srv, "PutItem", put({"S": "a", "N": "1"}),
                msg="Supplied AttributeValue has more than one datatypes set, must contain exactly one of the "
                    "supported datatypes")
        refused(srv, "PutItem", put({"NULL": False}), contains="Null attribute value types must have the value of true")
        for av in ({"S": 5}, {"S": None}, {"S": ["a"]}, {"N": 5}, {"N": True}, {"BOOL": "yes"}, {"BOOL": 1},
                   {"NULL": "true"}, {"B": 7}, {"SS": "a"}, {"SS": [1, 2]}, {"NS": [1]}, {"M": []}, {"M": "m"},
                   {"L": {}}, {"L": "l"}, {"M": {"a": "plain"}}, {"L": [5]}, "plain", 5, None, [], True):
            refused(srv, "PutItem", put(av), SER_OR_VAL)
        refused(srv, "PutItem", put({"B": "not base64 !!"}), SER_OR_VAL)
        refused(srv, "PutItem", put({"Q": "unknown type"}), SER_OR_VAL)
        # sets: never empty, never duplicates
        refused(srv, "PutItem", put({"SS": []}), contains="set")
        refused(srv, "PutItem", put({"NS": []}), contains="set")
        refused(srv, "PutItem", put({"BS": []}), contains="set")
        refused(srv, "PutItem", put({"SS": ["a", "b", "a"]}), contains="duplicates")
        refused(srv, "PutItem", put({"NS": ["1", "2", "1"]}), contains="duplicates")
        refused(srv, "PutItem", put({"BS": ["AQ==", "AQ=="]}), contains="duplicates")
        refused(srv, "PutItem", put({"M": {"in": {"SS": []}}}), contains="set")
        refused(srv, "PutItem", put({"L": [{"NS": ["5", "5"]}]}), contains="duplicates")
        # numbers
        for n in ("abc", "", "1.2.3", "1e", "--1", "0x10", "NaN", "Infinity", " 1"):
            m = refused(srv, "PutItem", put({"N": n}))["message"]
            assert re.search(NOT_A_NUMBER, m), (n, m)
        refused(srv, "PutItem", put({"N": "1" * 39}),
                msg="Attempting to store more than 38 significant digits in a Number")
        refused(srv, "PutItem", put({"N": "1E+126"}), contains="Number overflow")
        refused(srv, "PutItem", put({"N": "1E-131"}), contains="Number underflow")
        m = refused(srv, "PutItem", put({"NS": ["1", "x"]}))["message"]
        assert re.search(NOT_A_NUMBER, m), m
        # whole items
        for item in ([], "item", 5, None):
            refused(srv, "PutItem", {"TableName": TABLE, "Item": item}, SER_OR_VAL)
        refused(srv, "PutItem", {"TableName": TABLE}, contains="item")
        refused(srv, "PutItem", {"TableName": TABLE, "Item": {"pk": {"S": "a"}, "sk": {"N": "1"}, "": {"S": "x"}}})
        intact(srv)


def test_ddb_bad_keys(ctx):
    with ddb_server(ctx) as srv:
        setup(srv)
        refused(srv, "PutItem", {"TableName": TABLE, "Item": {"pk": {"N": "1"}, "sk": {"N": "1"}}},
                msg="One or more parameter values were invalid: Type mismatch for key pk expected: S actual: N")
        refused(srv, "PutItem", {"TableName": TABLE, "Item": {"pk": {"S": "a"}, "sk": {"S": "1"}}},
                msg="One or more parameter values were invalid: Type mismatch for key sk expected: N actual: S")
        refused(srv, "PutItem", {"TableName": TABLE, "Item": {"pk": {"S": "a"}}},
                msg="One or more parameter values were invalid: Missing the key sk in the item")
        refused(srv, "PutItem", {"TableName": TABLE, "Item": {"sk": {"N": "1"}}},
                msg="One or more parameter values were invalid: Missing the key pk in the item")
        refused(srv, "PutItem", {"TableName": TABLE, "Item": {"pk": {"S": ""}, "sk": {"N": "1"}}},
                contains=["empty string", "pk"])
        refused(srv, "PutItem", {"TableName": TABLE, "Item": {"pk": {"SS": ["a"]}, "sk": {"N": "1"}}},
                contains="Type mismatch for key pk")
        for key in ({"pk": {"S": "k1"}}, {"pk": {"S": "k1"}, "sk": {"N": "1"}, "v": {"S": "x"}},
                    {"pk": {"S": "k1"}, "sk": {"S": "1"}}, {"pk": {"N": "1"}, "sk": {"N": "1"}}, {},
                    {"pk": {"S": "k1"}, "zz": {"N": "1"}}):
            for op in ("GetItem", "DeleteItem"):
                refused(srv, op, {"TableName": TABLE, "Key": key},
                        msg="The provided key element does not match the schema")
            refused(srv, "UpdateItem", upd("SET v = :v", {":v": {"S": "x"}}, Key=key),
                    msg="The provided key element does not match the schema")
        refused(srv, "GetItem", {"TableName": TABLE, "Key": "k1"}, SER_OR_VAL)
        refused(srv, "GetItem", {"TableName": TABLE}, contains="key")
        refused(srv, "Query", {"TableName": TABLE, "KeyConditionExpression": "pk = :p",
                               "ExpressionAttributeValues": {":p": {"S": "k1"}},
                               "ExclusiveStartKey": {"pk": {"S": "k1"}}})
        refused(srv, "Scan", {"TableName": TABLE, "ExclusiveStartKey": {"zz": {"S": "k1"}}})
        # the table name
        refused(srv, "GetItem", {"Key": KEY}, contains="tableName")
        refused(srv, "GetItem", {"TableName": "bad name!", "Key": KEY})
        refused(srv, "GetItem", {"TableName": "ab", "Key": KEY})
        refused(srv, "GetItem", {"TableName": "t" * 256, "Key": KEY})
        refused(srv, "GetItem", {"TableName": 5, "Key": KEY}, SER_OR_VAL)
        refused(srv, "GetItem", {"TableName": "no-such-table", "Key": KEY}, "ResourceNotFoundException",
                msg="Requested resource not found")
        intact(srv)


def test_ddb_bad_expressions(ctx):
    with ddb_server(ctx) as srv:
        setup(srv)
        v = {":v": {"S": "x"}}
        for expr in ("SET", "SET v", "SET v =", "SET = :v", "SET v :v", "SET v = :v,", "SET v = :v SET n = :v",
                     "REMOVE", "ADD v", "DELETE", "FROB v = :v", "SET v = (:v", "SET v = :v)", "SET v.= :v",
                     "SET v[x] = :v", "SET v[-1] = :v", "SET v = :v + ", "SET v = :", "   "):
            refused(srv, "UpdateItem", upd(expr, v), contains="UpdateExpression")
        refused(srv, "UpdateItem", upd("SET # = :v", v))
        for cond in ("v = = :v", "v =", "(v = :v", "v = :v)", "v == :v", "v BETWEEN :v", "v IN ()",
                     "attribute_exists()", "attribute_exists(v, v)", "nofunc(v)", "AND v = :v", "v = :v AND",
                     "NOT", "size(v)", "begins_with(v)", "v <> ", "v IN :v", ":v"):
            refused(srv, "PutItem", {"TableName": TABLE, "Item": {"pk": {"S": "z"}, "sk": {"N": "0"}},
                                     "ConditionExpression": cond, "ExpressionAttributeValues": v},
                    contains="ConditionExpression")
        # placeholders: unused, undefined, malformed maps
        refused(srv, "UpdateItem", upd("SET v = :v", {":v": {"S": "x"}, ":unused": {"S": "y"}}),
                msg="Value provided in ExpressionAttributeValues unused in expressions: keys: {:unused}")
        refused(srv, "UpdateItem", upd("SET v = :v", v, {"#unused": "v"}),
                msg="Value provided in ExpressionAttributeNames unused in expressions: keys: {#unused}")
        refused(srv, "UpdateItem", upd("SET v = :missing", v),
                msg="Invalid UpdateExpression: An expression attribute value used in expression is not defined; "
                    "attribute value: :missing")
        refused(srv, "UpdateItem", upd("SET #missing = :v", v),
                msg="Invalid UpdateExpression: An expression attribute name used in the document path is not "
                    "defined; attribute name: #missing")
        refused(srv, "UpdateItem", upd("SET v = :v", {}), contains="ExpressionAttributeValues")
        refused(srv, "UpdateItem", upd("SET v = :v", {":v": "x"}), SER_OR_VAL)
        refused(srv, "UpdateItem", upd("SET #n = :v", v, {"#n": 5}), SER_OR_VAL)
        refused(srv, "UpdateItem", upd("SET #n = :v", v, {"#n": ""}))
        refused(srv, "UpdateItem", upd("SET v = :v", {":v": {}}), contains="AttributeValue")
        refused(srv, "UpdateItem", upd("SET status = :v", v),
                msg="Invalid UpdateExpression: Attribute name is a reserved keyword; reserved keyword: status")
        refused(srv, "GetItem", {"TableName": TABLE, "Key": KEY, "ProjectionExpression": "v, data"},
                msg="Invalid ProjectionExpression: Attribute name is a reserved keyword; reserved keyword: data")
        refused(srv, "GetItem", {"TableName": TABLE, "Key": KEY, "ProjectionExpression": "v,,n"},
                contains="ProjectionExpression")
        refused(srv, "GetItem", {"TableName": TABLE, "Key": KEY, "ProjectionExpression": ""},
                contains="ProjectionExpression")
        refused(srv, "Scan", {"TableName": TABLE, "FilterExpression": "v = :v"},
                contains="attribute value: :v")
        refused(srv, "Query", {"TableName": TABLE, "KeyConditionExpression": "v = :v", "ExpressionAttributeValues": v})
        refused(srv, "Query", {"TableName": TABLE, "KeyConditionExpression": "pk = :v OR sk = :n",
                               "ExpressionAttributeValues": {":v": {"S": "k1"}, ":n": {"N": "1"}}})
        refused(srv, "Query", {"TableName": TABLE, "KeyConditionExpression": "pk = :v AND sk BETWEEN :b AND :a",
                               "ExpressionAttributeValues": {":v": {"S": "k1"}, ":a": {"N": "1"}, ":b": {"N": "5"}}},
                contains="BETWEEN")
        # hostile nesting and size inside expressions: refused, not a stack overflow
        deep = "(" * 10000 + "v = :v" + ")" * 10000
        refused(srv, "PutItem", {"TableName": TABLE, "Item": {"pk": {"S": "z"}, "sk": {"N": "0"}},
                                 "ConditionExpression": deep, "ExpressionAttributeValues": v})
        nots = "NOT " * 10000 + "v = :v"
        refused(srv, "PutItem", {"TableName": TABLE, "Item": {"pk": {"S": "z"}, "sk": {"N": "0"}},
                                 "ConditionExpression": nots, "ExpressionAttributeValues": v})
        path = ".".join(["a"] * 10000)
        refused(srv, "UpdateItem", upd("SET %s = :v" % path, v))
        refused(srv, "UpdateItem", upd("SET v%s = :v" % ("[1]" * 10000), v))
        refused(srv, "UpdateItem", upd("SET v[99999999999999999999999] = :v", v))
        ors = " OR ".join(["v = :v"] * 3000)
        refused(srv, "PutItem", {"TableName": TABLE, "Item": {"pk": {"S": "z"}, "sk": {"N": "0"}},
                                 "ConditionExpression": ors, "ExpressionAttributeValues": v})
        # update semantics errors
        refused(srv, "UpdateItem", upd("SET pk = :v", v), contains="Cannot update attribute pk")
        refused(srv, "UpdateItem", upd("SET v = :v, v = :v", v), contains="Two document paths")
        refused(srv, "UpdateItem", upd("SET n = nope + :one", {":one": {"N": "1"}}),
                msg="The provided expression refers to an attribute that does not exist in the item")
        refused(srv, "UpdateItem", upd("ADD v :one", {":one": {"N": "1"}}))
        refused(srv, "UpdateItem", upd("DELETE tags :s", {":s": {"S": "a"}}))
        refused(srv, "UpdateItem", upd("SET v = :v", v, ReturnValues="SOMETIMES"))
        assert "Item" not in ok(srv, "GetItem", {"TableName": TABLE, "Key": {"pk": {"S": "z"}, "sk": {"N": "0"}}})
        intact(srv)


def test_ddb_oversized_and_deep(ctx):
    with ddb_server(ctx) as srv:
        setup(srv)
        # 400 KB is the item limit: a little under is stored, a little over refused
        ok(srv, "PutItem", {"TableName": TABLE, "Item": {"pk": {"S": "big"}, "sk": {"N": "1"},
                                                         "x": {"S": "y" * 390000}}})
        refused(srv, "PutItem", put({"S": "y" * 410000}), msg="Item size has exceeded the maximum allowed size")
        refused(srv, "PutItem", put({"L": [{"S": "y" * 1000}] * 420}),
                msg="Item size has exceeded the maximum allowed size")
        refused(srv, "UpdateItem", {"TableName": TABLE, "Key": {"pk": {"S": "big"}, "sk": {"N": "1"}},
                                    "UpdateExpression": "SET z = :z", "ExpressionAttributeValues": {
                                        ":z": {"S": "q" * 20000}}},
                contains="Item size")
        got = ok(srv, "GetItem", {"TableName": TABLE, "Key": {"pk": {"S": "big"}, "sk": {"N": "1"}}})
        assert got["Item"]["x"]["S"] == "y" * 390000 and "z" not in got["Item"], "the refused update changed the item"
        # key size limits: 2048 bytes for a partition key, 1024 for a sort key
        refused(srv, "PutItem", {"TableName": TABLE, "Item": {"pk": {"S": "p" * 2049}, "sk": {"N": "1"}}},
                contains="2048")
        # bodies over 1 MB: DynamoDB takes requests up to 16 MB (a BatchWriteItem
        # of 25 items of 400 KB is legal), so a 1.1 MB item is refused for its
        # size, and a 1.5 MB batch of 300 KB items is stored
        refused(srv, "PutItem", put({"S": "y" * (1100 * 1024)}),
                msg="Item size has exceeded the maximum allowed size")
        out = ok(srv, "BatchWriteItem", {"RequestItems": {TABLE: [
            {"PutRequest": {"Item": {"pk": {"S": "b%d" % i}, "sk": {"N": "1"}, "x": {"S": "y" * 300000}}}}
            for i in range(5)]}})
        assert out["UnprocessedItems"] == {}, out
        for i in range(5):
            ok(srv, "DeleteItem", {"TableName": TABLE, "Key": {"pk": {"S": "b%d" % i}, "sk": {"N": "1"}}})
        # a 10,000-deep map and list (DynamoDB allows 32 levels)
        # (written as text: Python's json module cannot nest that deep)
        item = '{"TableName": "%s", "Item": {"pk": {"S": "new"}, "sk": {"N": "1"}, "x": %s}}'
        deep = '{"M": {"a": ' * 10000 + '{"S": "leaf"}' + "}}" * 10000
        refused(srv, "PutItem", item % (TABLE, deep), SER_OR_VAL)
        deep = '{"L": [' * 10000 + '{"S": "leaf"}' + "]}" * 10000
        refused(srv, "PutItem", item % (TABLE, deep), SER_OR_VAL)
        deep = '{"M": {"a": ' * 33 + '{"S": "leaf"}' + "}}" * 33
        refused(srv, "PutItem", item % (TABLE, deep), SER_OR_VAL)
        # 10,000-deep plain JSON, where no AttributeValue is expected
        refused(srv, "PutItem", '{"TableName": "%s", "Item": %s}' % (TABLE, "[" * 10000 + "]" * 10000), SER_OR_VAL)
        refused(srv, "GetItem", "[" * 50000 + "]" * 50000, SER_OR_VAL)
        refused(srv, "GetItem", '{"a":' * 20000 + "1" + "}" * 20000, SER_OR_VAL)
        # 33 levels is too deep for DynamoDB, 32 is fine
        deep = {"S": "leaf"}
        for _ in range(31):
            deep = {"M": {"a": deep}}
        ok(srv, "PutItem", {"TableName": TABLE, "Item": {"pk": {"S": "deep"}, "sk": {"N": "1"}, "x": deep}})
        got = ok(srv, "GetItem", {"TableName": TABLE, "Key": {"pk": {"S": "deep"}, "sk": {"N": "1"}}})
        assert got["Item"]["x"] == deep
        ok(srv, "DeleteItem", {"TableName": TABLE, "Key": {"pk": {"S": "big"}, "sk": {"N": "1"}}})
        ok(srv, "DeleteItem", {"TableName": TABLE, "Key": {"pk": {"S": "deep"}, "sk": {"N": "1"}}})
        intact(srv)


def test_ddb_bad_bodies_and_operations(ctx):
    with ddb_server(ctx) as srv:
        setup(srv)
        for body in ("{bad", '{"TableName": ', "[1, 2]", '"text"', "null", "12", '{"a": 1}}', b"\xff\xfe{}",
                     '{"TableName": "bad-input", "Key": {"pk": {"S": "\\ud800"}, "sk": {"N": "1"}}'):
            refused(srv, "GetItem", body, SER_OR_VAL)
        refused(srv, "Frobnicate", "{}", "UnknownOperationException", need_message=False)
        refused(srv, "", "{}", ("UnknownOperationException", "SerializationException", "ValidationException"),
                need_message=False)
        # member types and ranges
        refused(srv, "Scan", {"TableName": TABLE, "Limit": "ten"}, SER_OR_VAL)
        refused(srv, "Scan", {"TableName": TABLE, "Limit": 0}, contains="limit")
        refused(srv, "Scan", {"TableName": TABLE, "Limit": -5}, contains="limit")
        refused(srv, "Scan", {"TableName": TABLE, "Segment": 1}, contains="TotalSegments")
        refused(srv, "Scan", {"TableName": TABLE, "Segment": 3, "TotalSegments": 2}, contains="Segment")
        refused(srv, "Scan", {"TableName": TABLE, "Segment": 0, "TotalSegments": 1000001})
        refused(srv, "Scan", {"TableName": TABLE, "Select": "SOME"})
        refused(srv, "Query", {"TableName": TABLE, "ScanIndexForward": "no", "KeyConditionExpression": "pk = :p",
                               "ExpressionAttributeValues": {":p": {"S": "k1"}}}, SER_OR_VAL)
        refused(srv, "Query", {"TableName": TABLE},
                msg="Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.")
        refused(srv, "CreateTable", {"TableName": "x-table", "BillingMode": "PAY_PER_REQUEST",
                                     "KeySchema": [{"AttributeName": "pk", "KeyType": "SIDEWAYS"}],
                                     "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}]})
        refused(srv, "CreateTable", {"TableName": "x-table", "BillingMode": "PAY_PER_REQUEST",
                                     "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                                     "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "Q"}]})
        refused(srv, "CreateTable", {"TableName": "x-table", "BillingMode": "PAY_PER_REQUEST",
                                     "KeySchema": [], "AttributeDefinitions": []})
        refused(srv, "CreateTable", {"TableName": "x-table", "BillingMode": "PAY_PER_REQUEST",
                                     "KeySchema": "pk", "AttributeDefinitions": []}, SER_OR_VAL)
        refused(srv, "CreateTable", {"TableName": TABLE, "BillingMode": "PAY_PER_REQUEST",
                                     "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                                     "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}]},
                "ResourceInUseException", contains=TABLE)
        assert ok(srv, "ListTables", {})["TableNames"] == [TABLE]
        refused(srv, "ListTables", {"Limit": 0})
        refused(srv, "ListTables", {"Limit": 101})
        refused(srv, "DeleteTable", {"TableName": "no-such-table"}, "ResourceNotFoundException",
                contains="Requested resource not found")
        intact(srv)


def test_ddb_bad_batches(ctx):
    with ddb_server(ctx) as srv:
        setup(srv)

        def puts(n, pk="b"):
            return [{"PutRequest": {"Item": {"pk": {"S": "%s%d" % (pk, i)}, "sk": {"N": "1"}}}} for i in range(n)]

        refused(srv, "BatchWriteItem", {"RequestItems": {TABLE: puts(26)}}, contains="25")
        refused(srv, "BatchWriteItem", {"RequestItems": {TABLE: puts(13), "other-tbl": puts(13)}})
        refused(srv, "BatchWriteItem", {"RequestItems": {}})
        refused(srv, "BatchWriteItem", {"RequestItems": {TABLE: []}})
        refused(srv, "BatchWriteItem", {"RequestItems": {TABLE: puts(2, "same") + puts(1, "same")}},
                msg="Provided list of item keys contains duplicates")
        refused(srv, "BatchWriteItem", {"RequestItems": {TABLE: [
            {"PutRequest": {"Item": dict(KEY, v={"S": "new"})}}, {"DeleteRequest": {"Key": KEY}}]}},
            msg="Provided list of item keys contains duplicates")
        refused(srv, "BatchWriteItem", {"RequestItems": {TABLE: [{}]}})
        refused(srv, "BatchWriteItem", {"RequestItems": {TABLE: [
            {"PutRequest": {"Item": {"pk": {"S": "x"}, "sk": {"N": "1"}}}, "DeleteRequest": {"Key": KEY}}]}})
        refused(srv, "BatchWriteItem", {"RequestItems": {TABLE: [
            {"PutRequest": {"Item": {"pk": {"S": "ok"}, "sk": {"N": "1"}}}},
            {"PutRequest": {"Item": {"pk": {"N": "1"}, "sk": {"N": "1"}}}}]}}, contains="Type mismatch")
        refused(srv, "BatchWriteItem", {"RequestItems": {TABLE: "puts"}}, SER_OR_VAL)
        refused(srv, "BatchWriteItem", {"RequestItems": {"no-such-table": puts(1)}}, "ResourceNotFoundException")
        keys = [{"pk": {"S": "k%d" % i}, "sk": {"N": str(i)}} for i in range(101)]
        refused(srv, "BatchGetItem", {"RequestItems": {TABLE: {"Keys": keys}}}, contains="100")
        refused(srv, "BatchGetItem", {"RequestItems": {TABLE: {"Keys": [KEY, KEY]}}},
                msg="Provided list of item keys contains duplicates")
        refused(srv, "BatchGetItem", {"RequestItems": {TABLE: {"Keys": []}}})
        refused(srv, "BatchGetItem", {"RequestItems": {TABLE: {"Keys": [{"pk": {"S": "k1"}}]}}},
                msg="The provided key element does not match the schema")
        refused(srv, "TransactWriteItems", {"TransactItems": [
            {"Put": {"TableName": TABLE, "Item": dict(KEY, v={"S": "t"})}},
            {"Delete": {"TableName": TABLE, "Key": KEY}}]},
            msg="Transaction request cannot include multiple operations on one item")
        refused(srv, "TransactWriteItems", {"TransactItems": [
            {"Put": {"TableName": TABLE, "Item": {"pk": {"S": "t%d" % i}, "sk": {"N": "1"}}}} for i in range(101)]},
            contains="100")
        refused(srv, "TransactWriteItems", {"TransactItems": []})
        refused(srv, "TransactWriteItems", {"TransactItems": [{}]})
        refused(srv, "TransactWriteItems", {"TransactItems": [
            {"Put": {"TableName": TABLE, "Item": {"pk": {"S": "x"}, "sk": {"N": "1"}}},
             "Delete": {"TableName": TABLE, "Key": KEY}}]})
        refused(srv, "TransactGetItems", {"TransactItems": [{"Get": {"TableName": TABLE, "Key": {"pk": {"S": "k1"}}}}]},
                msg="The provided key element does not match the schema")
        # nothing from the refused batches was written
        out = ok(srv, "Scan", {"TableName": TABLE, "Select": "COUNT"})
        assert out["Count"] == len(SEED), out
        intact(srv)


def test_ddb_boto3_without_client_validation(ctx):
    """boto3 with parameter validation off sends what its model forbids;
    botocore must get an error it can parse (code + message)."""
    with ddb_server(ctx) as srv:
        setup(srv)
        ddb = boto3.client("dynamodb", endpoint_url=srv.endpoint, region_name="us-east-1",
                           aws_access_key_id="testing", aws_secret_access_key="testing",
                           config=Config(parameter_validation=False, retries={"max_attempts": 1}))

        def code_of(fn, **kw):
            try:
                fn(**kw)
            except ClientError as e:
                assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400, e.response
                assert e.response["Error"].get("Message"), e.response
                return e.response["Error"]["Code"]
            raise AssertionError("the call succeeded: %r" % kw)

        assert code_of(ddb.put_item, TableName=TABLE, Item={"pk": {"S": "a", "N": "1"}, "sk": {"N": "1"}}) == \
            "ValidationException"
        assert code_of(ddb.put_item, TableName=TABLE, Item={"pk": {}, "sk": {"N": "1"}}) == "ValidationException"
        assert code_of(ddb.scan, TableName=TABLE, Limit=0) == "ValidationException"
        assert code_of(ddb.get_item, TableName="ab", Key=KEY) == "ValidationException"
        assert code_of(ddb.get_item, TableName=TABLE) == "ValidationException"
        assert code_of(ddb.put_item, TableName=TABLE, Item={"pk": {"S": "a"}, "sk": {"N": "1"},
                                                            "s": {"SS": []}}) == "ValidationException"
        assert code_of(ddb.batch_write_item, RequestItems={TABLE: [
            {"PutRequest": {"Item": {"pk": {"S": "b%d" % i}, "sk": {"N": "1"}}}} for i in range(30)]}) == \
            "ValidationException"
        assert code_of(ddb.query, TableName=TABLE, KeyConditionExpression="pk = :p",
                       ExpressionAttributeValues={":p": {"S": "k1"}}, Select="NOTHING") == "ValidationException"
        intact(srv)
