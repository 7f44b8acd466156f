"""The real `aws dynamodb ... --endpoint-url` CLI against stepd: what a user
types, checked against what DynamoDB answers. Each CLI run costs ~0.5 s, so
setup that is not the point of a test goes through boto3 or raw calls.
STEPD_DDB_ENDPOINT runs the suite against another server (see
harness.ddb_server)."""
import json

from harness import aws, boto3_client, ddb_server

KEYS = ["--attribute-definitions", "AttributeName=pk,AttributeType=S", "AttributeName=sk,AttributeType=N",
        "--key-schema", "AttributeName=pk,KeyType=HASH", "AttributeName=sk,KeyType=RANGE",
        "--billing-mode", "PAY_PER_REQUEST"]


def ddb(srv, *args):
    return aws(srv, "dynamodb", *args)


def ddb_error(srv, code, *args):
    """Runs the CLI, which must fail with DynamoDB error `code`: CLI v1
    exits 255 (v2 254) and names the code in parentheses on stderr."""
    rc, out, err = aws(srv, "dynamodb", *args, check=False)
    assert rc in (254, 255), "expected %s (exit 255), got %d: %s %s" % (code, rc, out, err)
    assert "(%s)" % code in err, "expected %s: %s" % (code, err.strip())
    return err


def J(v):
    return json.dumps(v)


def test_ddb_cli_tables(ctx):
    with ddb_server(ctx) as srv:
        d = ddb(srv, "create-table", "--table-name", "cli-orders", *KEYS)["TableDescription"]
        assert d["TableName"] == "cli-orders" and d["TableStatus"] == "ACTIVE", d
        assert d["TableArn"].endswith(":table/cli-orders"), d
        assert d["KeySchema"] == [{"AttributeName": "pk", "KeyType": "HASH"},
                                  {"AttributeName": "sk", "KeyType": "RANGE"}], d
        # the waiter sleeps 20 s between polls: the first poll must see ACTIVE
        rc, out, err = aws(srv, "dynamodb", "wait", "table-exists", "--table-name", "cli-orders", check=False)
        assert rc == 0, (rc, out, err)
        boto3_client(srv, "dynamodb").create_table(
            TableName="cli-aaa", BillingMode="PAY_PER_REQUEST",
            KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}])
        # --page-size makes the CLI page with Limit/ExclusiveStartTableName
        assert ddb(srv, "list-tables", "--page-size", "1")["TableNames"] == ["cli-aaa", "cli-orders"]
        err = ddb_error(srv, "ResourceInUseException", "create-table", "--table-name", "cli-orders", *KEYS)
        assert "Table already exists: cli-orders" in err, err
        d = ddb(srv, "delete-table", "--table-name", "cli-orders")["TableDescription"]
        assert d["TableName"] == "cli-orders", d
        err = ddb_error(srv, "ResourceNotFoundException", "describe-table", "--table-name", "cli-orders")
        assert "Requested resource not found" in err, err
        assert boto3_client(srv, "dynamodb").list_tables()["TableNames"] == ["cli-aaa"]


