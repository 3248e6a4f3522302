"""The cold-start baseline: a bare Powertools REST resolver and one boto3 DynamoDB client."""

from typing import Any

import boto3
from aws_lambda_powertools.event_handler import APIGatewayRestResolver

app = APIGatewayRestResolver()
dynamodb = boto3.client("dynamodb")


@app.get("/ping")
def ping() -> dict[str, bool]:
    return {"ok": True}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
