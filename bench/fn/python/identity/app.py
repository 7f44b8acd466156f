"""identity: answers each invocation with its event (fn-invoke bench)."""


def handler(event, context):
    return event
