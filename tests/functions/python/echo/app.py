"""echo — answers with what a handler sees: the event, its worker's pid,
its environment and its context object; prints one line to its log."""
import json
import os


def handler(event, context):
    print("echo: " + json.dumps(event, sort_keys=True))
    return {
        "event": event,
        "pid": os.getpid(),
        "environ": dict(os.environ),
        "context": {
            "function_name": context.function_name,
            "function_version": context.function_version,
            "memory_limit_in_mb": context.memory_limit_in_mb,
            "invoked_function_arn": context.invoked_function_arn,
            "aws_request_id": context.aws_request_id,
            "log_group_name": context.log_group_name,
            "remaining_ms": context.get_remaining_time_in_millis(),
        },
    }
