"""test_ddb_sfn — Step Functions' DynamoDB integrations against stepd's own
tables: the optimized arn:aws:states:::dynamodb:putItem / getItem /
updateItem / deleteItem (Parameters are the API's request, the result is
the API's answer plus the SDK's HTTP metadata) and the AWS SDK integration
arn:aws:states:::aws-sdk:dynamodb:* (the bare answer), with DynamoDB's
errors named as Step Functions names them and caught by Catch. Shapes and
names follow what AWS recorded (shared/conformance's dynamodb cases)."""
import json
import re

from harness import Server, boto3_client, call, wait_done
from machines import ROLE, SM_ARN

TABLE = "orders_sfn"
CAUSE_RE = (r"(?P<msg>.*) \(Service: AmazonDynamoDBv2; Status Code: 400; Error Code: (?P<code>\w+); "
            r"Request ID: [0-9A-Z-]+; Proxy: null\)")


def make_table(srv):
    ddb = boto3_client(srv, "dynamodb")
    ddb.create_table(TableName=TABLE, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                     BillingMode="PAY_PER_REQUEST")
    return ddb


def run(srv, name, definition, inp):
    call(srv, "CreateStateMachine", {"name": name, "definition": json.dumps(definition), "roleArn": ROLE})
    arn = call(srv, "StartExecution", {"stateMachineArn": SM_ARN + name, "input": json.dumps(inp)})["executionArn"]
    d = wait_done(srv, arn)
    events = call(srv, "GetExecutionHistory", {"executionArn": arn, "maxResults": 1000})["events"]
    return d, events


