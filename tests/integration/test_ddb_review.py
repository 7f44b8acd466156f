"""Regressions from a review of stepd's DynamoDB code, each through the real
server: list elements removed at several depths in one UpdateItem (every
path names what it named before the update, in whichever order the
expression lists them), and CreateTable refusing key schemas no item could
ever match (the same attribute as HASH and RANGE, one attribute defined
twice with two types, two indexes of one name). STEPD_DDB_ENDPOINT runs the
suite against another server (see harness.ddb_server)."""
from harness import ddb_raw, ddb_server


def ok(srv, op, body):
    status, out, _ = ddb_raw(srv, op, body)
    assert status == 200, (op, status, out)
    return out


def refused(srv, op, body, contains):
    status, out, _ = ddb_raw(srv, op, body)
    assert status == 400, (op, status, out)
    assert out["__type"].endswith("#ValidationException"), out
    assert contains in out["message"], out
    return out


def table(srv, name, defs, keys, **more):
    body = {"TableName": name, "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": n, "AttributeType": t} for n, t in defs],
            "KeySchema": [{"AttributeName": n, "KeyType": t} for n, t in keys]}
    body.update(more)
    return body


def test_ddb_review_remove_list_elements(ctx):
    with ddb_server(ctx) as srv:
        ok(srv, "CreateTable", table(srv, "review-remove", [("pk", "S")], [("pk", "HASH")]))
        start = {"pk": {"S": "a"},
                 "l": {"L": [{"N": "0"}, {"N": "1"}, {"L": [{"N": "20"}, {"N": "21"}]}]}}
        after = {"pk": {"S": "a"}, "l": {"L": [{"N": "1"}, {"L": [{"N": "21"}]}]}}
        for expr in ("REMOVE l[0], l[2][0]", "REMOVE l[2][0], l[0]"):
            ok(srv, "PutItem", {"TableName": "review-remove", "Item": start})
            out = ok(srv, "UpdateItem", {"TableName": "review-remove", "Key": {"pk": {"S": "a"}},
                                         "UpdateExpression": expr, "ReturnValues": "ALL_NEW"})
            assert out["Attributes"] == after, (expr, out)
            got = ok(srv, "GetItem", {"TableName": "review-remove", "Key": {"pk": {"S": "a"}}})
            assert got["Item"] == after, (expr, got)


def test_ddb_review_create_table_unusable_schemas(ctx):
    with ddb_server(ctx) as srv:
        refused(srv, "CreateTable",
                table(srv, "review-same-key", [("pk", "S")], [("pk", "HASH"), ("pk", "RANGE")]),
                "Both the Hash Key and the Range Key element in the KeySchema have the same name")
        refused(srv, "CreateTable",
                table(srv, "review-two-types", [("pk", "S"), ("pk", "N")], [("pk", "HASH")]),
                "Cannot have two attributes with the same name")
        gsi = {"IndexName": "gi", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
               "Projection": {"ProjectionType": "ALL"}}
        refused(srv, "CreateTable",
                table(srv, "review-two-indexes", [("pk", "S"), ("g", "S")], [("pk", "HASH")],
                      GlobalSecondaryIndexes=[gsi, dict(gsi)]),
                "Duplicate index name: gi")
        lsi = {"IndexName": "gi", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                                                {"AttributeName": "s", "KeyType": "RANGE"}],
               "Projection": {"ProjectionType": "ALL"}}
        refused(srv, "CreateTable",
                table(srv, "review-two-kinds", [("pk", "S"), ("g", "S"), ("s", "S")],
                      [("pk", "HASH"), ("g", "RANGE")], GlobalSecondaryIndexes=[gsi],
                      LocalSecondaryIndexes=[lsi]),
                "Duplicate index name: gi")
        # none of them was created; a good schema still is
        assert ok(srv, "ListTables", {})["TableNames"] == []
        ok(srv, "CreateTable", table(srv, "review-good", [("pk", "S"), ("g", "S")], [("pk", "HASH")],
                                     GlobalSecondaryIndexes=[gsi]))
