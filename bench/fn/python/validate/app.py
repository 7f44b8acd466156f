"""Validate (fn-order bench): order.amount must be a number > 0, else a
ValidationError (the Catch in the workflow matches it); returns its input
unchanged. shared/bench/handlers.mjs semantics."""


class ValidationError(Exception):
    pass


def handler(event, context):
    order = event.get("order") if isinstance(event, dict) else None
    amount = order.get("amount") if isinstance(order, dict) else None
    if isinstance(amount, bool) or not isinstance(amount, (int, float)) or not amount > 0:
        raise ValidationError("order.amount must be > 0")
    return event
