"""API Gateway proxy events as the authorizer leaves them, for calling route functions directly."""

from __future__ import annotations

import json
import uuid
from typing import Any


def api_event(
    method: str,
    path: str,
    *,
    user_id: int,
    roles: dict[str, str] | None = None,
    resource: str | None = None,
    path_parameters: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    body: Any = None,
) -> dict[str, Any]:
    return {
        "resource": resource or path,
        "path": path,
        "httpMethod": method,
        "headers": {"User-Agent": "bench", "Content-Type": "application/json"},
        "multiValueHeaders": {},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "body": json.dumps(body) if body is not None else None,
        "isBase64Encoded": False,
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "path": path,
            "stage": "bench",
            "identity": {"sourceIp": "192.0.2.1", "userAgent": "bench"},
            "authorizer": {
                "principalId": str(user_id),
                "user_id": str(user_id),
                "key_id": "bench",
                "roles": json.dumps(roles or {}),
            },
        },
    }
