"""Record (fn-order bench): keeps the order, with its payment_id and
charged flag, in this worker's memory (no tables yet) and answers
{"status": "recorded"}. shared/bench/handlers.mjs semantics."""

ORDERS = {}


def handler(event, context):
    order = event["order"]
    ORDERS[order["id"]] = {**order, "payment_id": event.get("payment_id"), "charged": event.get("charged")}
    return {"status": "recorded"}
