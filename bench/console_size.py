"""What a person's browser transfers for the Console's first view of a tenant's Audit tab, compressed.

``make run``'s process serves the Console and the API; Debian's chromium (through
Playwright) signs in with the demo owner's key and opens the tenant's Audit tab.
Every response is gzipped here as CloudFront would compress it, and summed.
Target (issue #13): at most 200 KB.
"""

from __future__ import annotations

import gzip
import json
import shutil
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

from bench.audit_paths import PRODUCT_PAGE_EXAMPLE, Row
from localcloud.process import client as local_client
from localcloud.process import running

TARGET_BYTES = 200 * 1024


def measure() -> list[Row]:
    from playwright.sync_api import sync_playwright

    sizes: dict[str, tuple[int, int]] = {}
    with tempfile.TemporaryDirectory() as state_dir, running(Path(state_dir)) as cloud, sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=shutil.which("chromium") or "/usr/bin/chromium", args=["--no-sandbox"]
        )
        page = browser.new_page()
        owner = next(u for u in cloud["users"] if u["role"] == "owner")
        _publish_a_page_of_history(cloud)
        page.goto(cloud["console_url"])
        page.get_by_label("API key").fill(owner["api_key"])
        page.get_by_role("heading", name="Sign in").wait_for()

        def record(response: object) -> None:
            body = response.body()  # type: ignore[attr-defined]
            sizes[response.url] = (len(body), len(gzip.compress(body)))  # type: ignore[attr-defined]

        page.on("response", record)
        page.reload()  # the first view, counted from the first byte
        page.get_by_label("API key").fill(owner["api_key"])
        page.get_by_role("button", name="Sign in").click()
        page.get_by_role("heading", name="Your tenants").wait_for()
        page.get_by_role("link", name=cloud["tenants"][0]["name"]).click()
        page.get_by_text("10 records · page 1").wait_for()
        browser.close()
    raw = sum(size for size, _ in sizes.values())
    compressed = sum(size for _, size in sizes.values())
    return [
        Row(
            f"Console: first Audit tab view, {len(sizes)} responses, gzip",
            f"{compressed / 1024:,.1f} KB",
            f"target {TARGET_BYTES // 1024} KB: {compressed / TARGET_BYTES:.2f}x ({raw / 1024:,.1f} KB uncompressed)",
            compressed <= TARGET_BYTES,
        )
    ]


def _publish_a_page_of_history(cloud: dict[str, Any]) -> None:
    """Ten product-page events, so that the first view shows a full page, as a real tenant's would."""
    bus = local_client(cloud, "events")
    tenant = cloud["tenants"][0]
    entries = [
        {
            "EventBusName": cloud["resources"]["AuditEventBus"],
            "Source": "bench.console",
            "DetailType": "Audit Event",
            "Detail": json.dumps(
                {
                    **PRODUCT_PAGE_EXAMPLE,
                    "event_id": str(uuid.uuid4()),
                    "tenant_id": tenant["id"],
                    "deployment": tenant["deployments"][0],
                    "previous": {"replicas": 3},
                    "current": {"replicas": 4},
                }
            ),
        }
        for _ in range(10)
    ]
    assert bus.put_events(Entries=entries)["FailedEntryCount"] == 0
    owner = next(u for u in cloud["users"] if u["role"] == "owner")
    deadline = time.monotonic() + 30
    while True:  # served before the browser asks for it
        request = urllib.request.Request(
            f"{cloud['api_url']}/audit/tenants/{tenant['id']}?results=1", headers={"ld-api-key": owner["api_key"]}
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            if json.load(answer)["total"] >= 10:
                return
        if time.monotonic() > deadline:
            raise TimeoutError("the events were not served within 30 s")
        time.sleep(0.2)