def task(op, params, **more):
    t = {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:" + op, "Parameters": params}
    t.update(more)
    return t


CHAIN = {"StartAt": "Put", "States": {
    "Put": task("putItem", {"TableName.$": "$.table", "Item": {"id": {"S.$": "$.id"}, "n": {"N": "1"}}},
                ResultPath="$.put", Next="Update"),
    "Update": task("updateItem", {"TableName.$": "$.table", "Key": {"id": {"S.$": "$.id"}},
                                  "UpdateExpression": "SET n = n + :one, tags = :t",
                                  "ExpressionAttributeValues": {":one": {"N": "41"}, ":t": {"SS": ["a", "b"]}},
                                  "ReturnValues": "UPDATED_NEW"}, ResultPath="$.update", Next="Get"),
    "Get": task("getItem", {"TableName.$": "$.table", "Key": {"id": {"S.$": "$.id"}}},
                ResultPath="$.get", Next="Delete"),
    "Delete": task("deleteItem", {"TableName.$": "$.table", "Key": {"id": {"S.$": "$.id"}},
                                  "ReturnValues": "ALL_OLD"}, ResultPath="$.delete", End=True)}}


def test_ddb_sfn_put_update_get_delete(ctx):
    """The four optimized operations in a chain: each result is the API's
    answer plus SdkHttpMetadata/SdkResponseMetadata; the table changes as
    the steps say; the history names the resource as AWS does."""
    with Server(ctx.stepd) as srv:
        ddb = make_table(srv)
        d, events = run(srv, "chain", CHAIN, {"table": TABLE, "id": "o-1"})
        assert d["status"] == "SUCCEEDED", d
        out = json.loads(d["output"])
        for step in ("put", "update", "get", "delete"):
            meta = out[step]["SdkHttpMetadata"]
            assert meta["HttpStatusCode"] == 200, meta
            assert meta["HttpHeaders"]["Content-Type"] == "application/x-amz-json-1.0", meta
            assert meta["AllHttpHeaders"]["Content-Type"] == ["application/x-amz-json-1.0"], meta
            assert re.fullmatch(r"[0-9A-Z-]{36}", out[step]["SdkResponseMetadata"]["RequestId"]), out[step]
        assert set(out["put"]) == {"SdkHttpMetadata", "SdkResponseMetadata"}, out["put"]
        assert out["put"]["SdkHttpMetadata"]["HttpHeaders"]["Content-Length"] == "2", out["put"]  # {}
        assert out["update"]["Attributes"] == {"n": {"N": "42"}, "tags": {"SS": ["a", "b"]}}, out["update"]
        assert out["get"]["Item"] == {"id": {"S": "o-1"}, "n": {"N": "42"}, "tags": {"SS": ["a", "b"]}}, out
        assert out["delete"]["Attributes"] == out["get"]["Item"], out["delete"]
        assert "Item" not in ddb.get_item(TableName=TABLE, Key={"id": {"S": "o-1"}})
        sched = [e["taskScheduledEventDetails"] for e in events if e["type"] == "TaskScheduled"]
        assert [(s["resourceType"], s["resource"]) for s in sched] == [
            ("dynamodb", "putItem"), ("dynamodb", "updateItem"), ("dynamodb", "getItem"),
            ("dynamodb", "deleteItem")], sched
        assert json.loads(sched[0]["parameters"]) == {"TableName": TABLE, "Item": {"id": {"S": "o-1"},
                                                                                  "n": {"N": "1"}}}, sched[0]


def test_ddb_sfn_errors(ctx):
    """DynamoDB's errors as Step Functions names them: a missing table fails
    the execution with DynamoDB.ResourceNotFoundException; a failed
    condition is DynamoDB.ConditionalCheckFailedException, which Catch
    catches (and Retry sees by name); a ValidationException is
    DynamoDB.AmazonDynamoDBException; each cause in the Java SDK's words."""
    with Server(ctx.stepd) as srv:
        ddb = make_table(srv)
        put = {"StartAt": "Put", "States": {"Put": task(
            "putItem", {"TableName.$": "$.table", "Item.$": "$.item"}, End=True)}}

        d, events = run(srv, "missing", put, {"table": "no_such_table", "item": {"id": {"S": "x"}}})
        assert d["status"] == "FAILED" and d["error"] == "DynamoDB.ResourceNotFoundException", d
        m = re.fullmatch(CAUSE_RE, d["cause"])
        assert m and m["msg"] == "Requested resource not found" and m["code"] == "ResourceNotFoundException", d
        assert [e["type"] for e in events][-2:] == ["TaskFailed", "ExecutionFailed"], events

        d, _ = run(srv, "nullitem", put, {"table": TABLE, "item": None})
        assert d["status"] == "FAILED" and d["error"] == "DynamoDB.AmazonDynamoDBException", d
        m = re.fullmatch(CAUSE_RE, d["cause"])
        assert m and m["code"] == "ValidationException", d
        assert m["msg"] == ("1 validation error detected: Value null at 'item' failed to satisfy constraint: "
                            "Member must not be null"), d

        ddb.put_item(TableName=TABLE, Item={"id": {"S": "taken"}, "v": {"N": "1"}})
        guarded = {"StartAt": "Put", "States": {
            "Put": task("putItem", {"TableName": TABLE, "Item": {"id": {"S": "taken"}, "v": {"N": "2"}},
                                    "ConditionExpression": "attribute_not_exists(id)"},
                        Retry=[{"ErrorEquals": ["DynamoDB.ConditionalCheckFailedException"], "MaxAttempts": 1,
                                "IntervalSeconds": 0}],
                        Catch=[{"ErrorEquals": ["DynamoDB.ConditionalCheckFailedException"],
                                "ResultPath": "$.error", "Next": "Taken"}], End=True),
            "Taken": {"Type": "Pass", "End": True}}}
        d, events = run(srv, "guarded", guarded, {})
        assert d["status"] == "SUCCEEDED", d
        err = json.loads(d["output"])["error"]
        assert err["Error"] == "DynamoDB.ConditionalCheckFailedException", err
        m = re.fullmatch(CAUSE_RE, err["Cause"])
        assert m and m["code"] == "ConditionalCheckFailedException", err
        assert m["msg"] == "The conditional request failed", err
        assert [e["type"] for e in events].count("TaskFailed") == 2, events  # one retry
        assert ddb.get_item(TableName=TABLE, Key={"id": {"S": "taken"}})["Item"]["v"] == {"N": "1"}


def test_ddb_sfn_aws_sdk(ctx):
    """arn:aws:states:::aws-sdk:dynamodb:<op>: any operation, the bare
    answer (no SDK metadata); its errors are DynamoDb.<Code>."""
    with Server(ctx.stepd) as srv:
        ddb = make_table(srv)
        for i in range(3):
            ddb.put_item(TableName=TABLE, Item={"id": {"S": "q-%d" % i}, "n": {"N": str(i)}})
        defn = {"StartAt": "Scan", "States": {
            "Scan": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:dynamodb:scan",
                     "Parameters": {"TableName": TABLE, "FilterExpression": "n >= :one",
                                    "ExpressionAttributeValues": {":one": {"N": "1"}}},
                     "ResultSelector": {"count.$": "$.Count", "scanned.$": "$.ScannedCount"},
                     "ResultPath": "$.scan", "Next": "Missing"},
            "Missing": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:dynamodb:describeTable",
                        "Parameters": {"TableName": "no_such_table"},
                        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Done"}],
                        "End": True},
            "Done": {"Type": "Pass", "End": True}}}
        d, _ = run(srv, "sdk", defn, {})
        assert d["status"] == "SUCCEEDED", d
        out = json.loads(d["output"])
        assert out["scan"] == {"count": 2, "scanned": 3}, out
        assert out["error"]["Error"] == "DynamoDb.ResourceNotFoundException", out
        assert out["error"]["Cause"].startswith("Requested resource not found"), out
        assert "(Service: DynamoDb, Status Code: 400, Request ID: " in out["error"]["Cause"], out
