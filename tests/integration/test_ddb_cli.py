"""test_ddb_cli — stepd's own table commands against a real server:
`stepd tables`, `stepd scan TABLE` and `stepd get-item TABLE KEY_JSON`, as
JSON (the API's shapes, every page) and as --table rows, and their errors
and usage messages."""
import json
import os
import subprocess

from harness import Server, boto3_client


def stepd(ctx, srv, *args):
    env = dict(os.environ)
    env.pop("STEPD_ENDPOINT", None)
    p = subprocess.run([ctx.stepd] + list(args) + ["--endpoint", srv.endpoint], capture_output=True, text=True,
                       env=env, timeout=60)
    assert "Sanitizer" not in p.stderr and "runtime error:" not in p.stderr, p.stderr
    return p


def make(ddb, name, sort=False):
    keys = [{"AttributeName": "id", "KeyType": "HASH"}]
    defs = [{"AttributeName": "id", "AttributeType": "S"}]
    if sort:
        keys.append({"AttributeName": "n", "KeyType": "RANGE"})
        defs.append({"AttributeName": "n", "AttributeType": "N"})
    ddb.create_table(TableName=name, KeySchema=keys, AttributeDefinitions=defs, BillingMode="PAY_PER_REQUEST")


def test_ddb_cli_tables_scan_get_item(ctx):
    with Server(ctx.stepd) as srv:
        ddb = boto3_client(srv, "dynamodb")
        p = stepd(ctx, srv, "tables")
        assert p.returncode == 0 and json.loads(p.stdout) == {"TableNames": []}, p
        for i in range(105):  # more than one ListTables page (100)
            make(ddb, "t%03d" % i)
        make(ddb, "orders", sort=True)
        p = stepd(ctx, srv, "tables")
        names = json.loads(p.stdout)["TableNames"]
        assert names == sorted(["t%03d" % i for i in range(105)] + ["orders"]), names

        # items over several Scan pages (1 MB each): ~1.2 MB in all
        big = "x" * 40000
        for i in range(30):
            ddb.put_item(TableName="orders", Item={"id": {"S": "o-%02d" % i}, "n": {"N": str(i % 3)},
                                                   "blob": {"S": big}})
        ddb.put_item(TableName="orders", Item={"id": {"S": "small"}, "n": {"N": "-1.50"}, "ok": {"BOOL": True},
                                               "tags": {"SS": ["b", "a"]}, "doc": {"M": {"k": {"L": [{"N": "1"}]}}}})
        p = stepd(ctx, srv, "scan", "orders")
        assert p.returncode == 0, p
        out = json.loads(p.stdout)
        assert out["Count"] == 31 and len(out["Items"]) == 31, out["Count"]
        assert {it["id"]["S"] for it in out["Items"]} == {"o-%02d" % i for i in range(30)} | {"small"}

        p = stepd(ctx, srv, "scan", "orders", "--table")
        lines = p.stdout.splitlines()
        assert p.returncode == 0 and len(lines) == 32, p
        head = lines[0].split()
        assert head[:2] == ["id", "n"], head  # the key attributes first
        small = [ln.split() for ln in lines if ln.startswith("small")]
        assert len(small) == 1 and small[0][:2] == ["small", "-1.5"], small[0][:6]
        assert "true" in small[0] and '{"k":[1]}' in small[0], small[0][:6]  # documents as plain JSON

        p = stepd(ctx, srv, "get-item", "orders", '{"id": {"S": "small"}, "n": {"N": "-1.5"}}')
        assert p.returncode == 0, p
        item = json.loads(p.stdout)["Item"]
        assert item["n"] == {"N": "-1.5"} and item["ok"] == {"BOOL": True}, item
        p = stepd(ctx, srv, "get-item", "orders", '{"id": {"S": "nope"}, "n": {"N": "1"}}')
        assert p.returncode == 1 and "no item with that key in orders" in p.stderr, p

        p = stepd(ctx, srv, "tables", "--table")
        rows = [ln.split() for ln in p.stdout.splitlines()]
        assert rows[0] == ["TABLE", "KEY", "ITEMS"], rows[0]
        orders = [r for r in rows if r[0] == "orders"]
        assert orders == [["orders", "id", "(S),", "n", "(N)", "31"]], orders

        # errors: the server's words; usage: the command's
        p = stepd(ctx, srv, "scan", "missing")
        assert p.returncode == 1 and "ResourceNotFoundException: Requested resource not found" in p.stderr, p
        p = stepd(ctx, srv, "get-item", "orders", '{"id": {"N": "1"}, "n": {"N": "1"}}')
        assert p.returncode == 1 and "ValidationException" in p.stderr, p
        p = stepd(ctx, srv, "get-item", "orders", "not json")
        assert p.returncode == 2 and "KEY_JSON must be a JSON object" in p.stderr, p
        p = stepd(ctx, srv, "get-item", "orders")
        assert p.returncode == 2 and "takes TABLE KEY_JSON" in p.stderr, p
        p = stepd(ctx, srv, "scan")
        assert p.returncode == 2 and "TABLE is required" in p.stderr, p
