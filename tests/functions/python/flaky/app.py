"""flaky — fails with TransientError the first event["fail_times"]
invocations for event["key"] (a counter file in /tmp), then succeeds."""
import os


class TransientError(Exception):
    pass


def handler(event, context):
    path = "/tmp/stepd-it-flaky-%s" % event["key"]
    n = 0
    if os.path.exists(path):
        with open(path) as f:
            n = int(f.read())
    with open(path, "w") as f:
        f.write(str(n + 1))
    if n < event["fail_times"]:
        raise TransientError("attempt %d failed" % (n + 1))
    return {"attempts": n + 1, "key": event["key"]}
