"""machines — what the integration suites share: ARN shapes, a few small
state machines, and reading a callback task's token from the history (as
a user would, through GetExecutionHistory)."""
import json
import time

from harness import call

ROLE = "arn:aws:iam::123456789012:role/StepFunctionsRole"
SM_ARN = "arn:aws:states:us-east-1:123456789012:stateMachine:"
EXEC_ARN = "arn:aws:states:us-east-1:123456789012:execution:"
EXPRESS_ARN = "arn:aws:states:us-east-1:123456789012:express:"
UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"

PASS = {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}}
PASS_CHAIN = {"StartAt": "A", "States": {
    "A": {"Type": "Pass", "Next": "B"},
    "B": {"Type": "Pass", "Next": "C"},
    "C": {"Type": "Pass", "Next": "D"},
    "D": {"Type": "Pass", "End": True}}}
WAIT1 = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "Next": "S"},
                                    "S": {"Type": "Succeed"}}}
WAIT_LONG = {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 600, "End": True}}}
FAIL = {"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "MyErr", "Cause": "it broke"}}}


def callback_def(heartbeat=None, timeout=None):
    """One .waitForTaskToken Task whose token goes into its Parameters."""
    task = {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Parameters": {"QueueUrl": "q", "MessageBody": {"token.$": "$$.Task.Token"}},
            "End": True}
    if heartbeat:
        task["HeartbeatSeconds"] = heartbeat
    if timeout:
        task["TimeoutSeconds"] = timeout
    return {"StartAt": "T", "States": {"T": task}}


def token_of(srv, arn, timeout=10):
    """The token of arn's waiting callback task, from its TaskScheduled event."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        for e in call(srv, "GetExecutionHistory", {"executionArn": arn})["events"]:
            if e["type"] == "TaskScheduled":
                return json.loads(e["taskScheduledEventDetails"]["parameters"])["MessageBody"]["token"]
        time.sleep(0.02)
    raise AssertionError("no TaskScheduled event in %s" % arn)
