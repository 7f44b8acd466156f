"""Validate: the first step of the order workflow. An order must have an
order_id and an amount greater than 0; a valid order goes on with
"validated": true, an invalid one fails the step with InvalidOrderError."""


class InvalidOrderError(Exception):
    """The order cannot be processed (the workflow's error name)."""


def lambda_handler(event, context):
    order_id = event.get("order_id")
    if not order_id:
        raise InvalidOrderError("the order has no order_id")
    amount = event.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, (int, float)):
        raise InvalidOrderError(f"order {order_id}: amount must be a number, got {amount!r}")
    if amount <= 0:
        raise InvalidOrderError(f"order {order_id}: amount must be greater than 0, got {amount}")
    print(f"order {order_id} is valid: {amount}")
    return {**event, "validated": True}
