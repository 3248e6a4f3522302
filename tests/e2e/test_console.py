"""The Console in a real browser: Debian's chromium, driven by Playwright, against ``make run``'s process.

Each step is what a person does; a screenshot of each view goes to
``test-output/console/`` for a person to look at, and axe-core (from npm,
``tests/e2e/browser/node_modules``) checks every view for serious or critical
accessibility violations.
"""

from __future__ import annotations

import json
import re
import shutil
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from localcloud.process import client as local_client
from tests.e2e.local import ROOT, start_local_cloud

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("console")]

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
AXE = ROOT / "tests/e2e/browser/node_modules/axe-core/axe.min.js"
SHOTS = ROOT / "test-output/console"

sync_api = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    yield from start_local_cloud(tmp_path_factory)


@pytest.fixture(scope="module")
def history(cloud: dict[str, Any]) -> list[dict[str, Any]]:
    """Audit events a platform would have published: 23 changes of the demo deployment and 2 elsewhere."""
    tenant = cloud["tenants"][0]
    deployment = tenant["deployments"][0]
    start = datetime.now(UTC) - timedelta(hours=2)
    events = [
        {
            "event_id": f"console-{uuid.uuid4()}",
            "type": "deployment_updated",
            "tenant_id": tenant["id"],
            "author": {"id": 1, "name": "Jane Smith"},
            "deployment": deployment,
            "previous": {"replicas": n, "image": "api:1.4"},
            "current": {"replicas": n + 1, "image": "api:1.4"},
            "request_id": f"req-{n}",
            "source_ip": "198.51.100.23",
            "user_agent": "terraform/1.9",
            "occurred_at": (start + timedelta(minutes=n)).isoformat(),
        }
        for n in range(23)
    ] + [
        {
            "event_id": f"console-{uuid.uuid4()}",
            "type": "environment_created",
            "tenant_id": tenant["id"],
            "author": {"id": 1, "name": "Jane Smith"},
            "current": {"name": f"env-{n}"},
            "occurred_at": (start + timedelta(minutes=30 + n)).isoformat(),
        }
        for n in range(2)
    ]
    _publish(cloud, events)
    _wait_until_served(cloud, tenant["id"], {e["event_id"] for e in events})
    return events


def _publish(cloud: dict[str, Any], events: list[dict[str, Any]]) -> None:
    """On the bus, as a platform's service does (ten entries a call at most)."""
    bus = local_client(cloud, "events")
    for first in range(0, len(events), 10):
        entries = [
            {
                "EventBusName": cloud["resources"]["AuditEventBus"],
                "Source": "laserdata.deployments",
                "DetailType": "Audit Event",
                "Detail": json.dumps(event),
            }
            for event in events[first : first + 10]
        ]
        assert bus.put_events(Entries=entries)["FailedEntryCount"] == 0


