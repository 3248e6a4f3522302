"""Totals from the counters against a brute-force count, and counting exactly once.

The records are written the way the service stores them (AuditLog.build and the
log store's conditional put), the counters are kept by the real counting
function from the table's stream (the local cloud's pollers), and every total
is compared with a count over the stored items: random records over more than
a year, several plans (retentions) and shard layouts, records whose TTL has
passed but which are still stored, and random filters, periods and clocks.
"""

from __future__ import annotations

import json
import random
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit_service import container
from audit_service.config import get_settings
from audit_service.dal.log_records import BY_AUTHOR, BY_TIME, author_partitions, partitions
from audit_service.domain.audit import AuditEvent, Ref
from audit_service.domain.models import Plan, iso_utc
from audit_service.domain.shards import ShardLayout
from audit_service.integrity.records import owner_and_kind
from audit_service.services.pagination import TimeRange, retained
from audit_service.services.totals import (
    ACTIVITY_COUNTED,
    COUNTED,
    Counted,
    activity_scope,
    listing_scope,
)
from localcloud.provision import Stack
from tests.conftest import Api, log_items

NOW = datetime.now(UTC).replace(microsecond=0)
TYPES = ("deployment_created", "deployment_deleted", "member_added")


def _event(rng: random.Random, tenant_id: int, moment: datetime) -> AuditEvent:
    refs = {
        kind: Ref(id=rng.randint(1, 3), name=f"{kind} name")
        for kind in ("division", "environment", "deployment")
        if rng.random() < 0.7
    }
    return AuditEvent(
        event_id=str(uuid.UUID(int=rng.getrandbits(128))),
        type=rng.choice(TYPES),
        tenant_id=tenant_id,
        author=Ref(id=rng.randint(1, 4), name="Someone"),
        occurred_at=moment,
        **refs,
    )


def _moments(rng: random.Random, count: int) -> list[datetime]:
    """Times clustered on a few days and minutes (so periods cut through buckets), over 400 days."""
    days = [NOW - timedelta(days=rng.randint(0, 400)) for _ in range(12)] + [NOW, NOW - timedelta(days=7)]
    moments = []
    for _ in range(count):
        day = rng.choice(days)
        moment = day.replace(hour=rng.choice((0, 9, 23)), minute=rng.choice((0, 1, 30, 59)))
        moment = moment.replace(second=rng.randint(0, 59), microsecond=rng.randint(0, 999) * 1000)
        moments.append(min(moment, NOW - timedelta(seconds=1)))
    return moments


def _store(api: Api, rng: random.Random, tenant_id: int, count: int) -> None:
    audit_log, store = container.audit_log(), container.log_record_store()
    for moment in _moments(rng, count):
        retention = rng.choice([plan.retention_days for plan in Plan])  # as if the plan changed now and then
        store.put(audit_log.build(_event(rng, tenant_id, moment), retention))
    api.drain()


def _brute(items: list[dict[str, Any]], *, low: str, high: str, now: int, equals: dict[str, str]) -> int:
    def matches(item: dict[str, Any]) -> bool:
        ts = item["ts_key"]["S"].split("#", 1)[0]
        return (
            low <= ts <= high
            and int(item["expires_at"]["N"]) > now
            and all(item.get(name, {}).get("S") == value for name, value in equals.items())
        )

    return sum(1 for item in items if matches(item))