def test_ddb_cli_items(ctx):
    with ddb_server(ctx) as srv:
        ddb(srv, "create-table", "--table-name", "cli-items", *KEYS)
        item = {"pk": {"S": "u1"}, "sk": {"N": "1"}, "name": {"S": "Ada"}, "tags": {"SS": ["a", "b"]},
                "nested": {"M": {"n": {"N": "1.50"}, "l": {"L": [{"BOOL": True}, {"NULL": True}]}}}}
        assert ddb(srv, "put-item", "--table-name", "cli-items", "--item", J(item)) is None
        got = ddb(srv, "get-item", "--table-name", "cli-items", "--key", J({"pk": {"S": "u1"}, "sk": {"N": "1"}}))
        want = dict(item, nested={"M": {"n": {"N": "1.5"}, "l": {"L": [{"BOOL": True}, {"NULL": True}]}}})
        got["Item"]["tags"]["SS"].sort()
        assert got == {"Item": want}, got
        out = ddb(srv, "update-item", "--table-name", "cli-items", "--key", J({"pk": {"S": "u1"}, "sk": {"N": "1"}}),
                  "--update-expression", "SET #n = :n, visits = if_not_exists(visits, :zero) + :one",
                  "--expression-attribute-names", J({"#n": "name"}),
                  "--expression-attribute-values", J({":n": {"S": "Grace"}, ":zero": {"N": "0"}, ":one": {"N": "1"}}),
                  "--return-values", "UPDATED_NEW")
        assert out["Attributes"] == {"name": {"S": "Grace"}, "visits": {"N": "1"}}, out
        client = boto3_client(srv, "dynamodb")
        for sk in range(2, 6):
            client.put_item(TableName="cli-items", Item={"pk": {"S": "u1"}, "sk": {"N": str(sk)}})
        out = ddb(srv, "query", "--table-name", "cli-items", "--key-condition-expression", "pk = :p AND sk >= :s",
                  "--expression-attribute-values", J({":p": {"S": "u1"}, ":s": {"N": "3"}}), "--no-scan-index-forward")
        assert [i["sk"]["N"] for i in out["Items"]] == ["5", "4", "3"], out
        assert out["Count"] == 3 and out["ScannedCount"] == 3, out
        err = ddb_error(srv, "ConditionalCheckFailedException", "put-item", "--table-name", "cli-items",
                        "--item", J({"pk": {"S": "u1"}, "sk": {"N": "1"}}),
                        "--condition-expression", "attribute_not_exists(pk)")
        assert "The conditional request failed" in err, err
        out = ddb(srv, "delete-item", "--table-name", "cli-items", "--key", J({"pk": {"S": "u1"}, "sk": {"N": "1"}}),
                  "--return-values", "ALL_OLD")
        assert out["Attributes"]["name"] == {"S": "Grace"}, out
        got = client.get_item(TableName="cli-items", Key={"pk": {"S": "u1"}, "sk": {"N": "1"}})
        assert "Item" not in got, got


def test_ddb_cli_batch_and_pagination(ctx):
    with ddb_server(ctx) as srv:
        client = boto3_client(srv, "dynamodb")
        client.create_table(TableName="cli-scan", BillingMode="PAY_PER_REQUEST",
                            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                       {"AttributeName": "sk", "KeyType": "RANGE"}],
                            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                                  {"AttributeName": "sk", "AttributeType": "N"}])
        want = set()
        for batch in range(2):
            reqs = []
            for i in range(25):
                n = batch * 25 + i
                reqs.append({"PutRequest": {"Item": {"pk": {"S": "p%d" % (n % 4)}, "sk": {"N": str(n)},
                                                     "even": {"BOOL": n % 2 == 0}}}})
                want.add(("p%d" % (n % 4), str(n)))
            if batch == 0:
                out = ddb(srv, "batch-write-item", "--request-items", J({"cli-scan": reqs}))
            else:
                out = client.batch_write_item(RequestItems={"cli-scan": reqs})
            assert out["UnprocessedItems"] == {}, out
        # the CLI follows LastEvaluatedKey and merges the pages
        out = ddb(srv, "scan", "--table-name", "cli-scan", "--page-size", "7")
        got = [(i["pk"]["S"], i["sk"]["N"]) for i in out["Items"]]
        assert len(got) == 50 and set(got) == want, (len(got), len(set(got)))
        assert out["Count"] == 50 and out["ScannedCount"] == 50, out
        out = ddb(srv, "scan", "--table-name", "cli-scan", "--page-size", "6",
                  "--filter-expression", "even = :t", "--expression-attribute-values", J({":t": {"BOOL": True}}))
        assert out["Count"] == 25 and out["ScannedCount"] == 50, out
        assert all(i["even"] == {"BOOL": True} for i in out["Items"]), out
        out = ddb(srv, "query", "--table-name", "cli-scan", "--page-size", "2", "--key-condition-expression",
                  "pk = :p", "--expression-attribute-values", J({":p": {"S": "p1"}}))
        assert [i["sk"]["N"] for i in out["Items"]] == [str(n) for n in range(1, 50, 4)], out
        out = ddb(srv, "scan", "--table-name", "cli-scan", "--select", "COUNT")
        assert out["Count"] == 50 and "Items" not in out, out
        # a 26-request batch is refused as a whole
        reqs = [{"PutRequest": {"Item": {"pk": {"S": "x"}, "sk": {"N": str(n)}}}} for n in range(26)]
        err = ddb_error(srv, "ValidationException", "batch-write-item", "--request-items", J({"cli-scan": reqs}))
        assert "25" in err, err
        assert client.scan(TableName="cli-scan", Select="COUNT")["Count"] == 50
