"""The local cloud end to end: events published on its bus until they are served by its API.

``python -m localcloud`` (what ``make run`` runs) starts as a child process;
this bench publishes events with the AWS SDK over HTTP, ten per ``put-events``
call as a producer would, and reads the tenant's ``total`` through the API
until every event is served, then until the verify route finds nothing
unsealed (the ingest queue's depth is watched meanwhile: a listing's exact
total is itself work for the cloud under test). Target (issue #11): at least 100 events per second end to end (main
took 9). Also printed: the publisher alone on the same run, an upper bound of
what end to end can reach.
"""

from __future__ import annotations

import json
import tempfile
import time
import urllib.parse
import urllib.request
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3

from bench.audit_paths import PRODUCT_PAGE_EXAMPLE, Row
from localcloud.process import running

TARGET = 100.0  # events per second, end to end


def _get(cloud: dict[str, Any], path: str, key: str) -> dict[str, Any]:
    request = urllib.request.Request(cloud["api_url"] + path, headers={"ld-api-key": key})
    with urllib.request.urlopen(request, timeout=30) as answer:
        return dict(json.load(answer))


def _wait(condition: Any, timeout: float) -> float:
    """When the first check that found ``condition`` true began (a verify of thousands of records takes
    seconds: its start is when everything was already sealed)."""
    start = time.monotonic()
    while True:
        checked = time.monotonic()
        if condition():
            return checked
        if checked - start > timeout:
            raise TimeoutError(f"not reached within {timeout:.0f} s")
        time.sleep(0.25)


def measure(events: int = 3000) -> list[Row]:
    with tempfile.TemporaryDirectory() as state_dir, running(Path(state_dir)) as cloud:
        tenant = cloud["tenants"][0]["id"]
        key = next(u["api_key"] for u in cloud["users"] if u["role"] == "owner")
        aws = {"endpoint_url": cloud["aws_endpoint_url"], "region_name": cloud["region"]}
        credentials = {"aws_access_key_id": "local", "aws_secret_access_key": "local"}
        bus = boto3.client("events", **aws, **credentials)
        bus_name = cloud["resources"]["AuditEventBus"]
        listing = f"/audit/tenants/{tenant}?results=1"
        before = _get(cloud, listing, key)["total"]

        start, period_from = time.monotonic(), datetime.now(UTC)
        for first in range(0, events, 10):
            entries = [
                {
                    "Source": "bench.local-cloud",
                    "DetailType": "Audit Event",
                    "EventBusName": bus_name,
                    "Detail": json.dumps(
                        {
                            **PRODUCT_PAGE_EXAMPLE,
                            "event_id": str(uuid.uuid4()),
                            "tenant_id": tenant,
                            "occurred_at": datetime.now(UTC).isoformat(),
                        }
                    ),
                }
                for _ in range(min(10, events - first))
            ]
            assert bus.put_events(Entries=entries)["FailedEntryCount"] == 0
        published, period_to = time.monotonic(), datetime.now(UTC)
        sqs = boto3.client("sqs", **aws, **credentials)
        queue = cloud["resources"]["AuditIngestQueue"]

        def drained() -> bool:  # a cheap check: the API's total counts every record (confirmed below)
            counts = sqs.get_queue_attributes(
                QueueUrl=queue,
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            return set(counts.values()) == {"0"}

        served = _wait(lambda: drained() and _get(cloud, listing, key)["total"] >= before + events, timeout=600)
        # The published events' period only: each verify leaves an access record of its own, sealed later.
        period = urllib.parse.urlencode({"from": period_from.isoformat(), "to": period_to.isoformat()})
        verify = f"/audit/tenants/{tenant}/verify?{period}"
        sealed = _wait(lambda: _get(cloud, verify, key)["records"]["unsealed"] == 0, timeout=120)
    publish_rate = events / (published - start)
    end_to_end = events / (served - start)
    return [
        Row(
            f"publisher alone ({events:,} events, 10 per put-events)",
            f"{publish_rate:,.0f} events/s",
            "upper bound of end to end",
            True,
        ),
        Row(
            "end to end: put-events to served by the API",
            f"{end_to_end:,.0f} events/s",
            f"target {TARGET:.0f} events/s: {end_to_end / TARGET:.2f}x; {end_to_end / publish_rate:.2f}x the publisher",
            end_to_end >= TARGET,
        ),
        Row(
            "last event served to every record sealed",
            f"{sealed - served:.1f} s",
            "local sealing window 2 s (AWS default 60 s)",
            sealed - served < 10,
        ),
    ]