moments = st.datetimes(
    min_value=(NOW - timedelta(days=420)).replace(tzinfo=None), max_value=(NOW + timedelta(days=2)).replace(tzinfo=None)
).map(lambda m: m.replace(tzinfo=UTC, microsecond=m.microsecond // 1000 * 1000))
aligned = moments.map(lambda m: m.replace(second=0, microsecond=0))
day_aligned = moments.map(lambda m: m.replace(hour=0, minute=0, second=0, microsecond=0))
bounds = st.one_of(st.none(), moments, aligned, day_aligned)


def test_totals_equal_a_brute_force_count(
    api: Api, stack: Stack, demo: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAX_LOG_SHARDS", "16")
    get_settings.cache_clear()
    container.reset()
    rng = random.Random(20261126)
    accounts = container.accounts()
    sharded = accounts.create_tenant("Big Corp", Plan.ENTERPRISE, log_shards=16)
    assert sharded.layout.most == 16
    small = demo["tenants"][0]["id"]
    _store(api, rng, sharded.id, 260)
    _store(api, rng, small, 140)
    stored = log_items(stack, "audit")
    by_tenant = {t: [i for i in stored if owner_and_kind(i)[0] == str(t)] for t in (sharded.id, small)}
    assert len({i["pk"]["S"] for i in by_tenant[sharded.id]}) > 8, "the big tenant's records span its shards"
    assert any(int(i["expires_at"]["N"]) <= NOW.timestamp() for i in stored), "some are expired but still stored"
    totals = container.totals()
    directory = container.tenant_directory()

    @settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(
        tenant=st.sampled_from([sharded.id, small]),
        low=bounds,
        high=bounds,
        now=moments,
        filters=st.dictionaries(
            st.sampled_from(COUNTED["audit"]),
            st.one_of(st.sampled_from(TYPES), st.sampled_from(["1", "2", "3", "4"])),
            max_size=2,
        ),
    )
    def tenant_total(
        tenant: int, low: datetime | None, high: datetime | None, now: datetime, filters: dict[str, str]
    ) -> None:
        if low and high and low > high:
            low, high = high, low
        period = TimeRange(low, high)
        query = retained(
            BY_TIME, "pk", partitions(tenant, "audit", directory.layout_of(tenant, "audit")), period, filters
        )
        query = replace(query, now_epoch=int(now.timestamp()))
        total = totals.count(listing_scope(str(tenant), "audit"), query, counted=COUNTED["audit"])
        lo, hi = (iso_utc(low) if low else "0"), (iso_utc(high) if high else "~")
        expected = _brute(by_tenant[tenant], low=lo, high=hi, now=int(now.timestamp()), equals=filters)
        if len(filters) <= 1:
            assert total.exact and total.value == expected, (period, filters, now)
        else:  # two filters: an upper bound, said so
            assert not total.exact and total.value >= expected

    tenant_total()

    @settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
    @given(
        author=st.integers(1, 4),
        low=bounds,
        high=bounds,
        now=moments,
        filters=st.dictionaries(
            st.sampled_from(("type", "division_id", "deployment_id")), st.sampled_from([*TYPES, "1", "2"]), max_size=1
        ),
    )
    def activity_total(
        author: int, low: datetime | None, high: datetime | None, now: datetime, filters: dict[str, str]
    ) -> None:
        if low and high and low > high:
            low, high = high, low
        query = retained(BY_AUTHOR, "author_key", author_partitions(author, 16), TimeRange(low, high), filters)
        query = replace(query, now_epoch=int(now.timestamp()))
        total = totals.count(activity_scope(author), query, counted=ACTIVITY_COUNTED)
        mine = [i for i in stored if i.get("author_key", {}).get("S", "").split("#")[0] == str(author)]
        lo, hi = (iso_utc(low) if low else "0"), (iso_utc(high) if high else "~")
        everything = _brute(mine, low=lo, high=hi, now=int(now.timestamp()), equals={})
        if filters:  # the author and a filter: an upper bound (the whole activity), said so
            assert not total.exact and total.value == everything
            assert total.value >= _brute(mine, low=lo, high=hi, now=int(now.timestamp()), equals=filters)
        else:
            assert total.exact and total.value == everything, (low, high, now)

    activity_total()


def test_a_redelivered_batch_is_counted_once_whatever_its_boundaries(stack: Stack) -> None:
    counter, counters = container.counter(), container.counter_store()
    moment = datetime(2026, 11, 26, 10, 15, 30, tzinfo=UTC)

    def record(n: int, source: str = "9#audit") -> Counted:
        return Counted(source, str(1000 + n).zfill(40), moment, 1_900_000_000, (listing_scope("9", "audit"),))

    batch = [record(n) for n in range(10)] + [record(n, "9#audit#3") for n in range(10, 14)]

    def counts() -> list[int]:
        minute = counters.buckets(listing_scope("9", "audit"), "m#", "m#~")
        day = counters.buckets(listing_scope("9", "audit"), "d#", "d#~")
        return [b.count for b in minute + day]

    assert counter.add(batch).skipped == 0 and counts() == [14, 14]
    counter.add(batch)  # the same batch again
    assert counts() == [14, 14]
    counter.add([*batch[5:], record(20), record(21, "9#audit#3")])  # overlapping, with new records after
    assert counts() == [16, 16]


def test_a_listing_total_is_the_counters_and_the_page_costs_no_count_query(
    api: Api, stack: Stack, demo: dict[str, Any]
) -> None:
    """The product page's call answers its total from one counters query, whatever the tenant holds."""
    tenant_id = demo["tenants"][0]["id"]
    owner = next(u for u in demo["users"] if u["role"] == "owner")
    rng = random.Random(7)
    _store(api, rng, tenant_id, 30)
    status, body = api.call("GET", f"/audit/tenants/{tenant_id}?page=1&results=10", owner["api_key"])
    assert status == 200
    expected = _brute(
        [i for i in log_items(stack, "audit") if owner_and_kind(i)[0] == str(tenant_id)],
        low="0",
        high="~",
        now=int(datetime.now(UTC).timestamp()),
        equals={},
    )
    assert body["total"] == expected and "total_exact" not in body
    status, body = api.call("GET", f"/audit/tenants/{tenant_id}?type=deployment_created&author_id=1", owner["api_key"])
    assert status == 200 and body["total_exact"] is False
    # A user's activity is one filter already (its author): filtered further, its total is an upper bound.
    status, body = api.call("GET", "/audit/users/activity?type=deployment_created", owner["api_key"])
    assert status == 200 and body["total_exact"] is False
    status, body = api.call("GET", "/audit/users/activity", owner["api_key"])
    assert status == 200 and "total_exact" not in body


def test_the_shard_layout_only_grows_and_a_new_count_applies_later() -> None:
    layout = ShardLayout.of(2)
    now = datetime(2026, 11, 26, tzinfo=UTC)
    grown = layout.grown(16, now=now)
    assert grown.count_at(now.timestamp()) == 2 and grown.count_at(now.timestamp() + 601) == 16
    assert grown.grown(4, now=now) is grown and grown.most == 16


def test_the_operator_grows_a_tenants_shards_within_the_stacks_bound(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """docs/operations.md's command: the new count applies ten minutes later; beyond MaxLogShards it is refused."""
    from audit_service.admin import cli

    monkeypatch.setenv("MAX_LOG_SHARDS", "16")
    get_settings.cache_clear()
    container.reset()
    tenant = container.accounts().create_tenant("Busy", Plan.ENTERPRISE)
    capsys.readouterr()
    assert cli.main(["tenant", "grow-shards", "--tenant", str(tenant.id), "--shards", "16"]) == 0
    steps = json.loads(capsys.readouterr().out)["log_shards"]
    assert [count for _since, count in steps] == [1, 16]
    assert steps[1][0] - time.time() == pytest.approx(600, abs=30)
    assert cli.main(["tenant", "grow-shards", "--tenant", str(tenant.id), "--shards", "17"]) == 1
    assert "16" in json.loads(capsys.readouterr().err)["error"]
