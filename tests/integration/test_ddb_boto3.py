"""boto3 against stepd's DynamoDB API: every operation a Python user (or a
Lambda handler) calls, checked against what real DynamoDB answers: the
DynamoDB API reference and developer guide, the error texts DynamoDB sends
(quoted in moto/localstack/dynalite threads), and botocore's service model.

Each test gets a fresh `stepd serve`. STEPD_DDB_ENDPOINT=http://127.0.0.1:PORT
runs the same tests against another server by hand (moto_server, to check
the tests themselves; see harness.ddb_server). Where moto 5.2.1 and real
DynamoDB differ, the tests follow DynamoDB; against moto these fail, as
expected: numbers are not canonicalised ("1.50" stays), ListTables is in
creation order (DynamoDB sorts names), 26-request batches are accepted,
a wrong key gives "Validation Exception", Select=COUNT still returns Items,
TransactGetItems ignores ProjectionExpression, a list element in a
ProjectionExpression beside another is dropped, UPDATED_OLD returns whole
maps and UPDATED_NEW skips unchanged values, IndexArn is missing, and
several inputs give it a 500 (comparing N with S, begins_with on an N sort
key, UpdateItem without UpdateExpression, size() of a missing attribute)."""
import decimal
import re
import time

import boto3
from boto3.dynamodb.conditions import Attr, Key
from botocore.config import Config
from botocore.exceptions import ClientError

import os

from harness import Server, boto3_client, ddb_server

# ---- helpers ----------------------------------------------------------------

NOT_FOUND = "Requested resource not found"
# AWS says "The parameter cannot be converted to a numeric value: abc";
# DynamoDB Local "A value provided cannot be converted into a number"
NOT_A_NUMBER = r"cannot be converted (to a numeric value|into a number)"
CCF = "The conditional request failed"


def client(srv):
    return boto3_client(srv, "dynamodb")


def resource(srv):
    return boto3.resource("dynamodb", endpoint_url=srv.endpoint, region_name="us-east-1",
                          aws_access_key_id="testing", aws_secret_access_key="testing",
                          config=Config(retries={"max_attempts": 1}))


def mk(ddb, name, hash_=("pk", "S"), range_=None, extra_attrs=(), gsis=None, lsis=None, **kw):
    """Creates an on-demand table; returns CreateTable's TableDescription."""
    ks = [{"AttributeName": hash_[0], "KeyType": "HASH"}]
    attrs = {hash_[0]: hash_[1]}
    if range_:
        ks.append({"AttributeName": range_[0], "KeyType": "RANGE"})
        attrs[range_[0]] = range_[1]
    for n, t in extra_attrs:
        attrs[n] = t
    args = dict(TableName=name, KeySchema=ks, BillingMode="PAY_PER_REQUEST",
                AttributeDefinitions=[{"AttributeName": n, "AttributeType": t} for n, t in attrs.items()])
    if gsis:
        args["GlobalSecondaryIndexes"] = gsis
    if lsis:
        args["LocalSecondaryIndexes"] = lsis
    args.update(kw)
    return ddb.create_table(**args)["TableDescription"]


def expect_error(code, fn, msg=None, contains=(), **kw):
    """Calls fn(**kw), which must fail with DynamoDB error `code` (HTTP 400).
    msg: the exact message; contains: texts the message must include."""
    try:
        out = fn(**kw)
    except ClientError as e:
        err = e.response["Error"]
        assert err["Code"] == code, "expected %s, got %s: %s" % (code, err["Code"], err)
        assert e.response["ResponseMetadata"]["HTTPStatusCode"] == 400, e.response["ResponseMetadata"]
        m = err.get("Message", "")
        if msg is not None:
            assert m == msg, "message %r, want %r" % (m, msg)
        for c in ([contains] if isinstance(contains, str) else contains):
            assert c in m, "message %r lacks %r" % (m, c)
        return e
    raise AssertionError("expected %s, the call succeeded: %r" % (code, out))


def S(v):
    return {"S": v}


def N(v):
    return {"N": str(v)}


def norm(av):
    """An AttributeValue with its sets sorted, for comparing values."""
    if isinstance(av, dict):
        out = {}
        for k, v in av.items():
            if k in ("SS", "NS"):
                out[k] = sorted(v)
            elif k == "BS":
                out[k] = sorted(bytes(x) for x in v)
            else:
                out[k] = norm(v)
        return out
    if isinstance(av, list):
        return [norm(x) for x in av]
    return av


def items_equal(got, want):
    assert norm(got) == norm(want), "got %r\nwant %r" % (got, want)


def keys_of(items, *names):
    return [tuple(list(i[n].values())[0] for n in names) for i in items]


def sks(items, name="sk"):
    """The sort-key values of items, as Python values (N -> Decimal)."""
    out = []
    for i in items:
        (t, v), = i[name].items()
        out.append(decimal.Decimal(v) if t == "N" else v)
    return out


# ---- tables -----------------------------------------------------------------

