"""A reference for the cold-start table: the baseline with request validation, as every route here has it.

``create_app`` (api/http.py) turns on Powertools' request and response
validation, which imports pydantic when the resolver is made: no route of this
project can start faster than this, whatever its own code does.
"""

from typing import Any

import boto3
from aws_lambda_powertools.event_handler import APIGatewayRestResolver

app = APIGatewayRestResolver(enable_validation=True)
dynamodb = boto3.client("dynamodb")


@app.get("/ping")
def ping() -> dict[str, bool]:
    return {"ok": True}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
