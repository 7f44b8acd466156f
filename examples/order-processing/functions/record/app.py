"""Record: the last step of the order workflow. Saves the order (id,
amount, payment id, time) in the DynamoDB table named by ORDERS_TABLE and
returns the order with its status. The table's key is the order id, so
recording the same order again overwrites one item instead of adding one."""
import os
from datetime import datetime, timezone
from decimal import Decimal

import boto3

table = boto3.resource("dynamodb").Table(os.environ["ORDERS_TABLE"])


def lambda_handler(event, context):
    item = {
        "id": event["order_id"],
        "customer": event.get("customer", ""),
        # DynamoDB numbers are decimals: boto3 refuses floats.
        "amount": Decimal(str(event["amount"])),
        "currency": event.get("currency", ""),
        "payment_id": event["payment_id"],
        "recorded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    table.put_item(Item=item)
    print(f"recorded order {item['id']} in {table.name}")
    return {**event, "status": "RECORDED"}
