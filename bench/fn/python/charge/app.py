"""Charge (fn-order bench): the input plus payment_id = "pay-" + order.id
and charged = true. shared/bench/handlers.mjs semantics."""


def handler(event, context):
    return {**event, "payment_id": "pay-" + str(event["order"]["id"]), "charged": True}
