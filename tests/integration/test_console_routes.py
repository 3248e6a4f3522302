"""The two small routes the Console navigates with: the caller's tenants, and a tenant's resource tree."""

from __future__ import annotations

import json
from typing import Any

from audit_service import container
from audit_service.domain.models import Plan
from audit_service.domain.permissions import Role
from tests.conftest import Api, user


def test_the_caller_sees_each_of_their_tenants_with_their_role(api: Api, demo: dict[str, Any]) -> None:
    tenant = demo["tenants"][0]
    other = container.accounts().create_tenant("Globex", Plan.ENTERPRISE)
    auditor = user(demo, "auditor")
    container.accounts().add_member(other.id, auditor["id"], Role.OWNER)

    status, body = api.call("GET", "/users/me/tenants", auditor["api_key"])
    assert status == 200
    assert body == {
        "data": [
            {"id": tenant["id"], "name": tenant["name"], "plan": tenant["plan"], "role": "auditor"},
            {"id": other.id, "name": "Globex", "plan": "enterprise", "role": "owner"},
        ],
        "total": 2,
    }
    status, body = api.call("GET", "/users/me/tenants", user(demo, "member")["api_key"])
    assert status == 200 and [(t["id"], t["role"]) for t in body["data"]] == [(tenant["id"], "member")]
    assert api.call("GET", "/users/me/tenants?role=owner", auditor["api_key"])[0] == 400


def test_a_tenants_resource_tree_for_its_members_only(api: Api, demo: dict[str, Any]) -> None:
    tenant_id = demo["tenants"][0]["id"]
    accounts = container.accounts()
    before = api.call("GET", f"/tenants/{tenant_id}/resources", user(demo, "member")["api_key"])[1]
    division = accounts.add_tenant_resource(tenant_id, "division", "Data Platform")
    environment = accounts.add_tenant_resource(tenant_id, "environment", "staging", division.id)
    deployment = accounts.add_tenant_resource(tenant_id, "deployment", "staging-eu", environment.id)

    status, tree = api.call("GET", f"/tenants/{tenant_id}/resources", user(demo, "member")["api_key"])
    assert status == 200 and tree["tenant_id"] == tenant_id
    assert tree["divisions"] == [*before["divisions"], {"id": division.id, "name": "Data Platform", "parent_id": None}]
    assert {"id": environment.id, "name": "staging", "parent_id": division.id} in tree["environments"]
    assert {"id": deployment.id, "name": "staging-eu", "parent_id": environment.id} in tree["deployments"]
    assert [d["id"] for d in tree["deployments"]] == sorted(d["id"] for d in tree["deployments"])

    outsider = container.accounts().create_tenant("Initech", Plan.BASIC)
    status, body = api.call("GET", f"/tenants/{outsider.id}/resources", user(demo, "owner")["api_key"])
    assert status == 403 and body["error"]["code"] == "forbidden"
    status, body = api.call("GET", "/tenants/999999/resources", user(demo, "owner")["api_key"])
    assert status == 403  # a missing tenant answers like a forbidden one


def test_a_record_shows_where_the_change_came_from(api: Api, demo: dict[str, Any], stack: Any) -> None:
    from tests.integration.test_audit_log import product_page_event, publish

    tenant_id = demo["tenants"][0]["id"]
    event = product_page_event(tenant_id)
    publish(stack, event)
    api.drain()
    status, page = api.call(
        "GET", f"/audit/tenants/{tenant_id}?type=deployment_created", user(demo, "auditor")["api_key"]
    )
    assert status == 200
    (record,) = [r for r in page["data"] if r["id"] == event["event_id"]]
    origin = (record["request_id"], record["source_ip"], record["user_agent"])
    assert origin == ("req-42", "198.51.100.77", "terraform/1.9")


def test_the_filtered_audit_log_downloads_as_csv_every_page_access_logged(
    api: Api, demo: dict[str, Any], stack: Any
) -> None:
    import csv
    import io

    from tests.integration.test_audit_log import product_page_event, publish

    tenant_id, auditor = demo["tenants"][0]["id"], user(demo, "auditor")["api_key"]
    events = [product_page_event(tenant_id, current={"replicas": n}) for n in range(25)]
    events.append(product_page_event(tenant_id, deployment={"id": 43, "name": '=HYPERLINK("http://evil")'}))
    publish(stack, *events[:10])
    publish(stack, *events[10:20])
    publish(stack, *events[20:])
    api.drain()

    result = api.request("GET", f"/audit/tenants/{tenant_id}/export.csv?deployment_id=42", key=auditor)
    assert result.status == 200, result.body
    assert result.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in result.headers["Content-Disposition"]
    text = result.body if isinstance(result.body, str) else result.body.decode()
    rows = list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))
    assert len(rows) == 25  # every page of the filter, not the page on screen
    _, page = api.call("GET", f"/audit/tenants/{tenant_id}?deployment_id=42&results=1", auditor)
    newest = page["data"][0]
    assert rows[0]["id"] == newest["id"] and rows[0]["author_name"] == newest["author"]["name"]
    assert rows[0]["source_ip"] == newest["source_ip"] and json.loads(rows[0]["current"]) == newest["current"]

    other = api.request("GET", f"/audit/tenants/{tenant_id}/export.csv?deployment_id=43", key=auditor)
    (row,) = list(csv.DictReader(io.StringIO(other.body.decode().removeprefix("\ufeff"))))
    assert row["deployment_name"] == '\'=HYPERLINK("http://evil")'  # never a formula in a spreadsheet

    _, access = api.call("GET", f"/audit/tenants/{tenant_id}/access?results=100", auditor)
    assert [r["action"] for r in access["data"]].count("audit_log.csv_export") == 2
    member = user(demo, "member")["api_key"]
    assert api.request("GET", f"/audit/tenants/{tenant_id}/export.csv", key=member).status == 403


def test_the_console_is_served_by_the_api_itself_without_a_key_under_a_strict_policy(api: Api) -> None:
    page = api.request("GET", "/console/index.html")
    assert page.status == 200 and page.headers["Content-Type"].startswith("text/html")
    policy = page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy and "frame-ancestors 'none'" in policy
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    script = api.request("GET", "/console/app.js")
    assert script.status == 200 and script.headers["Content-Type"].startswith("text/javascript")
    assert api.request("GET", "/console").headers["Location"] == "console/index.html"
    for name in ("app.py", "..%2Fapp.py", "package.json", "%2e%2e"):  # only the app's three files
        assert api.request("GET", f"/console/{name}").status == 404
