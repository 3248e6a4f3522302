"""Inputs that made routes answer 500 (issue #11, 1): each is now a clear 4xx JSON error that writes nothing."""

from __future__ import annotations

import json
from typing import Any

import pytest

from localcloud.provision import Stack
from tests.conftest import Api, scan_all, user


def state(stack: Stack) -> list[dict[str, Any]]:
    """Every item but access-log records (a refused read may still be access-logged)."""
    return [i for i in scan_all(stack) if not i.get("pk", {}).get("S", "").endswith("#access")]


@pytest.mark.parametrize(
    "path",
    [
        "/audit/tenants/1?from=0001-01-01T00:00:00%2B14:00",
        "/audit/tenants/1?from=9999-12-31T23:59:59-14:00",
        "/audit/tenants/1?to=1969-12-31T23:59:59Z",
        "/audit/users/activity?to=9999-12-31T23:59:59-14:00",
        "/audit/tenants/1/access?from=0001-01-01T00:00:00%2B14:00",
        "/audit/tenants/1/security?to=9999-12-31T23:59:59-14:00",
        "/audit/tenants/1/verify?from=0001-01-01T00:00:00%2B14:00",
        "/audit/tenants/1/export?to=9999-12-31T23:59:59-14:00",
    ],
)
def test_times_out_of_range_are_400(api: Api, demo: dict[str, Any], path: str) -> None:
    status, body = api.call("GET", path, user(demo, "owner")["api_key"])
    assert status == 400, body
    assert "between 1970 and 9999" in body["error"]["message"]


@pytest.mark.parametrize(
    ("method", "path", "body", "content_type", "expected"),
    [
        ("PATCH", "/users/me", b"[" * 20_000 + b"]" * 20_000, "application/json", 400),
        ("PATCH", "/users/me/settings", b"{" * 5_000, "application/json", 400),
        ("POST", "/tenants/1/invitations", b"\xff\xfe\x00bad", "application/json", 400),
        ("POST", "/tenants/1/invitations", b"not json", "application/json", 400),
        ("PATCH", "/tenants/1/members/3", b"\xff\xfe\x00bad", "application/json", 400),
        ("PATCH", "/tenants/1/members/3", b"{", "application/json", 400),
        ("PATCH", "/tenants/1/members/3", b'{"role": "admin"}', "text/plain", 415),
        ("POST", "/users/me/api-keys", b"null", "application/json", 400),
    ],
)
def test_unreadable_bodies_are_4xx_and_write_nothing(
    api: Api, stack: Stack, demo: dict[str, Any], method: str, path: str, body: bytes, content_type: str, expected: int
) -> None:
    before = state(stack)
    result = api.request(
        method, path, key=user(demo, "owner")["api_key"], body=body, headers={"Content-Type": content_type}
    )
    assert result.status == expected, result.body[:300]
    error = json.loads(result.body)["error"]
    assert error["code"] in ("invalid_request", "unsupported_media_type") and "Traceback" not in result.body.decode()
    assert state(stack) == before
