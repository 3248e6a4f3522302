"""The audit routes: tenant isolation, filters, pagination, bad query values, access logs, user activity."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from audit_service import container
from audit_service.dal.log_records import BY_TIME, RecordQuery
from audit_service.domain.models import Plan, SecurityEventType
from audit_service.domain.permissions import Role
from localcloud.pollers import Pollers
from localcloud.provision import Stack
from localcloud.runtime import Runtime
from tests.conftest import REGION, Api, clients, user
from tests.integration.test_audit_log import product_page_event, publish


@pytest.fixture
def pollers(runtime: Runtime, stack: Stack) -> Pollers:
    return Pollers(stack.mappings, runtime, clients, REGION)


def get(api: Api, path: str, key: str) -> tuple[int, Any]:
    result = api.request("GET", path, key=key)
    return result.status, json.loads(result.body)


@pytest.fixture
def history(stack: Stack, demo: dict[str, Any], pollers: Pollers) -> list[dict[str, Any]]:
    """25 events a minute apart, newest last; every fifth by author 2 in deployment 7."""
    tenant_id = demo["tenants"][0]["id"]
    start = datetime.now(UTC) - timedelta(hours=1)
    events = []
    for n in range(25):
        special = n % 5 == 0
        events.append(
            product_page_event(
                tenant_id,
                event_id=f"evt-{n:03d}",
                type="deployment_updated" if special else "deployment_created",
                author={"id": 2, "name": "Ada Auditor"} if special else {"id": 1, "name": "Jane Smith"},
                deployment={"id": 7, "name": "staging"} if special else {"id": 42, "name": "prod-cluster"},
                occurred_at=(start + timedelta(minutes=n)).isoformat(),
            )
        )
    for chunk in range(0, 25, 10):
        publish(stack, *events[chunk : chunk + 10])
    pollers.drain()
    return events


def test_newest_first_with_exact_total(api: Api, demo: dict[str, Any], history: list[dict[str, Any]]) -> None:
    tenant_id = demo["tenants"][0]["id"]
    status, body = get(api, f"/audit/tenants/{tenant_id}?page=1&results=10", user(demo, "owner")["api_key"])
    assert status == 200
    assert body["total"] == 25
    assert [r["id"] for r in body["data"]] == [f"evt-{n:03d}" for n in range(24, 14, -1)]
    assert body["next"]


def test_cursor_and_page_walk_the_same_records(api: Api, demo: dict[str, Any], history: list[dict[str, Any]]) -> None:
    tenant_id = demo["tenants"][0]["id"]
    key = user(demo, "auditor")["api_key"]
    seen: list[str] = []
    cursor = None
    page = 1
    while True:
        path = f"/audit/tenants/{tenant_id}?results=10&page={page}" + (f"&cursor={cursor}" if cursor else "")
        status, body = get(api, path, key)
        assert status == 200 and body["total"] == 25
        seen += [r["id"] for r in body["data"]]
        cursor = body["next"]
        if cursor is None:
            break
        page += 1
    assert seen == [f"evt-{n:03d}" for n in range(24, -1, -1)]
    _, third = get(api, f"/audit/tenants/{tenant_id}?results=10&page=3", key)
    assert [r["id"] for r in third["data"]] == seen[20:]


def test_filters_narrow_the_records_and_the_total(
    api: Api, demo: dict[str, Any], history: list[dict[str, Any]]
) -> None:
    tenant_id = demo["tenants"][0]["id"]
    key = user(demo, "auditor")["api_key"]
    special = [f"evt-{n:03d}" for n in (20, 15, 10, 5, 0)]
    for query in ("type=deployment_updated", "author_id=2", "deployment_id=7", "division_id=1&author_id=2"):
        status, body = get(api, f"/audit/tenants/{tenant_id}?{query}", key)
        assert status == 200, body
        assert [r["id"] for r in body["data"]] == special and body["total"] == 5, query
    start = datetime.fromisoformat(history[3]["occurred_at"]).astimezone(UTC)
    end = datetime.fromisoformat(history[6]["occurred_at"]).astimezone(UTC)
    window = f"from={start.strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3]}Z&to={end.strftime('%Y-%m-%dT%H:%M:%S.%f')[:-3]}Z"
    status, body = get(api, f"/audit/tenants/{tenant_id}?{window}", key)
    assert status == 200, body
    assert [r["id"] for r in body["data"]] == ["evt-006", "evt-005", "evt-004", "evt-003"] and body["total"] == 4
    _, none = get(api, f"/audit/tenants/{tenant_id}?author_id=99", key)
    assert none == {"data": [], "page": 1, "results": 10, "total": 0, "next": None}


@pytest.mark.parametrize(
    "query",
    [
        "page=0",
        "results=0",
        "results=101",
        "page=abc",
        "from=yesterday",
        "to=2025-13-01",
        "from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z",
        "cursor=%%%",
        "cursor=eyJmb28iOiAxfQ",
        "type=nope",
        "author_id=0",
        "colour=blue",
    ],
)
def test_invalid_query_values_are_400_json(api: Api, demo: dict[str, Any], query: str) -> None:
    tenant_id = demo["tenants"][0]["id"]
    status, body = get(api, f"/audit/tenants/{tenant_id}?{query}", user(demo, "auditor")["api_key"])
    assert status == 400, body
    assert body["error"]["code"] in {"invalid_request", "invalid_input"}
    assert body["error"]["message"]


def test_a_cursor_from_another_tenant_is_400(api: Api, stack: Stack, demo: dict[str, Any], pollers: Pollers) -> None:
    first = demo["tenants"][0]["id"]
    owner = user(demo, "owner")
    second = container.accounts().create_tenant("Globex", Plan.ENTERPRISE)
    container.accounts().add_member(second.id, owner["id"], Role.OWNER)
    container.authenticator.cache_clear()
    api.gateway.runtime.containers["AuthorizerFunction"].recycle()
    publish(stack, *[product_page_event(second.id) for _ in range(3)], *[product_page_event(first) for _ in range(3)])
    pollers.drain()

    _, page = get(api, f"/audit/tenants/{second.id}?results=1", owner["api_key"])
    status, body = get(api, f"/audit/tenants/{first}?results=1&cursor={page['next']}", owner["api_key"])
    assert status == 400 and "another listing" in body["error"]["message"]


def test_tenant_a_cannot_read_tenant_b(api: Api, stack: Stack, demo: dict[str, Any], pollers: Pollers) -> None:
    tenant_b = container.accounts().create_tenant("Tenant B", Plan.PRO)
    publish(stack, product_page_event(tenant_b.id))
    pollers.drain()
    intruder = user(demo, "owner")  # owner of tenant A only

    status, body = get(api, f"/audit/tenants/{tenant_b.id}", intruder["api_key"])
    status_missing, body_missing = get(api, "/audit/tenants/4242", intruder["api_key"])

    assert status == 403 and body["error"]["code"] == "forbidden"
    # A tenant that does not exist gets the very same answer.
    assert status_missing == 403 and body_missing["error"]["code"] == body["error"]["code"]
    api.drain()
    # an outsider's probing is the operator's business, not something it can write into tenant B's log
    assert container.security_events().newest(tenant_b.id) == []
    (event,) = [
        e for e in container.security_events().newest(None) if e.details.get("requested_tenant_id") == tenant_b.id
    ]
    assert event.type is SecurityEventType.PERMISSION_DENIED
    assert event.actor_id == intruder["id"] and event.details["permission"] == "audit:read"


def test_a_member_without_audit_read_is_refused(api: Api, demo: dict[str, Any]) -> None:
    tenant_id = demo["tenants"][0]["id"]
    status, _ = get(api, f"/audit/tenants/{tenant_id}", user(demo, "member")["api_key"])
    assert status == 403


def test_every_audit_log_read_is_access_logged(api: Api, stack: Stack, demo: dict[str, Any]) -> None:
    tenant_id = demo["tenants"][0]["id"]
    auditor = user(demo, "auditor")
    status, _ = get(api, f"/audit/tenants/{tenant_id}", auditor["api_key"])
    assert status == 200
    query = RecordQuery(
        index=BY_TIME,
        partition_name="pk",
        partition_values=(f"{tenant_id}#access",),
        now_epoch=int(datetime.now(UTC).timestamp()),
    )
    (record,) = container.log_record_store().page(query, limit=10).records
    assert record.attributes["type"] == "audit_log.read"
    assert record.attributes["actor_id"] == str(auditor["id"])
    assert record.attributes["request_id"]
    opened = container.envelope().open(
        record.sealed, context={"tenant_id": str(tenant_id)}, bind=f"{record.pk}|{record.sk}"
    )
    assert opened["source_ip"] == "203.0.113.7" and opened["user_agent"] == "pytest-client/1.0"
    assert "203.0.113.7" not in json.dumps(record.attributes, default=str)


def test_user_activity_spans_tenants_with_each_tenants_retention(
    api: Api, stack: Stack, demo: dict[str, Any], pollers: Pollers
) -> None:
    pro = demo["tenants"][0]["id"]  # Pro: 90 days
    basic = container.accounts().create_tenant("Small Co", Plan.BASIC)  # 7 days
    me = user(demo, "member")  # no audit:read anywhere: activity is one's own, no permission needed
    someone_else = {"id": 777, "name": "Someone"}
    now = datetime.now(UTC)
    mine_pro = product_page_event(
        pro, author={"id": me["id"], "name": me["name"]}, occurred_at=(now - timedelta(days=30)).isoformat()
    )
    mine_basic_recent = product_page_event(
        basic.id, author={"id": me["id"], "name": me["name"]}, occurred_at=(now - timedelta(days=1)).isoformat()
    )
    mine_basic_expired = product_page_event(
        basic.id, author={"id": me["id"], "name": me["name"]}, occurred_at=(now - timedelta(days=30)).isoformat()
    )
    not_mine = product_page_event(pro, author=someone_else)
    publish(stack, mine_pro, mine_basic_recent, mine_basic_expired, not_mine)
    pollers.drain()

    status, body = get(api, "/audit/users/activity?page=1&results=10", me["api_key"])

    assert status == 200, body
    assert [(r["id"], r["tenant"]) for r in body["data"]] == [
        (mine_basic_recent["event_id"], basic.id),
        (mine_pro["event_id"], pro),
    ]
    assert body["total"] == 2 and body["page"] == 1 and body["results"] == 10
    assert body["data"][0]["author"] == {"id": me["id"], "name": me["name"]}


def test_user_activity_rejects_bad_query_values(api: Api, demo: dict[str, Any]) -> None:
    for query in ("page=0", "results=500", "cursor=zzz", "author_id=1"):
        status, _ = get(api, f"/audit/users/activity?{query}", user(demo, "member")["api_key"])
        assert status == 400, query
