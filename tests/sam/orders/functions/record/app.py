import os


def lambda_handler(event, context):
    return {**event, "recorded": True, "table": os.environ["TABLE_NAME"]}
