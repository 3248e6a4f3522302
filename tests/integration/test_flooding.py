"""Flooding the logs (issue #10, 2): what a client without a key, or with one, can make us store and spend.

WAF's rate-based rules (per source address and per API key) stop a flood
before the authorizer runs; what gets through is stored aggregated, so the
number of records grows with the number of distinct sources and reasons, not
with the number of requests.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from audit_service import container
from localcloud.gateway import Gateway
from localcloud.pollers import Pollers
from localcloud.provision import Stack, provision
from localcloud.runtime import Runtime, install_lambda_invoker
from tests.conftest import REGION, clients, log_items

LIMIT = 20


@pytest.fixture
def guarded(aws: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Stack, Gateway, Pollers]]:
    """A stack whose WAF limits are low enough to reach in a test."""
    stack = provision(
        clients,
        stack_name="flood",
        region=REGION,
        parameters={"RateLimitPerSource": LIMIT, "RateLimitPerApiKey": LIMIT},
    )
    for name, value in stack.environment().items():
        monkeypatch.setenv(name, value)
    container.reset()
    runtime = Runtime(stack)
    install_lambda_invoker(runtime)
    (spec,) = stack.apis.values()
    yield stack, Gateway(spec, runtime, region=REGION), Pollers(stack.mappings, runtime, clients, REGION)


def call(gateway: Gateway, source: str, key: str | None = None) -> int:
    headers = {"User-Agent": "flood/1.0", **({"ld-api-key": key} if key else {})}
    return gateway.handle("GET", "/audit/types", headers, b"", source).status


def security_items(stack: Stack) -> list[dict[str, Any]]:
    return log_items(stack, "security")


def test_one_source_is_cut_off_by_waf_and_others_are_not(guarded: tuple[Stack, Gateway, Pollers]) -> None:
    _stack, gateway, _pollers = guarded
    answers = [call(gateway, "198.51.100.66", f"ld_{n:043d}") for n in range(LIMIT + 5)]  # a new key each time
    assert answers[:LIMIT] == [401] * LIMIT and set(answers[LIMIT:]) == {429}
    blocked = gateway.handle("GET", "/audit/types", {}, b"", "198.51.100.66")
    assert blocked.status == 429 and json.loads(blocked.body)["error"]["code"] == "rate_limited"
    assert call(gateway, "198.51.100.67", "ld_" + "X" * 43) == 401  # another source is not affected


def test_one_key_cannot_use_up_the_api_from_many_addresses(guarded: tuple[Stack, Gateway, Pollers]) -> None:
    _stack, gateway, _pollers = guarded
    key = "ld_" + "K" * 43
    answers = [call(gateway, f"203.0.113.{n}", key) for n in range(LIMIT + 3)]
    assert set(answers[LIMIT:]) == {429}
    assert call(gateway, "203.0.113.250", "ld_" + "L" * 43) == 401  # another key, the same kind of address


def test_failures_from_one_source_are_stored_as_one_record_with_a_count(
    guarded: tuple[Stack, Gateway, Pollers],
) -> None:
    stack, gateway, pollers = guarded
    for n in range(LIMIT - 5):  # with the five below, exactly the WAF limit: every one reaches the authorizer
        assert call(gateway, "198.51.100.66", f"ld_{n:043d}") == 401
    for _ in range(5):
        assert call(gateway, "198.51.100.66") == 401  # another reason: no key at all
    pollers.drain()

    events = container.security_events().newest(None)
    assert sorted((e.details["reason"], e.count) for e in events) == [
        ("missing_api_key", 5),
        ("unknown_api_key", LIMIT - 5),
    ]
    assert len(security_items(stack)) == 2
    (unknown,) = [e for e in events if e.details["reason"] == "unknown_api_key"]
    assert unknown.request.source_ip == "198.51.100.66" and unknown.last_seen and unknown.last_seen >= unknown.timestamp