def test_ddb_create_describe_delete(ctx):
    with ddb_server(ctx) as srv:
        ddb = client(srv)
        t0 = time.time()
        d = mk(ddb, "Orders", range_=("sk", "N"))
        assert d["TableName"] == "Orders" and d["TableStatus"] == "ACTIVE", d
        assert d["TableArn"].startswith("arn:aws:dynamodb:us-east-1:") and d["TableArn"].endswith(":table/Orders"), d
        assert d["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"},
                                  {"AttributeName": "sk", "KeyType": "RANGE"}], d["KeySchema"]
        assert sorted(d["AttributeDefinitions"], key=lambda a: a["AttributeName"]) == [
            {"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "N"}]
        assert d["ItemCount"] == 0 and d["TableSizeBytes"] == 0, d
        assert abs(d["CreationDateTime"].timestamp() - time.time()) < 3600, d["CreationDateTime"]
        assert d["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST", d
        # the waiter's first DescribeTable sees ACTIVE: it never sleeps
        ddb.get_waiter("table_exists").wait(TableName="Orders", WaiterConfig={"Delay": 20, "MaxAttempts": 2})
        assert time.time() - t0 < 10
        t = ddb.describe_table(TableName="Orders")["Table"]
        assert t["TableStatus"] == "ACTIVE" and t["TableArn"] == d["TableArn"], t
        assert t["KeySchema"] == d["KeySchema"], t
        expect_error("ResourceInUseException", mk, msg="Table already exists: Orders", ddb=ddb, name="Orders")
        ddb.put_item(TableName="Orders", Item={"pk": S("a"), "sk": N(1)})
        d2 = ddb.delete_table(TableName="Orders")["TableDescription"]
        assert d2["TableName"] == "Orders" and d2["TableArn"] == d["TableArn"], d2
        ddb.get_waiter("table_not_exists").wait(TableName="Orders", WaiterConfig={"Delay": 20, "MaxAttempts": 2})
        assert time.time() - t0 < 10
        e = expect_error("ResourceNotFoundException", ddb.describe_table, TableName="Orders")
        assert e.response["Error"]["Message"].startswith(NOT_FOUND), e.response["Error"]
        expect_error("ResourceNotFoundException", ddb.delete_table, TableName="Orders", contains=NOT_FOUND)
        expect_error("ResourceNotFoundException", ddb.get_item, TableName="Orders",
                     Key={"pk": S("a"), "sk": N(1)}, msg=NOT_FOUND)
        # recreated under the same name: empty
        mk(ddb, "Orders", range_=("sk", "N"))
        assert ddb.scan(TableName="Orders")["Items"] == []


def test_ddb_create_table_validation(ctx):
    with ddb_server(ctx) as srv:
        ddb = client(srv)
        # a key attribute missing from AttributeDefinitions
        # DynamoDB: "One or more parameter values were invalid: Some index key attributes are not defined
        # in AttributeDefinitions. Keys: [sk], AttributeDefinitions: [pk]" (moto words it otherwise)
        e = expect_error("ValidationException", ddb.create_table, TableName="Tbl", BillingMode="PAY_PER_REQUEST",
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                    {"AttributeName": "sk", "KeyType": "RANGE"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
        assert "defin" in e.response["Error"]["Message"], e.response
        # an attribute defined but used by no key
        expect_error("ValidationException", ddb.create_table, TableName="Tbl", BillingMode="PAY_PER_REQUEST",
                     KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                           {"AttributeName": "x", "AttributeType": "S"}],
                     msg="One or more parameter values were invalid: Number of attributes in KeySchema does "
                         "not exactly match number of attributes defined in AttributeDefinitions")
        # PROVISIONED (the default) without ProvisionedThroughput
        # (moto: "...ReadCapacityUnits and WriteCapacityUnits must both be specified when BillingMode is
        # PROVISIONED"; AWS has said "No provisioned throughput specified for the table")
        e = expect_error("ValidationException", ddb.create_table, TableName="Tbl",
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}])
        assert "provisioned" in e.response["Error"]["Message"].lower(), e.response["Error"]
        assert ddb.list_tables()["TableNames"] == []


def test_ddb_list_tables_paging(ctx):
    names = ["t-%02d" % i for i in (7, 3, 11, 1, 9, 5, 2)]
    with ddb_server(ctx) as srv:
        ddb = client(srv)
        for n in names:
            mk(ddb, n)
        assert ddb.list_tables()["TableNames"] == sorted(names)
        assert "LastEvaluatedTableName" not in ddb.list_tables()
        pages, start = [], None
        for _ in range(10):
            kw = {"Limit": 3}
            if start:
                kw["ExclusiveStartTableName"] = start
            out = ddb.list_tables(**kw)
            pages.append(out["TableNames"])
            start = out.get("LastEvaluatedTableName")
            if start:
                assert start == out["TableNames"][-1], out
            else:
                break
        assert pages == [sorted(names)[0:3], sorted(names)[3:6], sorted(names)[6:]], pages
        # ExclusiveStartTableName need not name an existing table
        assert ddb.list_tables(ExclusiveStartTableName="t-04")["TableNames"] == ["t-05", "t-07", "t-09", "t-11"]
        got = [n for p in ddb.get_paginator("list_tables").paginate(PaginationConfig={"PageSize": 2})
               for n in p["TableNames"]]
        assert got == sorted(names), got


def test_ddb_update_table(ctx):
    with ddb_server(ctx) as srv:
        ddb = client(srv)
        mk(ddb, "Upd")
        d = ddb.describe_table(TableName="Upd")["Table"]
        assert d["ProvisionedThroughput"]["ReadCapacityUnits"] == 0, d
        out = ddb.update_table(TableName="Upd", BillingMode="PROVISIONED",
                               ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 7})
        assert out["TableDescription"]["TableName"] == "Upd", out
        ddb.get_waiter("table_exists").wait(TableName="Upd", WaiterConfig={"Delay": 1, "MaxAttempts": 5})
        d = ddb.describe_table(TableName="Upd")["Table"]
        assert d["ProvisionedThroughput"]["ReadCapacityUnits"] == 5, d
        assert d["ProvisionedThroughput"]["WriteCapacityUnits"] == 7, d
        assert d["BillingModeSummary"]["BillingMode"] == "PROVISIONED", d
        ddb.put_item(TableName="Upd", Item={"pk": S("x")})  # still usable
        assert ddb.get_item(TableName="Upd", Key={"pk": S("x")})["Item"] == {"pk": S("x")}
        expect_error("ResourceNotFoundException", ddb.update_table, TableName="Nope",
                     BillingMode="PAY_PER_REQUEST", contains=NOT_FOUND)


# ---- items ------------------------------------------------------------------

def test_ddb_put_get_delete(ctx):
    with ddb_server(ctx) as srv:
        ddb = client(srv)
        mk(ddb, "Tbl")
        item = {"pk": S("a"), "n": N(1), "s": S("x")}
        out = ddb.put_item(TableName="Tbl", Item=item)
        assert "Attributes" not in out, out
        assert ddb.get_item(TableName="Tbl", Key={"pk": S("a")})["Item"] == item
        assert ddb.get_item(TableName="Tbl", Key={"pk": S("a")}, ConsistentRead=True)["Item"] == item
        missing = ddb.get_item(TableName="Tbl", Key={"pk": S("zz")})
        assert "Item" not in missing, missing
        # replace: the whole item goes, ALL_OLD gives the old one
        out = ddb.put_item(TableName="Tbl", Item={"pk": S("a"), "m": N(2)}, ReturnValues="ALL_OLD")
        assert out["Attributes"] == item, out
        assert ddb.get_item(TableName="Tbl", Key={"pk": S("a")})["Item"] == {"pk": S("a"), "m": N(2)}
        out = ddb.put_item(TableName="Tbl", Item={"pk": S("new")}, ReturnValues="ALL_OLD")
        assert "Attributes" not in out, out
        expect_error("ValidationException", ddb.put_item, TableName="Tbl", Item={"pk": S("a")},
                     ReturnValues="ALL_NEW", msg="Return values set to invalid value")
        out = ddb.delete_item(TableName="Tbl", Key={"pk": S("a")}, ReturnValues="ALL_OLD")
        assert out["Attributes"] == {"pk": S("a"), "m": N(2)}, out
        assert "Item" not in ddb.get_item(TableName="Tbl", Key={"pk": S("a")})
        out = ddb.delete_item(TableName="Tbl", Key={"pk": S("a")}, ReturnValues="ALL_OLD")
        assert "Attributes" not in out, out  # deleting a missing item is no error
        expect_error("ValidationException", ddb.delete_item, TableName="Tbl", Key={"pk": S("a")},
                     ReturnValues="ALL_NEW", msg="Return values set to invalid value")
        assert [i["pk"]["S"] for i in ddb.scan(TableName="Tbl")["Items"]] == ["new"]
        d = ddb.describe_table(TableName="Tbl")["Table"]
        assert d["ItemCount"] in (0, 1), d  # DynamoDB refreshes it every ~6 hours


def test_ddb_attribute_types_roundtrip(ctx):
    blob = bytes(range(256))
    item = {
        "pk": S("types"),
        "s": S("héllo \u2603 \"quoted\" \\ \n\t \U0001F600"),
        "empty_s": S(""),
        "n_int": N(42), "n_neg": N(-7), "n_dec": N("3.14159"),
        "b": {"B": blob}, "empty_b": {"B": b""},
        "t": {"BOOL": True}, "f": {"BOOL": False},
        "nul": {"NULL": True},
        "m": {"M": {"a": S("x"), "inner": {"M": {"deep": {"L": [N(1), {"M": {}}, {"L": []}]}}}}},
        "l": {"L": [S("a"), N(1), {"BOOL": False}, {"NULL": True}, {"B": b"\x00\xff"}, {"SS": ["q"]}]},
        "empty_m": {"M": {}}, "empty_l": {"L": []},
        "ss": {"SS": ["b", "a", "c", ""]},
        "ns": {"NS": ["3", "-1", "2.5"]},
        "bs": {"BS": [b"\x01", b"\x00", b"\xff\xfe"]},
    }
    with ddb_server(ctx) as srv:
        ddb = client(srv)
        mk(ddb, "Tbl")
        ddb.put_item(TableName="Tbl", Item=item)
        got = ddb.get_item(TableName="Tbl", Key={"pk": S("types")})["Item"]
        items_equal(got, item)
        # B keys and N keys round-trip too
        mk(ddb, "TblB", hash_=("k", "B"), range_=("r", "N"))
        ddb.put_item(TableName="TblB", Item={"k": {"B": blob}, "r": N("-0.5"), "v": S("x")})
        got = ddb.get_item(TableName="TblB", Key={"k": {"B": blob}, "r": N("-0.50")})["Item"]
        assert got == {"k": {"B": blob}, "r": N("-0.5"), "v": S("x")}, got


def test_ddb_number_canonical_and_precision(ctx):
    """N values keep 38 significant digits exactly and come back in
    DynamoDB's canonical form: no trailing zeros, no exponent, no '+' or
    leading zeros, and -0 is 0."""
    cases = [
        ("1.50", "1.5"), ("100", "100"), ("1e3", "1000"), ("1E+2", "100"), ("0.0", "0"), ("-0", "0"),
        ("00012", "12"), ("+5", "5"), ("-1.2300", "-1.23"), ("1.0E-5", "0.00001"), (".5", "0.5"),
        ("12345678901234567890123456789012345678", "12345678901234567890123456789012345678"),
        ("0.12345678901234567890123456789012345678", "0.12345678901234567890123456789012345678"),
        ("-9.9999999999999999999999999999999999999", "-9.9999999999999999999999999999999999999"),
        ("1234567890123456789012345678901234567800000", "1234567890123456789012345678901234567800000"),
        ("9.9999999999999999999999999999999999999E+125", "99999999999999999999999999999999999999" + "0" * 88),
        ("1E-130", "0." + "0" * 129 + "1"),
    ]
    with ddb_server(ctx) as srv:
        ddb = client(srv)
        mk(ddb, "Tbl")
        item = {"pk": S("n")}
        for i, (given, _) in enumerate(cases):
            item["a%d" % i] = N(given)
        item["ns"] = {"NS": ["1.50", "2.0", "-0.10"]}
        item["l"] = {"L": [N("7.00")]}
        item["m"] = {"M": {"x": N("0010")}}
        ddb.put_item(TableName="Tbl", Item=item)
        got = ddb.get_item(TableName="Tbl", Key={"pk": S("n")})["Item"]
        for i, (given, want) in enumerate(cases):
            assert got["a%d" % i] == N(want), "%s stored as %r, want %s" % (given, got["a%d" % i], want)
        assert sorted(got["ns"]["NS"]) == ["-0.1", "1.5", "2"], got["ns"]
        assert got["l"] == {"L": [N("7")]} and got["m"] == {"M": {"x": N("10")}}, got
        # arithmetic keeps the exact digits
        out = ddb.update_item(TableName="Tbl", Key={"pk": S("n")}, UpdateExpression="SET a0 = a0 + :d, a11 = a11 - :one",
                              ExpressionAttributeValues={":d": N("0.0000000000000000000000000000000000001"),
                                                         ":one": N("1")}, ReturnValues="UPDATED_NEW")
        assert out["Attributes"]["a0"] == N("1.5000000000000000000000000000000000001"), out
        assert out["Attributes"]["a11"] == N("12345678901234567890123456789012345677"), out
        for bad, text in [
                ("123456789012345678901234567890123456789", "Attempting to store more than 38 significant digits in a Number"),
                ("1E+126", "Number overflow. Attempting to store a number with magnitude larger than supported range"),
                ("1E-131", "Number underflow. Attempting to store a number with magnitude smaller than supported range"),
                ("abc", NOT_A_NUMBER), ("", NOT_A_NUMBER), ("1.2.3", NOT_A_NUMBER)]:
            e = expect_error("ValidationException", ddb.put_item, TableName="Tbl", Item={"pk": S("bad"), "v": N(bad)})
            m = e.response["Error"]["Message"]
            assert re.search(text, m) if text is NOT_A_NUMBER else text in m, (bad, m)
        assert "Item" not in ddb.get_item(TableName="Tbl", Key={"pk": S("bad")})


def test_ddb_projection_expression(ctx):
    with ddb_server(ctx) as srv:
        ddb = client(srv)
        mk(ddb, "Tbl")
        ddb.put_item(TableName="Tbl", Item={
            "pk": S("p"), "a": S("A"), "b": N(2), "status": S("on"),
            "m": {"M": {"x": N(1), "y": {"M": {"z": S("deep"), "w": S("no")}}, "v": S("no")}},
            "l": {"L": [S("l0"), {"M": {"q": S("q1"), "r": S("no")}}, S("l2"), S("l3")]},
        })
        got = ddb.get_item(TableName="Tbl", Key={"pk": S("p")}, ProjectionExpression="a, m.y.z, l[1].q, l[3], #s",
                           ExpressionAttributeNames={"#s": "status"})["Item"]
        assert got == {"a": S("A"), "status": S("on"), "m": {"M": {"y": {"M": {"z": S("deep")}}}},
                       "l": {"L": [{"M": {"q": S("q1")}}, S("l3")]}}, got
        got = ddb.get_item(TableName="Tbl", Key={"pk": S("p")}, ProjectionExpression="nothere, m.nothere, l[9]")
        assert got.get("Item", {}) == {}, got
        got = ddb.get_item(TableName="Tbl", Key={"pk": S("p")}, ProjectionExpression="#m.#x",
                           ExpressionAttributeNames={"#m": "m", "#x": "x"})["Item"]
        assert got == {"m": {"M": {"x": N(1)}}}, got
        # a dotted name is one attribute when it comes through a placeholder
        ddb.put_item(TableName="Tbl", Item={"pk": S("d"), "a.b": S("dotted"), "a": {"M": {"b": S("nested")}}})
        got = ddb.get_item(TableName="Tbl", Key={"pk": S("d")}, ProjectionExpression="#ab",
                           ExpressionAttributeNames={"#ab": "a.b"})["Item"]
        assert got == {"a.b": S("dotted")}, got
        got = ddb.get_item(TableName="Tbl", Key={"pk": S("d")}, ProjectionExpression="a.b")["Item"]
        assert got == {"a": {"M": {"b": S("nested")}}}, got


def test_ddb_update_item_actions(ctx):
    with ddb_server(ctx) as srv:
        ddb = client(srv)
        mk(ddb, "Tbl")
        key = {"pk": S("u")}

        def upd(expr, values=None, names=None, rv="ALL_NEW", **kw):
            args = dict(TableName="Tbl", Key=key, UpdateExpression=expr, ReturnValues=rv, **kw)
            if values:
                args["ExpressionAttributeValues"] = values
            if names:
                args["ExpressionAttributeNames"] = names
            return ddb.update_item(**args).get("Attributes")

        # UpdateItem creates the item
        got = upd("SET a = :a, b = :b", {":a": S("x"), ":b": N(10)})
        assert got == {"pk": S("u"), "a": S("x"), "b": N(10)}, got
        # arithmetic, if_not_exists
        got = upd("SET b = b + :n, c = if_not_exists(c, :z) - :n, a = if_not_exists(a, :no)",
                  {":n": N(3), ":z": N(100), ":no": S("unused")})
        assert got["b"] == N(13) and got["c"] == N(97) and got["a"] == S("x"), got
        # list_append both ways, nested SET, list index
        upd("SET l = :l, m = :m", {":l": {"L": [N(1), N(2)]}, ":m": {"M": {"x": {"M": {}}}}})
        got = upd("SET l = list_append(l, :t), m.x.y = :y", {":t": {"L": [N(3)]}, ":y": S("why")})
        assert got["l"] == {"L": [N(1), N(2), N(3)]} and got["m"] == {"M": {"x": {"M": {"y": S("why")}}}}, got
        got = upd("SET l = list_append(:h, l)", {":h": {"L": [N(0)]}})
        assert got["l"] == {"L": [N(0), N(1), N(2), N(3)]}, got
        got = upd("SET l[1] = :v, l[10] = :w", {":v": S("one"), ":w": S("end")})
        assert got["l"] == {"L": [N(0), S("one"), N(2), N(3), S("end")]}, got
        # REMOVE: attributes, nested, list elements (the rest shift down)
        got = upd("REMOVE c, m.x.y, l[0], l[2], nothere")
        assert "c" not in got and got["m"] == {"M": {"x": {"M": {}}}}, got
        assert got["l"] == {"L": [S("one"), N(3), S("end")]}, got
        # ADD: numbers (missing counts as 0) and sets; DELETE from sets
        got = upd("ADD b :n, cnt :n, tags :t", {":n": N(-5), ":t": {"SS": ["x", "y"]}})
        assert got["b"] == N(8) and got["cnt"] == N(-5) and sorted(got["tags"]["SS"]) == ["x", "y"], got
        got = upd("ADD tags :t DELETE nums :none", {":t": {"SS": ["y", "z"]}, ":none": {"NS": ["1"]}})
        assert sorted(got["tags"]["SS"]) == ["x", "y", "z"] and "nums" not in got, got
        got = upd("DELETE tags :t", {":t": {"SS": ["x", "nothere"]}})
        assert sorted(got["tags"]["SS"]) == ["y", "z"], got
        got = upd("DELETE tags :t", {":t": {"SS": ["y", "z"]}})
        assert "tags" not in got, got  # an emptied set is removed
        # several clauses, any order, placeholders for names
        got = upd("REMOVE #a SET #s = :s ADD n2 :one", {":s": S("st"), ":one": N(1)}, {"#a": "a", "#s": "status"})
        assert "a" not in got and got["status"] == S("st") and got["n2"] == N(1), got
        want = {"pk": S("u"), "b": N(8), "cnt": N(-5), "l": {"L": [S("one"), N(3), S("end")]},
                "m": {"M": {"x": {"M": {}}}}, "status": S("st"), "n2": N(1)}
        assert ddb.get_item(TableName="Tbl", Key=key)["Item"] == want
        # UpdateItem without UpdateExpression creates a key-only item
        ddb.update_item(TableName="Tbl", Key={"pk": S("bare")})
        assert ddb.get_item(TableName="Tbl", Key={"pk": S("bare")})["Item"] == {"pk": S("bare")}


def test_ddb_update_return_values(ctx):
    with ddb_server(ctx) as srv:
        ddb = client(srv)
        mk(ddb, "Tbl")
        key = {"pk": S("r")}
        base = {"pk": S("r"), "a": N(1), "b": S("keep"), "m": {"M": {"x": N(1), "y": N(2)}}}

        def run(rv):
            ddb.put_item(TableName="Tbl", Item=base)
            out = ddb.update_item(TableName="Tbl", Key=key, UpdateExpression="SET a = a + :one, c = :c, m.x = :c",
                                  ExpressionAttributeValues={":one": N(1), ":c": S("new")}, ReturnValues=rv)
            return out.get("Attributes")

        assert run("NONE") is None
        assert run("ALL_OLD") == base
        assert run("ALL_NEW") == {"pk": S("r"), "a": N(2), "b": S("keep"), "c": S("new"),
                                  "m": {"M": {"x": S("new"), "y": N(2)}}}
        # UPDATED_*: only the paths the update touched (c did not exist before)
        assert run("UPDATED_OLD") == {"a": N(1), "m": {"M": {"x": N(1)}}}
        assert run("UPDATED_NEW") == {"a": N(2), "c": S("new"), "m": {"M": {"x": S("new")}}}
        ddb.put_item(TableName="Tbl", Item=base)
        out = ddb.update_item(TableName="Tbl", Key=key, UpdateExpression="REMOVE b", ReturnValues="UPDATED_OLD")
        assert out["Attributes"] == {"b": S("keep")}, out
        out = ddb.update_item(TableName="Tbl", Key=key, UpdateExpression="REMOVE b", ReturnValues="UPDATED_NEW")
        assert out.get("Attributes", {}) == {}, out
        out = ddb.update_item(TableName="Tbl", Key={"pk": S("fresh")}, UpdateExpression="SET a = :one",
                              ExpressionAttributeValues={":one": N(1)}, ReturnValues="ALL_OLD")
        assert "Attributes" not in out, out


def test_ddb_update_errors(ctx):
    with ddb_server(ctx) as srv:
        ddb = client(srv)
        mk(ddb, "Tbl", range_=("sk", "N"))
        key = {"pk": S("e"), "sk": N(1)}
        ddb.put_item(TableName="Tbl", Item=dict(key, s=S("str"), n=N(1), l={"L": []}))

        def bad(expr, values=None, contains=(), msg=None):
            args = dict(TableName="Tbl", Key=key, UpdateExpression=expr)
            if values:
                args["ExpressionAttributeValues"] = values
            return expect_error("ValidationException", ddb.update_item, contains=contains, msg=msg, **args)

        bad("SET pk = :v", {":v": S("x")},
            msg="One or more parameter values were invalid: Cannot update attribute pk. "
                "This attribute is part of the key")
        bad("REMOVE sk", contains="Cannot update attribute sk")
        # the type is known only when the item is read; moto's text differs (Incorrect operand type...)
        e = bad("SET n = s + :one", {":one": N(1)})
        m = e.response["Error"]["Message"]
        assert m == "An operand in the update expression has an incorrect data type" or (
            "Incorrect operand type" in m and "+" in m), m
        bad("SET n = nothere + :one", {":one": N(1)},
            msg="The provided expression refers to an attribute that does not exist in the item")
        bad("ADD s :one", {":one": N(1)}, msg="An operand in the update expression has an incorrect data type")
        bad("SET a = :v, a = :v", {":v": N(1)},
            contains="Invalid UpdateExpression: Two document paths overlap with each other")
        bad("SET m.x = :v", {":v": N(1)},
            msg="The document path provided in the update expression is invalid for update")
        bad("SET l = list_append(l, :v)", {":v": S("notalist")}, contains="list_append")
        expect_error("ValidationException", ddb.update_item, TableName="Tbl", Key={"pk": S("e")},
                     UpdateExpression="SET a = :v", ExpressionAttributeValues={":v": N(1)},
                     msg="The provided key element does not match the schema")
        assert ddb.get_item(TableName="Tbl", Key=key)["Item"] == dict(key, s=S("str"), n=N(1), l={"L": []})


# ---- conditions -------------------------------------------------------------

def test_ddb_condition_expressions(ctx):
    with ddb_server(ctx) as srv:
        ddb = client(srv)
        mk(ddb, "Tbl")
        item = {"pk": S("c"), "n": N(5), "s": S("hello"), "ss": {"SS": ["a", "b"]}, "l": {"L": [S("x"), N(1)]},
                "m": {"M": {"k": S("v")}}, "b": {"B": b"\x01\x02\x03"}, "t": {"BOOL": True}, "z": {"NULL": True}}
        ddb.put_item(TableName="Tbl", Item=item)
        values = {":3": N(3), ":5": N(5), ":7": N(7), ":he": S("he"), ":a": S("a"), ":x": S("x"),
                  ":tS": S("S"), ":tN": S("N"), ":tSS": S("SS"), ":tL": S("L"), ":tM": S("M"), ":tB": S("B"),
                  ":tBOOL": S("BOOL"), ":tNULL": S("NULL"), ":hello": S("hello"), ":q": S("q"), ":2": N(2)}

        def check(cond, want):
            used = {k: values[k] for k in re.findall(r":\w+", cond)}
            args = dict(TableName="Tbl", Key={"pk": S("c")}, UpdateExpression="SET touched = :one",
                        ConditionExpression=cond,
                        ExpressionAttributeValues=dict(used, **{":one": N(1)}))
            try:
                ddb.update_item(**args)
                ok = True
            except ClientError as e:
                assert e.response["Error"]["Code"] == "ConditionalCheckFailedException", (cond, e.response["Error"])
                assert e.response["Error"]["Message"] == CCF, e.response["Error"]
                ok = False
            assert ok == want, "%s: %s, want %s" % (cond, ok, want)

        for cond, want in [
            ("attribute_exists(n)", True), ("attribute_exists(nope)", False),
            ("attribute_not_exists(nope)", True), ("attribute_not_exists(s)", False),
            ("attribute_exists(m.k)", True), ("attribute_exists(m.nope)", False), ("attribute_exists(l[1])", True),
            ("attribute_exists(l[2])", False),
            ("attribute_type(s, :tS)", True), ("attribute_type(n, :tN)", True), ("attribute_type(ss, :tSS)", True),
            ("attribute_type(l, :tL)", True), ("attribute_type(m, :tM)", True), ("attribute_type(b, :tB)", True),
            ("attribute_type(t, :tBOOL)", True), ("attribute_type(z, :tNULL)", True), ("attribute_type(s, :tN)", False),
            ("attribute_type(nope, :tS)", False),
            ("begins_with(s, :he)", True), ("begins_with(s, :x)", False), ("begins_with(n, :he)", False),
            ("contains(s, :he)", True), ("contains(s, :q)", False), ("contains(ss, :a)", True),
            ("contains(ss, :x)", False), ("contains(l, :x)", True), ("contains(l, :a)", False),
            ("size(s) = :5", True), ("size(ss) = :2", True), ("size(l) = :2", True), ("size(m) < :2", True),
            ("size(b) = :3", True), ("size(s) > :5", False),
            ("n = :5", True), ("n <> :5", False), ("n < :7", True), ("n <= :5", True), ("n > :5", False),
            ("n >= :5", True), ("n > :3", True), ("s < :x", True), ("s >= :he", True),
            ("nope = :5", False), ("nope <> :5", True),
            ("n BETWEEN :3 AND :7", True), ("n BETWEEN :5 AND :5", True), ("n BETWEEN :7 AND :7", False),
            ("n IN (:3, :5, :7)", True), ("n IN (:3, :7)", False), ("s IN (:hello)", True),
            ("n = :5 AND s = :hello", True), ("n = :5 AND s = :x", False), ("n = :3 OR s = :hello", True),
            ("NOT n = :3", True), ("NOT (n = :5)", False), ("NOT attribute_exists(nope)", True),
            # AND binds tighter than OR; NOT tighter than AND
            ("n = :3 AND n = :3 OR n = :5", True), ("n = :5 OR n = :3 AND n = :3", True),
            ("(n = :5 OR n = :3) AND n = :3", False), ("NOT n = :3 AND n = :5", True),
            ("m.k = :x", False), ("l[0] = :x", True),
            # operands of different types: = is false, <> true, an order comparison false (moto 5.2.1 fails)
            ("s = :5", False), ("s <> :5", True), ("n < :he", False), ("s < n", False),
        ]:
            check(cond, want)
        # a condition on a missing item sees no attributes
        ddb.put_item(TableName="Tbl", Item={"pk": S("new")}, ConditionExpression="attribute_not_exists(pk)")
        expect_error("ConditionalCheckFailedException", ddb.put_item, TableName="Tbl", Item={"pk": S("new"), "v": N(1)},
                     ConditionExpression="attribute_not_exists(pk)", msg=CCF)
        expect_error("ConditionalCheckFailedException", ddb.delete_item, TableName="Tbl", Key={"pk": S("ghost")},
                     ConditionExpression="attribute_exists(pk)", msg=CCF)
        assert ddb.get_item(TableName="Tbl", Key={"pk": S("new")})["Item"] == {"pk": S("new")}
        assert "Item" not in ddb.get_item(TableName="Tbl", Key={"pk": S("ghost")})


def test_ddb_return_values_on_condition_check_failure(ctx):
    with ddb_server(ctx) as srv:
        ddb = client(srv)
        mk(ddb, "Tbl")
        old = {"pk": S("k"), "v": N(1), "s": {"SS": ["a"]}}
        ddb.put_item(TableName="Tbl", Item=old)
        for fn, kw in [(ddb.put_item, {"Item": {"pk": S("k"), "v": N(2)}}),
                       (ddb.update_item, {"Key": {"pk": S("k")}, "UpdateExpression": "SET v = :two",
                                          "ExpressionAttributeValues": {":two": N(2), ":one": N(1)}}),
                       (ddb.delete_item, {"Key": {"pk": S("k")}})]:
            kw = dict(kw, TableName="Tbl", ConditionExpression="v > :one")
            kw.setdefault("ExpressionAttributeValues", {":one": N(1)})
            e = expect_error("ConditionalCheckFailedException", fn, msg=CCF,
                             ReturnValuesOnConditionCheckFailure="ALL_OLD", **kw)
            items_equal(e.response.get("Item"), old)
            e = expect_error("ConditionalCheckFailedException", fn, msg=CCF, **kw)
            assert "Item" not in e.response, e.response
        # a failed condition on a missing item carries no Item
        e = expect_error("ConditionalCheckFailedException", ddb.delete_item, TableName="Tbl", Key={"pk": S("no")},
                         ConditionExpression="attribute_exists(pk)", ReturnValuesOnConditionCheckFailure="ALL_OLD")
        assert "Item" not in e.response, e.response
        items_equal(ddb.get_item(TableName="Tbl", Key={"pk": S("k")})["Item"], old)


# ---- query and scan ---------------------------------------------------------

NUM_SKS = ["-100", "-10.5", "-10", "-1", "-0.001", "0", "0.001", "0.5", "1", "2", "9.99", "10", "10.01", "100",
           "1000", "12345678901234567890"]


def load_num(ddb, table="Qry"):
    mk(ddb, table, range_=("sk", "N"))
    for i, v in enumerate(reversed(NUM_SKS)):
        ddb.put_item(TableName=table, Item={"pk": S("p"), "sk": N(v), "i": N(i), "odd": {"BOOL": i % 2 == 1}})
    for v in ("1", "5"):
        ddb.put_item(TableName=table, Item={"pk": S("other"), "sk": N(v)})


def q(ddb, cond, values, table="Qry", **kw):
    return ddb.query(TableName=table, KeyConditionExpression=cond, ExpressionAttributeValues=values, **kw)


def test_ddb_query_number_keys(ctx):
    D = decimal.Decimal
    allv = sorted(D(v) for v in NUM_SKS)
    with ddb_server(ctx) as srv:
        ddb = client(srv)
        load_num(ddb)
        out = q(ddb, "pk = :p", {":p": S("p")})
        assert sks(out["Items"]) == allv, sks(out["Items"])
        assert out["Count"] == len(allv) and out["ScannedCount"] == len(allv), out
        assert "LastEvaluatedKey" not in out, out
        out = q(ddb, "pk = :p", {":p": S("p")}, ScanIndexForward=False)
        assert sks(out["Items"]) == allv[::-1]
        for op, v, want in [
            ("=", "10", [D(10)]), ("=", "10.0", [D(10)]), ("=", "3", []),
            ("<", "0", [x for x in allv if x < 0]), ("<=", "-10", [x for x in allv if x <= -10]),
            (">", "9.99", [x for x in allv if x > D("9.99")]), (">=", "-0.001", [x for x in allv if x >= D("-0.001")]),
        ]:
            got = sks(q(ddb, "pk = :p AND sk %s :v" % op, {":p": S("p"), ":v": N(v)})["Items"])
            assert got == want, "sk %s %s: %s, want %s" % (op, v, got, want)
        got = sks(q(ddb, "pk = :p AND sk BETWEEN :a AND :b", {":p": S("p"), ":a": N("-10"), ":b": N("1")})["Items"])
        assert got == [x for x in allv if D(-10) <= x <= 1], got
        got = sks(q(ddb, "#k = :p and #s between :a and :b", {":p": S("p"), ":a": N("2"), ":b": N("100")},
                    ExpressionAttributeNames={"#k": "pk", "#s": "sk"}, ScanIndexForward=False)["Items"])
        assert got == [x for x in allv if 2 <= x <= 100][::-1], got
        assert q(ddb, "pk = :p", {":p": S("nobody")})["Items"] == []
        # Select COUNT
        out = q(ddb, "pk = :p AND sk > :z", {":p": S("p"), ":z": N(0)}, Select="COUNT")
        assert "Items" not in out and out["Count"] == len([x for x in allv if x > 0]), out


def test_ddb_query_filter_limit_paging(ctx):
    D = decimal.Decimal
    allv = sorted(D(v) for v in NUM_SKS)
    with ddb_server(ctx) as srv:
        ddb = client(srv)
        load_num(ddb)
        vals = {":p": S("p"), ":t": {"BOOL": True}}
        out = q(ddb, "pk = :p", vals, FilterExpression="odd = :t")
        odd = [D(i["sk"]["N"]) for i in out["Items"]]
        assert out["Count"] == len(odd) == len(allv) // 2 and out["ScannedCount"] == len(allv), out
        assert all(i["odd"] == {"BOOL": True} for i in out["Items"])
        # Limit counts items read before the filter
        out = q(ddb, "pk = :p", vals, FilterExpression="odd = :t", Limit=4)
        assert out["ScannedCount"] == 4 and out["Count"] == len([x for x in out["Items"]]) <= 4, out
        assert out["LastEvaluatedKey"] == {"pk": S("p"), "sk": N(str(allv[3]))}, out["LastEvaluatedKey"]
        # paging: every page has Limit items, the next starts after LastEvaluatedKey
        for forward in (True, False):
            got, start, pages = [], None, 0
            while True:
                kw = {"Limit": 5, "ScanIndexForward": forward}
                if start:
                    kw["ExclusiveStartKey"] = start
                out = q(ddb, "pk = :p", {":p": S("p")}, **kw)
                pages += 1
                assert len(out["Items"]) <= 5
                got += sks(out["Items"])
                start = out.get("LastEvaluatedKey")
                if not start:
                    break
                assert start == {"pk": S("p"), "sk": out["Items"][-1]["sk"]}, start
                assert pages < 10
            assert got == (allv if forward else allv[::-1]), got
        # an ExclusiveStartKey inside a range condition
        out = q(ddb, "pk = :p AND sk BETWEEN :a AND :b", {":p": S("p"), ":a": N(-10), ":b": N(10)},
                ExclusiveStartKey={"pk": S("p"), "sk": N("0.5")})
        assert sks(out["Items"]) == [x for x in allv if D("0.5") < x <= 10], out["Items"]
        # filter + paging with the paginator: all odd items, in order
        pages = ddb.get_paginator("query").paginate(
            TableName="Qry", KeyConditionExpression="pk = :p", FilterExpression="odd = :t",
            ExpressionAttributeValues=vals, PaginationConfig={"PageSize": 3})
        assert [D(i["sk"]["N"]) for p in pages for i in p["Items"]] == odd
        # ProjectionExpression on Query
        out = q(ddb, "pk = :p AND sk = :z", {":p": S("p"), ":z": N(0)}, ProjectionExpression="i")
        assert list(out["Items"][0]) == ["i"], out


def test_ddb_query_string_and_binary_order(ctx):
    """S and B sort keys sort by their bytes (UTF-8 for S), unsigned."""
    strs = ["a", "B", "Z", "aa", "a b", "é", "z", "~", "\u00ff", "\u4e2d", "\U0001F600", "0", "10", "9", "", "A"]
    strs = [s for s in strs if s]  # empty key strings are rejected
    blobs = [b"\x00", b"\x00\x00", b"\x01", b"\x7f", b"\x80", b"\xff", b"\xff\x00", b"a", b"A"]
    with ddb_server(ctx) as srv:
        ddb = client(srv)
        mk(ddb, "StrT", range_=("sk", "S"))
        mk(ddb, "BinT", range_=("sk", "B"))
        for s in strs:
            ddb.put_item(TableName="StrT", Item={"pk": S("p"), "sk": S(s)})
        for b in blobs:
            ddb.put_item(TableName="BinT", Item={"pk": S("p"), "sk": {"B": b}})
        want = sorted(strs, key=lambda s: s.encode("utf-8"))
        got = sks(q(ddb, "pk = :p", {":p": S("p")}, table="StrT")["Items"])
        assert got == want, got
        got = sks(q(ddb, "pk = :p", {":p": S("p")}, table="StrT", ScanIndexForward=False)["Items"])
        assert got == want[::-1], got
        got = sks(q(ddb, "pk = :p AND begins_with(sk, :a)", {":p": S("p"), ":a": S("a")}, table="StrT")["Items"])
        assert got == ["a", "a b", "aa"], got
        got = sks(q(ddb, "pk = :p AND sk BETWEEN :a AND :b", {":p": S("p"), ":a": S("B"), ":b": S("a")},
                    table="StrT")["Items"])
        assert got == [s for s in want if "B".encode() <= s.encode() <= b"a"], got
        got = sks(q(ddb, "pk = :p AND sk > :a", {":p": S("p"), ":a": S("z")}, table="StrT")["Items"])
        assert got == [s for s in want if s.encode() > b"z"], got
        bwant = sorted(blobs)
        got = [bytes(x) for x in sks(q(ddb, "pk = :p", {":p": S("p")}, table="BinT")["Items"])]
        assert got == bwant, got
        got = [bytes(x) for x in sks(q(ddb, "pk = :p AND sk >= :b", {":p": S("p"), ":b": {"B": b"\x7f"}},
                                       table="BinT")["Items"])]
        assert got == [b for b in bwant if b >= b"\x7f"], got
        got = [bytes(x) for x in sks(q(ddb, "pk = :p AND begins_with(sk, :b)", {":p": S("p"), ":b": {"B": b"\xff"}},
                                       table="BinT")["Items"])]
        assert got == [b"\xff", b"\xff\x00"], got


def test_ddb_query_validation(ctx):
    with ddb_server(ctx) as srv:
        ddb = client(srv)
        load_num(ddb)
        e = expect_error("ValidationException", q, ddb=ddb, cond="sk = :v", values={":v": N(1)})
        assert "pk" in e.response["Error"]["Message"] or "key" in e.response["Error"]["Message"].lower(), e.response
        expect_error("ValidationException", q, ddb=ddb, cond="pk = :p AND odd = :t",
                     values={":p": S("p"), ":t": {"BOOL": True}})
        expect_error("ValidationException", q, ddb=ddb, cond="pk = :p AND begins_with(sk, :v)",
                     values={":p": S("p"), ":v": N(1)}, contains="begins_with")
        expect_error("ValidationException", q, ddb=ddb, cond="pk = :p", values={":p": N(1)})
        expect_error("ValidationException", q, ddb=ddb, cond="pk < :p", values={":p": S("p")})
        expect_error("ValidationException", ddb.query, TableName="Qry",
                     msg="Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.")
        expect_error("ValidationException", q, ddb=ddb, cond="pk = :p", values={":p": S("p")}, IndexName="nope",
                     msg="The table does not have the specified index: nope")
        expect_error("ResourceNotFoundException", q, ddb=ddb, cond="pk = :p", values={":p": S("p")}, table="NoSuchTable",
                     msg=NOT_FOUND)


def test_ddb_scan_paging_filter_segments(ctx):
    with ddb_server(ctx) as srv:
        ddb = client(srv)
        mk(ddb, "StrT", range_=("sk", "N"))
        want = set()
        for p in range(12):
            for s in range(5):
                ddb.put_item(TableName="StrT", Item={"pk": S("p%d" % p), "sk": N(s), "v": N(p * 5 + s)})
                want.add(("p%d" % p, str(s)))
        out = ddb.scan(TableName="StrT")
        assert out["Count"] == out["ScannedCount"] == 60 and "LastEvaluatedKey" not in out, out["Count"]
        assert set(keys_of(out["Items"], "pk", "sk")) == want
        # items of one partition come out together, in sort-key order
        order = keys_of(out["Items"], "pk", "sk")
        for i in range(0, 60, 5):
            assert [k[0] for k in order[i:i + 5]] == [order[i][0]] * 5, order
            assert [k[1] for k in order[i:i + 5]] == ["0", "1", "2", "3", "4"], order
        # paging
        got, start = [], None
        for _ in range(30):
            kw = {"Limit": 7}
            if start:
                kw["ExclusiveStartKey"] = start
            out = ddb.scan(TableName="StrT", **kw)
            got += keys_of(out["Items"], "pk", "sk")
            start = out.get("LastEvaluatedKey")
            if not start:
                break
            assert start == {"pk": out["Items"][-1]["pk"], "sk": out["Items"][-1]["sk"]}, start
        assert got == order, "paged scan differs from a full scan"
        # filter
        out = ddb.scan(TableName="StrT", FilterExpression="v >= :a AND sk = :z",
                       ExpressionAttributeValues={":a": N(30), ":z": N(0)})
        assert sorted(keys_of(out["Items"], "pk")) == sorted(("p%d" % p,) for p in range(6, 12)), out["Items"]
        assert out["ScannedCount"] == 60 and out["Count"] == 6, out
        out = ddb.scan(TableName="StrT", Select="COUNT", FilterExpression="sk = :z", ExpressionAttributeValues={":z": N(0)})
        assert out["Count"] == 12 and "Items" not in out, out
        # parallel scan: every item in exactly one segment
        for total in (1, 3, 4, 7):
            seen = []
            for seg in range(total):
                start = None
                while True:
                    kw = {"Segment": seg, "TotalSegments": total, "Limit": 9}
                    if start:
                        kw["ExclusiveStartKey"] = start
                    out = ddb.scan(TableName="StrT", **kw)
                    seen += keys_of(out["Items"], "pk", "sk")
                    start = out.get("LastEvaluatedKey")
                    if not start:
                        break
            assert sorted(seen) == sorted(want), "TotalSegments %d: %d items, %d distinct" % (
                total, len(seen), len(set(seen)))
        expect_error("ValidationException", ddb.scan, TableName="StrT", Segment=4, TotalSegments=4, contains="Segment")
        expect_error("ValidationException", ddb.scan, TableName="StrT", Segment=1, contains="TotalSegments")
        expect_error("ResourceNotFoundException", ddb.scan, TableName="NoSuchTable", msg=NOT_FOUND)


def test_ddb_indexes(ctx):
    with ddb_server(ctx) as srv:
        ddb = client(srv)
        mk(ddb, "Idx", range_=("sk", "S"), extra_attrs=[("g", "S"), ("gs", "N"), ("ls", "N")],
           gsis=[{"IndexName": "byG", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"},
                                                     {"AttributeName": "gs", "KeyType": "RANGE"}],
                  "Projection": {"ProjectionType": "ALL"}},
                 {"IndexName": "byGkeys", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                  "Projection": {"ProjectionType": "KEYS_ONLY"}}],
           lsis=[{"IndexName": "byL", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                                                    {"AttributeName": "ls", "KeyType": "RANGE"}],
                  "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["x"]}}])
        d = ddb.describe_table(TableName="Idx")["Table"]
        assert sorted(i["IndexName"] for i in d["GlobalSecondaryIndexes"]) == ["byG", "byGkeys"], d
        assert [i["IndexName"] for i in d["LocalSecondaryIndexes"]] == ["byL"], d
        for i in d["GlobalSecondaryIndexes"]:
            assert i["IndexStatus"] == "ACTIVE" and i["IndexArn"].endswith(":table/Idx/index/" + i["IndexName"]), i
        rows = [("a", "1", "red", 3, 30), ("a", "2", "red", 1, 10), ("a", "3", "blue", 2, 20),
                ("b", "1", "red", 2, 5), ("b", "2", None, None, None)]
        for pk, sk, g, gs, ls in rows:
            it = {"pk": S(pk), "sk": S(sk), "x": S("x" + pk + sk), "y": S("y")}
            if g:
                it.update(g=S(g), gs=N(gs), ls=N(ls))
            ddb.put_item(TableName="Idx", Item=it)
        out = ddb.query(TableName="Idx", IndexName="byG", KeyConditionExpression="g = :g",
                        ExpressionAttributeValues={":g": S("red")})
        assert [(i["pk"]["S"], i["sk"]["S"]) for i in out["Items"]] == [("a", "2"), ("b", "1"), ("a", "1")], out
        assert out["Items"][0]["y"] == S("y"), out  # ALL
        out = ddb.query(TableName="Idx", IndexName="byG", KeyConditionExpression="g = :g AND gs > :n",
                        ExpressionAttributeValues={":g": S("red"), ":n": N(1)}, Limit=1)
        assert [(i["pk"]["S"], i["sk"]["S"]) for i in out["Items"]] == [("b", "1")], out
        # an index page's LastEvaluatedKey holds the table's and the index's keys
        assert out["LastEvaluatedKey"] == {"pk": S("b"), "sk": S("1"), "g": S("red"), "gs": N(2)}, out
        out2 = ddb.query(TableName="Idx", IndexName="byG", KeyConditionExpression="g = :g AND gs > :n",
                         ExpressionAttributeValues={":g": S("red"), ":n": N(1)},
                         ExclusiveStartKey=out["LastEvaluatedKey"])
        assert [(i["pk"]["S"], i["sk"]["S"]) for i in out2["Items"]] == [("a", "1")], out2
        out = ddb.query(TableName="Idx", IndexName="byGkeys", KeyConditionExpression="g = :g",
                        ExpressionAttributeValues={":g": S("blue")})
        assert out["Items"] == [{"pk": S("a"), "sk": S("3"), "g": S("blue")}], out  # KEYS_ONLY
        # LSI: same partition, other sort key; INCLUDE projects x
        out = ddb.query(TableName="Idx", IndexName="byL", KeyConditionExpression="pk = :p",
                        ExpressionAttributeValues={":p": S("a")}, ScanIndexForward=False)
        assert [i["sk"]["S"] for i in out["Items"]] == ["1", "3", "2"], out
        assert out["Items"][0] == {"pk": S("a"), "sk": S("1"), "ls": N(30), "x": S("xa1")}, out["Items"][0]
        # a sparse index holds only the items that have its keys
        out = ddb.scan(TableName="Idx", IndexName="byG")
        assert out["Count"] == 4 and sorted(keys_of(out["Items"], "pk", "sk")) == [
            ("a", "1"), ("a", "2"), ("a", "3"), ("b", "1")], out
        out = ddb.scan(TableName="Idx", IndexName="byL")
        assert out["Count"] == 4, out
        # updates move items in the indexes
        ddb.update_item(TableName="Idx", Key={"pk": S("b"), "sk": S("2")}, UpdateExpression="SET g = :g, gs = :n",
                        ExpressionAttributeValues={":g": S("blue"), ":n": N(9)})
        ddb.update_item(TableName="Idx", Key={"pk": S("a"), "sk": S("3")}, UpdateExpression="REMOVE g")
        ddb.delete_item(TableName="Idx", Key={"pk": S("a"), "sk": S("1")})
        out = ddb.query(TableName="Idx", IndexName="byG", KeyConditionExpression="g = :g",
                        ExpressionAttributeValues={":g": S("blue")})
        assert keys_of(out["Items"], "pk", "sk") == [("b", "2")], out
        out = ddb.query(TableName="Idx", IndexName="byG", KeyConditionExpression="g = :g",
                        ExpressionAttributeValues={":g": S("red")})
        assert keys_of(out["Items"], "pk", "sk") == [("a", "2"), ("b", "1")], out
        expect_error("ValidationException", ddb.query, TableName="Idx", IndexName="byG", ConsistentRead=True,
                     KeyConditionExpression="g = :g", ExpressionAttributeValues={":g": S("red")},
                     msg="Consistent reads are not supported on global secondary indexes")
        # an index key attribute of the wrong type is refused
        expect_error("ValidationException", ddb.put_item, TableName="Idx",
                     Item={"pk": S("c"), "sk": S("1"), "g": N(1), "gs": N(1)}, contains="g")


# ---- batches and transactions -----------------------------------------------

def test_ddb_batch_write_get(ctx):
    with ddb_server(ctx) as srv:
        ddb = client(srv)
        mk(ddb, "TabA")
        mk(ddb, "BinT", hash_=("id", "N"))
        ddb.put_item(TableName="TabA", Item={"pk": S("gone")})
        reqs = [{"PutRequest": {"Item": {"pk": S("a%02d" % i), "v": N(i)}}} for i in range(24)]
        reqs.append({"DeleteRequest": {"Key": {"pk": S("gone")}}})
        out = ddb.batch_write_item(RequestItems={"TabA": reqs})
        assert out["UnprocessedItems"] == {}, out
        out = ddb.batch_write_item(RequestItems={
            "TabA": [{"PutRequest": {"Item": {"pk": S("a00"), "v": N(100)}}}],
            "BinT": [{"PutRequest": {"Item": {"id": N(i), "w": S("b%d" % i)}}} for i in range(10)]})
        assert out["UnprocessedItems"] == {}, out
        assert ddb.scan(TableName="TabA", Select="COUNT")["Count"] == 24
        keys = [{"pk": S("a%02d" % i)} for i in range(24)] + [{"pk": S("missing")}]
        out = ddb.batch_get_item(RequestItems={"TabA": {"Keys": keys},
                                               "BinT": {"Keys": [{"id": N(i)} for i in range(0, 20, 2)],
                                                     "ProjectionExpression": "w"}})
        assert out["UnprocessedKeys"] == {}, out
        got = {i["pk"]["S"]: i["v"]["N"] for i in out["Responses"]["TabA"]}
        assert got == dict([("a%02d" % i, str(i)) for i in range(1, 24)] + [("a00", "100")]), got
        assert sorted(i["w"]["S"] for i in out["Responses"]["BinT"]) == ["b0", "b2", "b4", "b6", "b8"], out
        assert all(list(i) == ["w"] for i in out["Responses"]["BinT"]), out
        out = ddb.batch_get_item(RequestItems={"TabA": {"Keys": [{"pk": S("nope")}]}})
        assert out["Responses"] == {"TabA": []} and out["UnprocessedKeys"] == {}, out
        # 100 keys is the limit; 101 is refused
        out = ddb.batch_get_item(RequestItems={"TabA": {"Keys": [{"pk": S("k%d" % i)} for i in range(100)]}})
        assert out["Responses"]["TabA"] == [], out
        expect_error("ValidationException", ddb.batch_get_item,
                     RequestItems={"TabA": {"Keys": [{"pk": S("k%d" % i)} for i in range(101)]}}, contains="100")
        expect_error("ValidationException", ddb.batch_write_item,
                     RequestItems={"TabA": [{"PutRequest": {"Item": {"pk": S("x%d" % i)}}} for i in range(26)]},
                     contains="25")
        expect_error("ValidationException", ddb.batch_write_item,
                     RequestItems={"TabA": [{"PutRequest": {"Item": {"pk": S("dup")}}},
                                         {"DeleteRequest": {"Key": {"pk": S("dup")}}}]},
                     msg="Provided list of item keys contains duplicates")
        expect_error("ValidationException", ddb.batch_get_item,
                     RequestItems={"TabA": {"Keys": [{"pk": S("a01")}, {"pk": S("a01")}]}},
                     msg="Provided list of item keys contains duplicates")
        expect_error("ResourceNotFoundException", ddb.batch_write_item,
                     RequestItems={"Nope": [{"PutRequest": {"Item": {"pk": S("x")}}}]}, contains=NOT_FOUND)
        # a bad request in a batch applies none of it
        expect_error("ValidationException", ddb.batch_write_item,
                     RequestItems={"TabA": [{"PutRequest": {"Item": {"pk": S("ok1")}}},
                                         {"PutRequest": {"Item": {"pk": N(1)}}}]})
        assert "Item" not in ddb.get_item(TableName="TabA", Key={"pk": S("ok1")})
        assert ddb.scan(TableName="TabA", Select="COUNT")["Count"] == 24


def test_ddb_transact_write(ctx):
    with ddb_server(ctx) as srv:
        ddb = client(srv)
        mk(ddb, "Tbl")
        ddb.put_item(TableName="Tbl", Item={"pk": S("acct1"), "bal": N(100)})
        ddb.put_item(TableName="Tbl", Item={"pk": S("acct2"), "bal": N(0)})
        ddb.put_item(TableName="Tbl", Item={"pk": S("old")})
        ddb.put_item(TableName="Tbl", Item={"pk": S("guard"), "open": {"BOOL": True}})
        ops = [
            {"Update": {"TableName": "Tbl", "Key": {"pk": S("acct1")}, "UpdateExpression": "SET bal = bal - :a",
                        "ConditionExpression": "bal >= :a", "ExpressionAttributeValues": {":a": N(30)}}},
            {"Update": {"TableName": "Tbl", "Key": {"pk": S("acct2")}, "UpdateExpression": "SET bal = bal + :a",
                        "ExpressionAttributeValues": {":a": N(30)}}},
            {"Put": {"TableName": "Tbl", "Item": {"pk": S("log1"), "amt": N(30)},
                     "ConditionExpression": "attribute_not_exists(pk)"}},
            {"Delete": {"TableName": "Tbl", "Key": {"pk": S("old")}}},
            {"ConditionCheck": {"TableName": "Tbl", "Key": {"pk": S("guard")}, "ConditionExpression": "#o = :t",
                                "ExpressionAttributeNames": {"#o": "open"},
                                "ExpressionAttributeValues": {":t": {"BOOL": True}}}},
        ]
        ddb.transact_write_items(TransactItems=ops)

        def state():
            return {i["pk"]["S"]: i for i in ddb.scan(TableName="Tbl")["Items"]}

        st = state()
        assert st["acct1"]["bal"] == N(70) and st["acct2"]["bal"] == N(30) and "old" not in st and "log1" in st, st
        # the second Put's condition fails: nothing is applied, reasons in order
        ops2 = [
            {"Update": {"TableName": "Tbl", "Key": {"pk": S("acct1")}, "UpdateExpression": "SET bal = bal - :a",
                        "ConditionExpression": "bal >= :a", "ExpressionAttributeValues": {":a": N(30)}}},
            {"Put": {"TableName": "Tbl", "Item": {"pk": S("log1"), "amt": N(99)},
                     "ConditionExpression": "attribute_not_exists(pk)", "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
            {"Put": {"TableName": "Tbl", "Item": {"pk": S("log2")}}},
        ]
        before = state()
        e = expect_error("TransactionCanceledException", ddb.transact_write_items, TransactItems=ops2)
        assert e.response["Error"]["Message"] == ("Transaction cancelled, please refer cancellation reasons for "
                                                  "specific reasons [None, ConditionalCheckFailed, None]"), e.response
        reasons = e.response["CancellationReasons"]
        assert [r["Code"] for r in reasons] == ["None", "ConditionalCheckFailed", "None"], reasons
        assert reasons[1]["Message"] == CCF, reasons
        assert reasons[1]["Item"] == {"pk": S("log1"), "amt": N(30)}, reasons
        assert "Item" not in reasons[0] and "Item" not in reasons[2], reasons
        assert state() == before
        # a ConditionCheck that fails
        e = expect_error("TransactionCanceledException", ddb.transact_write_items, TransactItems=[
            {"ConditionCheck": {"TableName": "Tbl", "Key": {"pk": S("nobody")},
                                "ConditionExpression": "attribute_exists(pk)"}},
            {"Delete": {"TableName": "Tbl", "Key": {"pk": S("acct1")}}}])
        assert [r["Code"] for r in e.response["CancellationReasons"]] == ["ConditionalCheckFailed", "None"], e.response
        assert state() == before
        # two operations on one item
        expect_error("ValidationException", ddb.transact_write_items, TransactItems=[
            {"Put": {"TableName": "Tbl", "Item": {"pk": S("x")}}},
            {"Delete": {"TableName": "Tbl", "Key": {"pk": S("x")}}}],
            msg="Transaction request cannot include multiple operations on one item")
        expect_error("ResourceNotFoundException", ddb.transact_write_items, TransactItems=[
            {"Put": {"TableName": "Nope", "Item": {"pk": S("x")}}}], contains=NOT_FOUND)
        assert state() == before


def test_ddb_transact_get(ctx):
    with ddb_server(ctx) as srv:
        ddb = client(srv)
        mk(ddb, "Tbl")
        mk(ddb, "Upd", hash_=("id", "N"))
        ddb.put_item(TableName="Tbl", Item={"pk": S("a"), "v": N(1), "w": S("x")})
        ddb.put_item(TableName="Upd", Item={"id": N(7), "z": {"BOOL": True}})
        ddb.put_item(TableName="Upd", Item={"id": N(8), "z": {"BOOL": False}, "other": S("x")})
        out = ddb.transact_get_items(TransactItems=[
            {"Get": {"TableName": "Tbl", "Key": {"pk": S("a")}}},
            {"Get": {"TableName": "Tbl", "Key": {"pk": S("missing")}}},
            {"Get": {"TableName": "Upd", "Key": {"id": N(7)}}},
            {"Get": {"TableName": "Upd", "Key": {"id": N("8.0")}, "ProjectionExpression": "#z",
                     "ExpressionAttributeNames": {"#z": "z"}}}])
        r = out["Responses"]
        assert len(r) == 4, r
        assert r[0] == {"Item": {"pk": S("a"), "v": N(1), "w": S("x")}}, r
        assert r[1] == {}, r  # a missing item is an empty response, in its place
        assert r[2] == {"Item": {"id": N(7), "z": {"BOOL": True}}}, r
        assert r[3] == {"Item": {"z": {"BOOL": False}}}, r
        expect_error("ResourceNotFoundException", ddb.transact_get_items, TransactItems=[
            {"Get": {"TableName": "Nope", "Key": {"pk": S("a")}}}], contains=NOT_FOUND)


# ---- the resource API (what Lambda handlers use) ----------------------------

def test_ddb_resource_api(ctx):
    D = decimal.Decimal
    with ddb_server(ctx) as srv:
        res = resource(srv)
        table = res.create_table(TableName="Orders", BillingMode="PAY_PER_REQUEST",
                                 KeySchema=[{"AttributeName": "customer", "KeyType": "HASH"},
                                            {"AttributeName": "orderId", "KeyType": "RANGE"}],
                                 AttributeDefinitions=[{"AttributeName": "customer", "AttributeType": "S"},
                                                       {"AttributeName": "orderId", "AttributeType": "N"}])
        table.wait_until_exists()
        assert table.table_status == "ACTIVE"
        for i in range(1, 8):
            table.put_item(Item={"customer": "c1", "orderId": i, "total": D("19.99") * i, "paid": i % 2 == 0,
                                 "tags": {"t%d" % i, "all"}, "lines": [{"sku": "A", "qty": i}], "note": None})
        table.put_item(Item={"customer": "c2", "orderId": 1, "total": D("5")})
        got = table.get_item(Key={"customer": "c1", "orderId": 3})["Item"]
        assert got == {"customer": "c1", "orderId": D(3), "total": D("59.97"), "paid": False,
                       "tags": {"t3", "all"}, "lines": [{"sku": "A", "qty": D(3)}], "note": None}, got
        out = table.query(KeyConditionExpression=Key("customer").eq("c1") & Key("orderId").between(2, 5))
        assert [i["orderId"] for i in out["Items"]] == [2, 3, 4, 5], out
        out = table.query(KeyConditionExpression=Key("customer").eq("c1") & Key("orderId").gt(2),
                          FilterExpression=Attr("paid").eq(True) & Attr("total").lt(D("100")),
                          ScanIndexForward=False)
        assert [i["orderId"] for i in out["Items"]] == [4], out
        out = table.query(KeyConditionExpression=Key("customer").eq("c1"),
                          FilterExpression=Attr("tags").contains("t6") | Attr("orderId").lte(1))
        assert [i["orderId"] for i in out["Items"]] == [1, 6], out
        out = table.update_item(Key={"customer": "c1", "orderId": 1},
                                UpdateExpression="SET #s = :s ADD retries :one",
                                ExpressionAttributeNames={"#s": "status"},
                                ExpressionAttributeValues={":s": "SHIPPED", ":one": 1}, ReturnValues="ALL_NEW")
        assert out["Attributes"]["status"] == "SHIPPED" and out["Attributes"]["retries"] == 1, out
        try:
            table.put_item(Item={"customer": "c1", "orderId": 1}, ConditionExpression=Attr("customer").not_exists())
            raise AssertionError("the conditional put succeeded")
        except res.meta.client.exceptions.ConditionalCheckFailedException as e:
            assert e.response["Error"]["Message"] == CCF, e.response
        with table.batch_writer() as bw:
            for i in range(30):
                bw.put_item(Item={"customer": "c3", "orderId": i})
            bw.delete_item(Key={"customer": "c2", "orderId": 1})
        assert table.query(KeyConditionExpression=Key("customer").eq("c3"), Select="COUNT")["Count"] == 30
        out = table.scan(FilterExpression=Attr("customer").begins_with("c") & Attr("orderId").is_in([D(0), D(7)]))
        assert sorted((i["customer"], i["orderId"]) for i in out["Items"]) == [("c1", 7), ("c3", 0), ("c3", 7)], out
        table.delete_item(Key={"customer": "c1", "orderId": 7})
        assert "Item" not in table.get_item(Key={"customer": "c1", "orderId": 7})
        table.delete()
        table.wait_until_not_exists()


# ---- errors -----------------------------------------------------------------

def test_ddb_errors(ctx):
    with ddb_server(ctx) as srv:
        ddb = client(srv)
        mk(ddb, "Tbl", range_=("sk", "N"))
        ddb.put_item(TableName="Tbl", Item={"pk": S("a"), "sk": N(1), "v": S("keep")})
        for fn, kw in [(ddb.get_item, {"Key": {"pk": S("a")}}), (ddb.put_item, {"Item": {"pk": S("a")}}),
                       (ddb.delete_item, {"Key": {"pk": S("a")}}), (ddb.scan, {}),
                       (ddb.update_item, {"Key": {"pk": S("a")}})]:
            expect_error("ResourceNotFoundException", fn, TableName="Missing", msg=NOT_FOUND, **kw)
        # keys
        expect_error("ValidationException", ddb.put_item, TableName="Tbl", Item={"pk": S("a"), "v": N(1)},
                     msg="One or more parameter values were invalid: Missing the key sk in the item")
        expect_error("ValidationException", ddb.put_item, TableName="Tbl", Item={"pk": N(1), "sk": N(1)},
                     msg="One or more parameter values were invalid: Type mismatch for key pk expected: S actual: N")
        expect_error("ValidationException", ddb.put_item, TableName="Tbl", Item={"pk": S("a"), "sk": S("1")},
                     msg="One or more parameter values were invalid: Type mismatch for key sk expected: N actual: S")
        for key in ({"pk": S("a")}, {"pk": S("a"), "sk": N(1), "x": S("extra")}, {"pk": N(1), "sk": N(1)},
                    {"pk": S("a"), "other": N(1)}):
            expect_error("ValidationException", ddb.get_item, TableName="Tbl", Key=key,
                         msg="The provided key element does not match the schema")
            expect_error("ValidationException", ddb.delete_item, TableName="Tbl", Key=key,
                         msg="The provided key element does not match the schema")
        expect_error("ValidationException", ddb.put_item, TableName="Tbl", Item={"pk": S(""), "sk": N(1)},
                     contains=["empty string", "pk"])
        # expression attribute names and values
        expect_error("ValidationException", ddb.get_item, TableName="Tbl", Key={"pk": S("a"), "sk": N(1)},
                     ProjectionExpression="v", ExpressionAttributeNames={"#x": "x"},
                     msg="Value provided in ExpressionAttributeNames unused in expressions: keys: {#x}")
        expect_error("ValidationException", ddb.update_item, TableName="Tbl", Key={"pk": S("a"), "sk": N(1)},
                     UpdateExpression="SET v = :v", ExpressionAttributeValues={":v": S("x"), ":unused": N(1)},
                     msg="Value provided in ExpressionAttributeValues unused in expressions: keys: {:unused}")
        expect_error("ValidationException", ddb.update_item, TableName="Tbl", Key={"pk": S("a"), "sk": N(1)},
                     UpdateExpression="SET v = :nope", ExpressionAttributeValues={":v": S("x")},
                     msg="Invalid UpdateExpression: An expression attribute value used in expression is not "
                         "defined; attribute value: :nope")
        expect_error("ValidationException", ddb.put_item, TableName="Tbl", Item={"pk": S("a"), "sk": N(1)},
                     ConditionExpression="#nope = :v", ExpressionAttributeValues={":v": S("x")},
                     msg="Invalid ConditionExpression: An expression attribute name used in the document path is "
                         "not defined; attribute name: #nope")
        expect_error("ValidationException", ddb.put_item, TableName="Tbl", Item={"pk": S("a"), "sk": N(1)},
                     ConditionExpression="v = :nope",
                     msg="Invalid ConditionExpression: An expression attribute value used in expression is not "
                         "defined; attribute value: :nope")
        # syntax errors and reserved words
        expect_error("ValidationException", ddb.update_item, TableName="Tbl", Key={"pk": S("a"), "sk": N(1)},
                     UpdateExpression="SET v = ", contains="Invalid UpdateExpression: Syntax error; token:")
        expect_error("ValidationException", ddb.update_item, TableName="Tbl", Key={"pk": S("a"), "sk": N(1)},
                     UpdateExpression="SET v = :v)", ExpressionAttributeValues={":v": S("x")},
                     contains="Invalid UpdateExpression: Syntax error; token: \")\"")
        expect_error("ValidationException", ddb.put_item, TableName="Tbl", Item={"pk": S("a"), "sk": N(1)},
                     ConditionExpression="v == :v", ExpressionAttributeValues={":v": S("x")},
                     contains="Invalid ConditionExpression: Syntax error; token:")
        expect_error("ValidationException", ddb.update_item, TableName="Tbl", Key={"pk": S("a"), "sk": N(1)},
                     UpdateExpression="SET status = :v", ExpressionAttributeValues={":v": S("x")},
                     msg="Invalid UpdateExpression: Attribute name is a reserved keyword; reserved keyword: status")
        expect_error("ValidationException", ddb.get_item, TableName="Tbl", Key={"pk": S("a"), "sk": N(1)},
                     ProjectionExpression="v, name",
                     msg="Invalid ProjectionExpression: Attribute name is a reserved keyword; reserved keyword: name")
        expect_error("ValidationException", ddb.scan, TableName="Tbl", FilterExpression="nofunc(v)",
                     contains="Invalid FilterExpression")
        expect_error("ValidationException", ddb.put_item, TableName="Tbl", Item={"pk": S("a"), "sk": N(1)},
                     ConditionExpression="attribute_exists(v, v)", contains="attribute_exists")
        # DynamoDB refuses a comparison of a path with itself
        expect_error("ValidationException", ddb.put_item, TableName="Tbl", Item={"pk": S("a"), "sk": N(1)},
                     ConditionExpression="v = v", contains=[
                         "Invalid ConditionExpression: The first operand must be distinct from the remaining "
                         "operands for this operator or function; operator: =, first operand: [v]"])
        # nothing above changed the item
        assert ddb.get_item(TableName="Tbl", Key={"pk": S("a"), "sk": N(1)})["Item"] == {
            "pk": S("a"), "sk": N(1), "v": S("keep")}


def test_ddb_tables_survive_restart(ctx):
    """Tables and items live in the store: a restarted server (same store,
    SIGTERM, or SIGKILL after the answer) still has them."""
    if os.environ.get("STEPD_DDB_ENDPOINT"):
        return  # needs a stepd of its own
    with Server(ctx.stepd) as srv:
        ddb = client(srv)
        mk(ddb, "Keep", range_=("sk", "N"), extra_attrs=[("g", "S")],
           gsis=[{"IndexName": "byG", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                  "Projection": {"ProjectionType": "ALL"}}])
        for i in range(20):
            ddb.put_item(TableName="Keep", Item={"pk": S("p"), "sk": N(i), "g": S("g%d" % (i % 2))})
        ddb.update_item(TableName="Keep", Key={"pk": S("p"), "sk": N(3)}, UpdateExpression="SET v = :v",
                        ExpressionAttributeValues={":v": N("1.50")})
        srv.stop()
        srv.start()
        ddb = client(srv)
        assert ddb.describe_table(TableName="Keep")["Table"]["GlobalSecondaryIndexes"][0]["IndexName"] == "byG"
        assert q(ddb, "pk = :p", {":p": S("p")}, table="Keep")["Count"] == 20
        assert ddb.get_item(TableName="Keep", Key={"pk": S("p"), "sk": N(3)})["Item"]["v"] == N("1.5")
        out = ddb.query(TableName="Keep", IndexName="byG", KeyConditionExpression="g = :g",
                        ExpressionAttributeValues={":g": S("g1")})
        assert out["Count"] == 10, out
        ddb.delete_item(TableName="Keep", Key={"pk": S("p"), "sk": N(0)})
        srv.kill()
        srv.start()
        ddb = client(srv)
        assert q(ddb, "pk = :p", {":p": S("p")}, table="Keep")["Count"] == 19
