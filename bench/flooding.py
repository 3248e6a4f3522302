"""A flood of bad keys from one source: what reaches the authorizer, and what gets stored.

Minutes of requests at a fixed rate from one address, each with a new
made-up key, through the local gateway (with the template's WAF rules), the
real authorizer, the security-events queue and the recorder (run once per
recorder batching window). Time is simulated (the WAF's clock and the signals'
times), so the minutes take seconds; everything else is the real code on moto.

Baseline: what main stored before aggregation, one record per request that
reached the authorizer.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from moto import mock_aws

from bench.audit_paths import REGION, Row, _clients, _env, in_process_aws
from localcloud.gateway import Gateway
from localcloud.pollers import Pollers
from localcloud.provision import provision
from localcloud.runtime import Runtime, install_lambda_invoker
from localcloud.template import load, parameter_defaults

RATE = 20  # requests per second: over the WAF's per-source limit
MINUTES = 3


def measure(rate: int = RATE, minutes: int = MINUTES) -> list[Row]:
    in_process_aws()
    with mock_aws():
        from audit_service import container
        from audit_service.observability import logger

        logger.setLevel("WARNING")  # one line per refused request otherwise

        stack = provision(_clients, stack_name="flood", region=REGION)
        restore = _env(stack)
        container.reset()
        clock = [0.0]
        start = datetime.now(UTC)
        with container.inside("AuthorizerFunction"):  # the authorizer container's own reporter
            container.security_signals().clock = lambda: start + timedelta(seconds=clock[0])
        try:
            runtime = Runtime(stack)
            install_lambda_invoker(runtime)
            (spec,) = stack.apis.values()
            assert spec.web_acl is not None
            spec.web_acl.clock = lambda: clock[0]
            gateway = Gateway(spec, runtime, region=REGION)
            pollers = Pollers(stack.mappings, runtime, _clients, REGION)
            window = float(parameter_defaults(load())["SecurityEventsWindowSeconds"])
            answers: dict[int, int] = {}
            next_batch = window
            for n in range(rate * 60 * minutes):
                clock[0] = n / rate
                status = gateway.handle(
                    "GET", "/audit/types", {"ld-api-key": f"ld_{n:043d}", "User-Agent": "flood"}, b"", "198.51.100.66"
                ).status
                answers[status] = answers.get(status, 0) + 1
                if clock[0] >= next_batch:  # the recorder's batching window has passed
                    pollers.drain()
                    next_batch += window
            pollers.drain()
            stored = _security_records(stack.ref("AuditLogTable"))
        finally:
            restore()
            container.reset()
    sent = sum(answers.values())
    reached = answers.get(401, 0)
    per_minute = stored / minutes
    limit = int(parameter_defaults(load())["RateLimitPerSource"])
    return [
        Row(
            f"requests sent ({rate}/s for {minutes} min, one source, a new bad key each)",
            f"{sent}",
            f"429 from WAF: {answers.get(429, 0)}; 401 from the authorizer: {reached}",
            reached <= limit * (minutes / 5 + 1),
        ),
        Row(
            "security records stored per minute",
            f"{per_minute:.1f}",
            f"baseline (one per failure) {reached / minutes:.0f}/min: {per_minute / max(reached / minutes, 1):.4f}x",
            per_minute <= 60 / window * 2,
        ),
        Row(
            "requests per stored record",
            f"{sent / max(stored, 1):.0f}",
            "target: bounded records whatever the rate (at most two per recorder window)",
            stored <= minutes * 60 / window * 2 + 2,
        ),
    ]


def _security_records(table: str) -> int:
    dynamodb = _clients("dynamodb")
    count = 0
    for page in dynamodb.get_paginator("scan").paginate(TableName=table):
        count += sum(1 for item in page["Items"] if item["pk"]["S"].endswith("#security"))
    return count
