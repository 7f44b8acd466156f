def lambda_handler(event, context):
    if event.get("amount", 0) <= 0:
        raise ValueError("invalid amount")
    return {**event, "validated": True}
