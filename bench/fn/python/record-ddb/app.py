"""Record (fn-order bench, python-ddb): writes the order, with its
payment_id and charged flag, to the DynamoDB table the environment names
(boto3, as a Lambda handler does) and answers {"status": "recorded"}."""
import os
from decimal import Decimal

import boto3

TABLE = boto3.resource("dynamodb").Table(os.environ["ORDERS_TABLE"])


def handler(event, context):
    order = event["order"]
    TABLE.put_item(Item={
        "id": order["id"],
        "amount": Decimal(str(order.get("amount", 0))),
        "payment_id": event.get("payment_id") or "",
        "charged": bool(event.get("charged")),
    })
    return {"status": "recorded"}
