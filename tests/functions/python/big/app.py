"""big — returns a string of event["bytes"] bytes (default 7 MB: more than
Lambda's 6 MB response limit)."""


def handler(event, context):
    return "x" * event.get("bytes", 7 * 1024 * 1024)