def _wait_until_served(cloud: dict[str, Any], tenant_id: int, event_ids: set[str]) -> None:
    """The pages below open once the history is stored (ingest takes a second or two)."""
    import time
    import urllib.request

    key = user(cloud, "owner")["api_key"]
    deadline = time.monotonic() + 30
    while True:
        request = urllib.request.Request(
            f"{cloud['api_url']}/audit/tenants/{tenant_id}?results=100", headers={"ld-api-key": key}
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            if event_ids <= {record["id"] for record in json.load(answer)["data"]}:
                return
        assert time.monotonic() < deadline, "the history was not served within 30 s"
        time.sleep(0.2)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail("chromium is not installed: `make browser` (apt-get install chromium) provides it")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


def user(cloud: dict[str, Any], role: str) -> dict[str, Any]:
    return next(u for u in cloud["users"] if u["role"] == role)


def look(page: Any, name: str) -> None:
    """A screenshot for people, and axe-core's verdict for the same view."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    # Through the DevTools protocol: the Console's Content-Security-Policy refuses inline scripts, as it should.
    page.evaluate(AXE.read_text())
    result = page.evaluate("async () => (await axe.run(document)).violations")
    serious = [(v["id"], v["impact"], len(v["nodes"])) for v in result if v["impact"] in ("serious", "critical")]
    assert serious == [], f"{name}: {serious}"


def sign_in(page: Any, cloud: dict[str, Any], role: str) -> None:
    page.goto(cloud["console_url"])
    page.get_by_label("API key").fill(user(cloud, role)["api_key"])
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Your tenants").wait_for()


def test_an_owner_browses_filters_pages_and_opens_a_diff(
    cloud: dict[str, Any], history: list[dict[str, Any]], browser: Any
) -> None:
    tenant = cloud["tenants"][0]
    context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(cloud["console_url"])
    look(page, "01-sign-in")
    sign_in(page, cloud, "owner")
    assert page.get_by_role("navigation", name="Account").get_by_text(user(cloud, "owner")["name"]).is_visible()
    look(page, "02-tenants")

    page.get_by_role("link", name=tenant["name"]).click()
    page.get_by_role("table", name="Audit records, newest first").wait_for()
    look(page, "03-audit-tab")

    page.get_by_label("Type").select_option("deployment_updated")
    page.get_by_label("Deployment").select_option(str(tenant["deployments"][0]["id"]))
    page.get_by_role("button", name="Apply").click()
    page.get_by_text("23 records · page 1").wait_for(timeout=20_000)
    assert "type=deployment_updated" in page.url  # filters live in the URL: bookmarkable
    rows = page.get_by_role("table", name="Audit records, newest first").locator("tbody tr")
    assert rows.count() == 10
    look(page, "04-audit-filtered")

    page.get_by_role("button", name="Next").click()
    page.get_by_text("23 records · page 2").wait_for()
    page.get_by_role("button", name="Next").click()
    page.get_by_text("23 records · page 3").wait_for()
    assert rows.count() == 3
    assert page.get_by_role("button", name="Next").is_disabled()
    page.get_by_role("button", name="Previous").click()
    page.get_by_text("23 records · page 2").wait_for()

    rows.first.click()
    record = page.get_by_role("region", name="Record")
    record.wait_for()
    changed = record.locator("table.diff tr.changed")
    assert changed.count() == 1 and changed.locator("th").inner_text() == "replicas"
    assert record.get_by_text("198.51.100.23").is_visible() and record.get_by_text("terraform/1.9").is_visible()
    look(page, "05-record-diff")

    with page.expect_download() as download:
        page.get_by_role("button", name="Download CSV").click()
    lines = Path(download.value.path()).read_text(encoding="utf-8-sig").splitlines()
    assert len(lines) == 1 + 23

    # A deployment's own Audit tab, reached through the tenant's tree: the same view with the deployment fixed.
    deployment = tenant["deployments"][0]
    page.get_by_text("Divisions, environments and deployments").click()
    page.get_by_role("link", name=deployment["name"]).click()
    page.get_by_role("heading", name=f"{tenant['name']} \u203a {deployment['name']}").wait_for()
    page.get_by_text("23 records · page 1").wait_for()
    assert page.get_by_label("Deployment").count() == 0
    look(page, "05b-deployment-audit")
    page.goto(f"{cloud['console_url']}#/tenants/{tenant['id']}/audit")
    page.get_by_role("table", name="Audit records, newest first").wait_for()

    page.get_by_role("link", name="Who looked").click()
    page.get_by_role("table", name="Records, newest first", exact=True).wait_for()
    assert page.get_by_role("cell", name="audit_log.read").count() >= 1
    assert page.get_by_role("cell", name="audit_log.csv_export").count() == 1
    look(page, "06-who-looked")
    page.get_by_label("Who read (user id)").fill(str(user(cloud, "auditor")["id"]))
    page.get_by_role("button", name="Apply").click()
    page.get_by_text("No records match these filters.").wait_for()  # the auditor has read nothing
    assert f"actor_id={user(cloud, 'auditor')['id']}" in page.url
    page.get_by_label("Who read (user id)").fill(str(user(cloud, "owner")["id"]))
    page.get_by_role("button", name="Apply").click()
    page.get_by_role("cell", name="audit_log.csv_export").wait_for()

    page.get_by_role("link", name="Security events").click()
    page.wait_for_selector("text=/records · page 1|No records match/")
    page.get_by_label("Type").select_option("permission_denied")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**type=permission_denied**")
    page.wait_for_selector("text=/records · page 1|No records match/")
    look(page, "07-security-events")

    page.get_by_role("link", name="Integrity").click()
    page.get_by_text("Records checked").wait_for()
    assert page.get_by_text("The log verifies: complete and unmodified.").is_visible()
    with page.expect_download() as download:
        page.get_by_role("button", name="Download the export bundle").click()
    bundle = json.loads(Path(download.value.path()).read_text())
    assert bundle["format"] == "ld-audit-bundle/1" and page.get_by_text("--fingerprint SHA256:").is_visible()
    look(page, "07b-integrity")
    # the period on the Audit tab travels to the Integrity tab, which verifies just that period
    page.get_by_role("link", name="Audit", exact=True).click()
    page.get_by_role("table", name="Audit records, newest first").wait_for()  # the Audit tab's own form
    page.get_by_label("From (UTC)").fill("2026-01-01T00:00")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url("**from=2026-01-01**")
    page.locator("a[href*='/integrity?from=2026-01-01']").click()  # the tab, once it carries the period
    page.get_by_role("heading", name="From 2026-01-01T00:00:00").wait_for()
    assert page.get_by_text("The log verifies: complete and unmodified.").is_visible()
    context.close()


def test_a_person_exports_their_data_and_finds_their_email(cloud: dict[str, Any], browser: Any) -> None:
    owner = user(cloud, "owner")
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    sign_in(page, cloud, "owner")
    page.get_by_role("link", name=owner["name"]).click()
    page.get_by_role("heading", name="Your account").wait_for()
    look(page, "08-account")
    with page.expect_download(timeout=60_000) as download:
        page.get_by_role("button", name="Export my data").click()
    document = json.loads(Path(download.value.path()).read_text())
    assert document["profile"]["email"] == owner["email"]
    context.close()


def test_a_member_without_audit_read_sees_why_and_signing_out_forgets_the_key(
    cloud: dict[str, Any], browser: Any
) -> None:
    tenant = cloud["tenants"][0]
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, cloud, "member")
    page.get_by_role("link", name=tenant["name"]).click()
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "does not include the permission" in alert.inner_text()
    look(page, "09-no-permission")
    assert page.evaluate("() => localStorage.length") == 0
    assert page.evaluate("() => sessionStorage.getItem('ld-api-key')") == user(cloud, "member")["api_key"]
    page.get_by_role("button", name="Sign out").click()
    page.get_by_label("API key").wait_for()
    assert page.evaluate("() => sessionStorage.getItem('ld-api-key')") is None
    context.close()


def test_an_owner_invites_changes_a_role_and_revokes_an_auditor_only_reads(cloud: dict[str, Any], browser: Any) -> None:
    tenant = cloud["tenants"][0]
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, cloud, "owner")
    page.goto(f"{cloud['console_url']}#/tenants/{tenant['id']}/members")
    page.get_by_role("table", name="Members").wait_for()
    page.get_by_label("Email").fill("new.person@example.com")
    page.get_by_label("Role", exact=True).select_option("auditor")
    page.get_by_role("button", name="Invite").click()
    page.get_by_text("Invitation sent to new.person@example.com.").wait_for()
    invitations = page.get_by_role("table", name="Invitations")
    assert invitations.get_by_role("cell", name="new.person@example.com").is_visible()
    look(page, "10-members")

    auditor = user(cloud, "auditor")
    page.get_by_label(f"Role of {auditor['name']}").select_option("admin")
    page.get_by_text(f"{auditor['name']} is now admin.").wait_for()
    page.get_by_label(f"Role of {auditor['name']}").select_option("auditor")
    page.get_by_text(f"{auditor['name']} is now auditor.").wait_for()
    invitations.get_by_role("button", name="Revoke").first.click()
    page.get_by_text("The invitation to new.person@example.com was revoked.").wait_for()
    assert page.get_by_role("table", name="Invitations").get_by_role("cell", name="revoked").is_visible()

    page.get_by_role("button", name="Sign out").click()
    sign_in(page, cloud, "auditor")
    page.goto(f"{cloud['console_url']}#/tenants/{tenant['id']}/members")
    page.get_by_role("table", name="Members").wait_for()
    assert (
        page.get_by_role("button", name="Remove").count() == 0
        and page.get_by_role("button", name="Invite").count() == 0
    )
    look(page, "11-members-read-only")
    context.close()


def admin(cloud: dict[str, Any], *args: str) -> dict[str, Any]:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    command = [sys.executable, "-m", "audit_service.admin", "--local", "--state-file", str(cloud["state"]), *args]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True)
    return dict(json.loads(done.stdout))


def test_a_person_manages_keys_and_settings_and_deletes_their_account(cloud: dict[str, Any], browser: Any) -> None:
    tenant = cloud["tenants"][0]
    created = admin(cloud, "user", "create", "--name", "Lee Leaving", "--email", "lee.leaving@example.com")["user"]
    admin(cloud, "member", "add", "--tenant", str(tenant["id"]), "--user", str(created["id"]), "--role", "member")
    key = admin(cloud, "key", "create", "--user", str(created["id"]))["secret"]
    _link_identity(cloud, key, "github", "gh-lee-1")
    context = browser.new_context()
    page = context.new_page()
    page.goto(cloud["console_url"])
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Lee Leaving").click()
    page.get_by_role("heading", name="Your account").wait_for()

    page.get_by_label("Time zone (IANA, e.g. Europe/Warsaw)").fill("Europe/Warsaw")
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Times are now shown in Europe/Warsaw.").wait_for()

    page.get_by_label("New key's name").fill("laptop")
    page.get_by_role("button", name="Create key").click()
    shown = page.get_by_text('New key "laptop": ld_')
    shown.wait_for()
    secret = shown.inner_text().split(": ", 1)[1].split(" ", 1)[0]
    keys = page.get_by_role("table", name="API keys")
    assert keys.get_by_role("cell", name="laptop").is_visible() and secret not in keys.inner_text()
    look(page, "12-account")
    keys.get_by_role("row").filter(has_text="laptop").get_by_role("button", name="Revoke").click()
    page.get_by_text('The key "laptop" was revoked.').wait_for()

    identities = page.get_by_role("table", name="Linked identities")
    assert identities.get_by_role("cell", name="gh-lee-1").is_visible()
    identities.get_by_role("button", name="Unlink").click()
    page.get_by_text("The github account was unlinked.").wait_for()
    assert page.get_by_text("No linked identities.").is_visible()

    erase = page.get_by_role("button", name="Delete my account")
    assert erase.is_disabled()
    page.get_by_label("Confirmation").fill("erase my account")
    erase.click()
    page.get_by_role("heading", name="Your account was erased").wait_for(timeout=60_000)
    look(page, "13-erased")
    assert page.evaluate("() => sessionStorage.getItem('ld-api-key')") is None
    context.close()


def test_the_last_owner_is_told_why_the_account_cannot_be_deleted(cloud: dict[str, Any], browser: Any) -> None:
    context = browser.new_context()
    page = context.new_page()
    sign_in(page, cloud, "owner")
    page.get_by_role("link", name=user(cloud, "owner")["name"]).click()
    page.get_by_label("Confirmation").fill("erase my account")
    page.get_by_role("button", name="Delete my account").click()
    page.get_by_text("Another member must be made an owner of that tenant first.").wait_for()
    look(page, "14-last-owner")
    context.close()


def _link_identity(cloud: dict[str, Any], key: str, provider: str, external_id: str) -> None:
    """As the identity service would: the link is asked for, its secret read from the stand-in mailer's outbox."""
    import time
    import urllib.request

    def post(path: str, body: dict[str, Any]) -> dict[str, Any]:
        request = urllib.request.Request(
            cloud["api_url"] + path,
            data=json.dumps(body).encode(),
            method="POST",
            headers={"ld-api-key": key, "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            return dict(json.load(answer))

    pending = post("/users/me/identities", {"provider": provider, "external_id": external_id})
    outbox = Path(cloud["outbox"])
    deadline = time.monotonic() + 15
    while True:
        messages = [json.loads(line) for line in outbox.read_text().splitlines()] if outbox.exists() else []
        found = [m for m in messages if m["detail"].get("link_id") == pending["id"]]
        if found:
            break
        assert time.monotonic() < deadline, "the identity link message never reached the outbox"
        time.sleep(0.2)
    post(f"/users/me/identities/{pending['id']}/confirm", {"secret": found[-1]["content"]["secret"]})


def test_the_audit_tab_works_from_the_keyboard_alone(
    cloud: dict[str, Any], history: list[dict[str, Any]], browser: Any
) -> None:
    """Sign in, open the tenant, reach a record and open it: Tab, Enter and Space only, no mouse."""
    tenant = cloud["tenants"][0]
    page = browser.new_context().new_page()
    page.goto(cloud["console_url"])

    def tab_to(predicate: str, most: int = 60) -> None:
        for _ in range(most):
            page.keyboard.press("Tab")
            if page.evaluate(f"() => {{ const e = document.activeElement; return {predicate}; }}"):
                return
        pytest.fail(f"no focusable element where {predicate}")

    tab_to("e.id === 'key'")
    page.keyboard.type(user(cloud, "owner")["api_key"])
    page.keyboard.press("Enter")
    page.get_by_role("heading", name="Your tenants").wait_for()
    tab_to(f"e.textContent === {json.dumps(tenant['name'])}")
    page.keyboard.press("Enter")
    table = page.get_by_role("table", name="Audit records, newest first")
    table.wait_for()
    tab_to("e.tagName === 'TR'")
    page.keyboard.press("Enter")
    page.get_by_role("region", name="Record").wait_for()
    assert page.evaluate("() => document.activeElement.tagName") == "H2"  # focus moves to what opened
    tab_to("e.textContent === 'Next'")
    page.keyboard.press("Space")
    page.get_by_text("page 2").wait_for()


def _focused(locator: Any) -> bool:
    return bool(locator.evaluate("element => element === document.activeElement"))


def _reload_until(page: Any, row: Any, shows: str, timeout: float = 60) -> str:
    """The row's text once it matches the pattern ``shows``, reloading the tab as a person would."""
    import re
    import time

    deadline = time.monotonic() + timeout
    while True:
        text = str(row.inner_text())
        if re.search(shows, text):
            return text
        assert time.monotonic() < deadline, f"not /{shows}/ within {timeout} s: {text!r}"
        time.sleep(1)
        page.reload()
        row.wait_for()


def _delivered(text: str) -> int:
    import re

    found = re.search(r"(\d+) delivered", text)
    assert found, text
    return int(found.group(1))


def _create_stream(page: Any, name: str, url: str, secret: str) -> None:
    page.get_by_label("Name").fill(name)
    page.get_by_label("Destination").select_option("https")
    page.get_by_label("URL", exact=True).fill(url)
    page.get_by_label("Signing secret (32-256 characters)").fill(secret)
    page.get_by_label("Types (comma-separated; empty for all)").fill("deployment_updated")
    page.get_by_role("button", name="Create stream").click()
    page.get_by_text(f"{name} was created").wait_for()


def test_an_owner_creates_tests_pauses_replays_and_deletes_a_log_stream(
    cloud: dict[str, Any], history: list[dict[str, Any]], browser: Any
) -> None:
    """Issue #15 in the Console: streams to the local cloud's receiver (one with a wrong secret, which the
    receiver refuses), every action, and their health."""
    import time

    tenant, receiver = cloud["tenants"][0], cloud["receiver"]
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    sign_in(page, cloud, "owner")
    page.get_by_role("link", name=tenant["name"]).click()
    page.get_by_role("navigation", name="Tenant views").get_by_role("link", name="Streams").click()
    page.get_by_text("No log streams yet: create one below.").wait_for()
    assert "/streams" in page.url

    # Each destination type brings its own fields; Datadog's URL has its default.
    page.get_by_label("Destination").select_option("splunk_hec")
    assert page.get_by_label("HEC token").is_visible() and page.get_by_label("Signing secret").count() == 0
    page.get_by_label("Destination").select_option("datadog")
    assert page.get_by_label("URL (your Datadog site's)").input_value().startswith("https://http-intake.logs.")
    assert page.get_by_label("API key").is_visible()
    # No kind chosen: the API's 400 is shown next to the form, naming the field, and nothing is created.
    page.get_by_label("Name").fill("Console SIEM")
    page.get_by_label("Destination").select_option("https")
    page.get_by_label("URL", exact=True).fill(receiver["url"])
    page.get_by_label("Signing secret (32-256 characters)").fill(receiver["secret"])
    page.get_by_label("audit").uncheck()
    page.get_by_role("button", name="Create stream").click()
    errors = page.locator("#stream-errors")
    errors.get_by_text("kinds:").wait_for()
    assert "Not created: The request is not valid." in errors.inner_text()
    assert page.get_by_role("table", name="Log streams").count() == 0
    look(page, "15-streams-form-error")

    page.get_by_label("audit").check()
    page.get_by_label("Types (comma-separated; empty for all)").fill("deployment_updated")
    page.get_by_role("button", name="Create stream").click()
    page.get_by_text("Console SIEM was created").wait_for()
    assert errors.inner_text() == ""
    _create_stream(page, "Wrong secret", receiver["url"], "not-the-receivers-secret-0123456789")
    created = time.monotonic()
    table = page.get_by_role("table", name="Log streams")
    row = table.get_by_role("row").filter(has_text="Console SIEM")
    wrong = table.get_by_role("row").filter(has_text="Wrong secret")
    assert "Active" in row.inner_text() and receiver["url"] in row.inner_text() and "nothing yet" in row.inner_text()
    assert receiver["secret"] not in page.content()  # write-only: never shown again

    row.get_by_role("button", name="Send test").click()
    page.get_by_text("Test event delivered to Console SIEM: your endpoint answered 200 OK.").wait_for()
    wrong.get_by_role("button", name="Send test").click()
    page.get_by_text("Test event not delivered to Wrong secret: your endpoint answered 401 Unauthorized.").wait_for()

    # New records of its type reach it (the router sees a new stream within 5 s) and its health counts them;
    # the other stream's attempts are refused, and it says so.
    time.sleep(max(0, created + 5.5 - time.monotonic()))
    deployment = tenant["deployments"][0]
    _publish(
        cloud,
        [
            {
                "event_id": f"console-stream-{uuid.uuid4()}",
                "type": "deployment_updated",
                "tenant_id": tenant["id"],
                "author": {"id": 1, "name": "Jane Smith"},
                "deployment": deployment,
                "previous": {"replicas": n},
                "current": {"replicas": n + 1},
            }
            for n in range(3)
        ],
    )
    text = _reload_until(page, row, r"\b([3-9]|\d{2,}) delivered")
    assert _delivered(text) == 3 and "lag " in text and "nothing yet" not in text
    failing = _reload_until(page, wrong, r"Failing")
    assert "401 Unauthorized" in failing and "0 delivered" in failing

    row.get_by_role("button", name="Pause").click()
    page.get_by_text("Console SIEM is paused.").wait_for()
    assert "Paused" in row.inner_text() and "by an owner" in row.inner_text()
    assert _focused(row.get_by_role("button", name="Resume"))  # focus stays on the row's first action
    look(page, "16-streams-paused")
    row.get_by_role("button", name="Resume").click()
    page.get_by_text("Console SIEM is resumed").wait_for()
    assert "Active" in row.inner_text() and row.get_by_role("button", name="Pause").is_visible()

    # A replay from before the stream existed: the history's 23 updates are delivered too.
    since = (datetime.now(UTC) - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M")
    row.get_by_label("Replay from (UTC)").fill(since)
    row.get_by_role("button", name="Replay").click()
    page.get_by_text("Replay of Console SIEM queued").wait_for()
    assert _delivered(_reload_until(page, row, r"\b(2[6-9]|[3-9]\d|\d{3,}) delivered")) >= 3 + 23

    # A bucket in the customer's own account: the row shows what their role's trust policy needs.
    page.get_by_label("Name").fill("Customer bucket")
    page.get_by_label("Destination").select_option("s3")
    page.get_by_label("Bucket", exact=True).fill("acme-audit-logs")
    page.get_by_label("Prefix (optional)").fill("ld-audit")
    page.get_by_label("Role the service assumes").fill("arn:aws:iam::111111111111:role/ld-audit-log-stream-acme")
    page.get_by_role("button", name="Create stream").click()
    page.get_by_text("Customer bucket was created").wait_for()
    bucket = table.get_by_role("row").filter(has_text="Customer bucket")
    shown = bucket.inner_text()
    assert "s3://acme-audit-logs/ld-audit/" in shown and "role/ld-audit-log-stream-acme" in shown
    assert re.search(r"external ID: ld-[0-9a-f]{32}", shown), shown
    look(page, "18-streams-s3")

    for name, stream in (("Wrong secret", wrong), ("Console SIEM", row), ("Customer bucket", bucket)):
        stream.get_by_role("button", name="Delete").click()
        page.get_by_text(f"Delete {name}?").wait_for()
        assert _focused(stream.get_by_role("button", name="Cancel"))
        stream.get_by_role("button", name="Yes, delete").click()
        page.get_by_text(f"{name} was deleted.").wait_for()
    page.get_by_text("No log streams yet: create one below.").wait_for()
    page.context.close()


def test_an_auditor_has_no_streams_tab(cloud: dict[str, Any], browser: Any) -> None:
    tenant = cloud["tenants"][0]
    page = browser.new_context().new_page()
    sign_in(page, cloud, "auditor")
    page.get_by_role("link", name=tenant["name"]).click()
    tabs = page.get_by_role("navigation", name="Tenant views")
    tabs.get_by_role("link", name="Members").wait_for()
    assert tabs.get_by_role("link", name="Streams").count() == 0
    page.goto(f"{cloud['console_url']}#/tenants/{tenant['id']}/streams")  # a bookmark, say
    page.get_by_text("Log streams are managed by the tenant's owners").wait_for()
    assert page.get_by_role("button", name="Create stream").count() == 0
    look(page, "17-streams-not-owner")
    page.context.close()
