"""worker — what a worker process does: {"sleep": S} sleeps S seconds,
{"exit": N} ends the process with status N (a crash: no answer); every
answer says which process served it."""
import os
import time


def handler(event, context):
    if "exit" in event:
        os._exit(event["exit"])
    slept = event.get("sleep", 0)
    if slept:
        time.sleep(slept)
    return {"pid": os.getpid(), "slept": slept}
