"""Charge: the second step of the order workflow. Simulates charging the
customer: the payment's id is derived from the order's, so charging the
same order twice gives the same payment."""


def lambda_handler(event, context):
    payment_id = "pay-" + event["order_id"]
    print(f"charged {event['amount']} for order {event['order_id']}: {payment_id}")
    return {**event, "payment_id": payment_id, "charged": True}
