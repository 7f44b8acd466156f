"""callback — the callback pattern: a function started by a
lambda:invoke.waitForTaskToken task answers the task itself through the
Step Functions API (boto3 reaches stepd through AWS_ENDPOINT_URL).
Its event is {"token": ..., "input": <the execution's input>}:
input.refuse sends SendTaskFailure instead, input.raise makes the
function itself fail (and so the task)."""
import json

import boto3


class CallbackBroken(Exception):
    pass


def handler(event, context):
    inp = event.get("input") or {}
    if inp.get("raise"):
        raise CallbackBroken("the callback function failed before calling back")
    sfn = boto3.client("stepfunctions")
    if inp.get("refuse"):
        sfn.send_task_failure(taskToken=event["token"], error="CallbackRefused", cause="asked to refuse")
    else:
        sfn.send_task_success(taskToken=event["token"],
                              output=json.dumps({"called_back": inp.get("value"),
                                                 "by": context.function_name}))
    return {"this": "is not the task's output"}
