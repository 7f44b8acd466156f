"""fail — raises an exception of the handler's own class."""


class OrderRejected(Exception):
    pass


def handler(event, context):
    raise OrderRejected("order %s rejected" % event.get("order", "?"))
