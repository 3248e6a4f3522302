"""The one place errors become HTTP: every failure is a JSON error, never a stack trace."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict

from audit_service.api.http import create_app
from audit_service.domain.errors import Conflict, NotFound

app = create_app()


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    count: int


@app.post("/things")
def create_thing(body: Body) -> dict[str, Any]:
    return body.model_dump()


@app.get("/things")
def list_things(page: int = 1) -> dict[str, int]:
    return {"page": page}


@app.get("/missing")
def missing() -> None:
    raise NotFound("no such thing")


@app.get("/conflict")
def conflict() -> None:
    raise Conflict("already there")


@app.get("/boom")
def boom() -> None:
    raise RuntimeError("secret detail: jane@example.com")


def _call(method: str, path: str, *, body: str | None = None, query: dict[str, str] | None = None) -> tuple[int, Any]:
    event = {
        "resource": path,
        "path": path,
        "httpMethod": method,
        "headers": {"Content-Type": "application/json"},
        "multiValueHeaders": {},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in (query or {}).items()} or None,
        "pathParameters": None,
        "requestContext": {"requestId": "req-1", "identity": {"sourceIp": "192.0.2.1"}},
        "body": body,
        "isBase64Encoded": False,
    }
    response = app.resolve(event, None)
    return response["statusCode"], json.loads(response["body"])


@pytest.mark.parametrize(
    ("method", "path", "body", "query"),
    [
        ("POST", "/things", "{not json", None),
        ("POST", "/things", json.dumps({"name": "x", "count": "many"}), None),
        ("POST", "/things", json.dumps({"name": "x", "count": 1, "extra": True}), None),
        ("POST", "/things", json.dumps({"name": "x"}), None),
        ("GET", "/things", None, {"page": "first"}),
    ],
)
def test_invalid_requests_are_400_with_details(method: str, path: str, body: str | None, query: Any) -> None:
    status, payload = _call(method, path, body=body, query=query)
    assert status == 400
    assert payload["error"]["code"] == "invalid_request"
    assert payload["error"]["request_id"] == "req-1"
    assert payload["error"]["details"]


def test_valid_request_passes() -> None:
    assert _call("POST", "/things", body=json.dumps({"name": "x", "count": 2})) == (200, {"name": "x", "count": 2})


def test_domain_errors_map_to_their_status() -> None:
    assert _call("GET", "/missing")[0] == 404
    assert _call("GET", "/conflict") == (
        409,
        {"error": {"code": "conflict", "message": "already there", "request_id": "req-1"}},
    )


def test_unexpected_errors_are_500_without_their_text() -> None:
    status, payload = _call("GET", "/boom")
    assert status == 500
    assert payload["error"]["code"] == "internal_error"
    assert "jane@example.com" not in json.dumps(payload)
