"""The commands the README and docs/operations.md show, run as written against ``make run``'s process.

A new user copies them into a shell: they must work on any date, in the order
shown. Each block runs in bash in a folder laid out like a clone after ``make
run`` (``.local`` is the running cloud's state folder, ``.venv`` and ``events``
the repository's); only the documented ports are replaced by the test cloud's
free ones. The operator's commands are documented for ``--stack``; they run
with ``--local``, which the same page says is equivalent, and their ``<...>``
placeholders are filled from what earlier commands printed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from localcloud.process import client as local_client
from tests.e2e.local import ROOT, start_local_cloud

README = ROOT / "README.md"
OPERATIONS = ROOT / "docs/operations.md"
BUS_EXAMPLE_EVENT_ID = "c1d2e3f4-0000-4000-8000-00000000bus1"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    yield from start_local_cloud(tmp_path_factory)


@pytest.fixture(scope="module")
def clone(cloud: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A working folder laid out like the repository after ``make run``."""
    folder = tmp_path_factory.mktemp("clone")
    (folder / ".local").symlink_to(Path(cloud["state"]).parent)
    (folder / ".venv").symlink_to(ROOT / ".venv")
    (folder / "events").symlink_to(ROOT / "events")
    return folder


def blocks(document: Path) -> list[str]:
    """The shell blocks (fenced without a language) of a Markdown document."""
    return re.findall(r"^```\n(.*?)^```", document.read_text(), flags=re.MULTILINE | re.DOTALL)


def on_test_ports(script: str, cloud: dict[str, Any]) -> str:
    return script.replace("http://127.0.0.1:3000", cloud["api_url"]).replace(
        "http://127.0.0.1:4566", cloud["aws_endpoint_url"]
    )


def bash(script: str, folder: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    return subprocess.run(
        ["bash", "-c", "set -euo pipefail\n" + script],
        cwd=folder,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def test_the_readme_walkthrough_runs_as_written(cloud: dict[str, Any], clone: Path) -> None:
    walkthrough = [b for b in blocks(README) if ("127.0.0.1:3000" in b or "--local" in b) and not b.startswith("make ")]
    assert len(walkthrough) >= 4, "the README's walkthrough blocks were not found"
    done = bash(on_test_ports("\n".join(walkthrough), cloud), clone)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    # The bus example's event is served (it carries no date of its own: it happened when it was published).
    assert BUS_EXAMPLE_EVENT_ID in done.stdout
    # The offline verification printed its verdict on the exported bundle (exit 0: verified).
    assert re.search(r"\"verified\":\s*true", done.stdout), done.stdout[-2000:]
    # The invitee accepted with the secret from the outbox and is now an auditor of tenant 1.
    assert re.search(r'"role":\s*"auditor"', done.stdout), done.stdout[-2000:]


def test_examples_carry_no_date_that_ages() -> None:
    """An example with a fixed time becomes a record already past retention once the date is old enough."""
    for path in (ROOT / "events/bus").glob("*.json"):
        for entry in json.loads(path.read_text()):
            assert "Time" not in entry, path
            assert not re.search(r"\d{4}-\d{2}-\d{2}", entry["Detail"]), f"{path}: a fixed date"


def _call(cloud: dict[str, Any], path: str, key: str) -> Any:
    request = urllib.request.Request(cloud["api_url"] + path, headers={"ld-api-key": key})
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.load(answer)


def _publish_one(cloud: dict[str, Any], tenant: int) -> None:
    bus = local_client(cloud, "events")
    detail = {
        "event_id": f"operator-{time.time_ns()}",
        "type": "deployment_created",
        "tenant_id": tenant,
        "author": {"id": 1, "name": "Jane Smith"},
        "current": {"name": "api"},
        "occurred_at": datetime.now(UTC).isoformat(),
    }
    entry = {"Source": "docs", "DetailType": "Audit Event", "EventBusName": cloud["resources"]["AuditEventBus"]}
    assert bus.put_events(Entries=[{**entry, "Detail": json.dumps(detail)}])["FailedEntryCount"] == 0


def _operator_inputs(cloud: dict[str, Any], clone: Path) -> dict[str, str]:
    """The files the operator's commands read, made as the page says, and an account to erase."""
    owner = next(u for u in cloud["users"] if u["role"] == "owner")
    tenant = cloud["tenants"][0]["id"]
    _publish_one(cloud, tenant)  # a record to prove, whether or not the README's walkthrough ran first
    deadline = time.monotonic() + 20
    while not (page := _call(cloud, f"/audit/tenants/{tenant}?results=1", owner["api_key"]))["data"]:
        assert time.monotonic() < deadline, "the published event was not served"
        time.sleep(0.5)
    record = page["data"][0]
    deadline = time.monotonic() + 20
    while True:  # 409 not_sealed_yet until the sealer has reached it (a second or two locally)
        try:
            proof = _call(cloud, f"/audit/tenants/{tenant}/proofs/{record['id']}", owner["api_key"])
            break
        except urllib.error.HTTPError as error:
            assert error.code == 409 and time.monotonic() < deadline, error
            time.sleep(0.5)
    (clone / "proof.json").write_text(json.dumps(proof))
    # exported once the record is sealed: the bundle then holds a checkpoint to verify
    (clone / "bundle.json").write_text(json.dumps(_call(cloud, f"/audit/tenants/{tenant}/export", owner["api_key"])))
    kms = local_client(cloud, "kms")
    (clone / "signing-key.der").write_bytes(kms.get_public_key(KeyId=cloud["resources"]["SigningKey"])["PublicKey"])
    fingerprint = _call(cloud, f"/audit/tenants/{tenant}/verify", owner["api_key"])["key_fingerprint"]
    return {"<SHA256:... from GET verify>": fingerprint}


def test_every_documented_operator_command_runs(cloud: dict[str, Any], clone: Path) -> None:
    lines = [
        line.split("  #")[0].strip()
        for block in blocks(OPERATIONS)
        if "ld-audit-admin" in block
        for line in block.splitlines()
        if "ld-audit-admin" in line
    ]
    assert any("--stack" in line for line in lines) and any("--local" in line for line in lines)
    values = _operator_inputs(cloud, clone)
    ran = 0
    for line in lines:
        command = re.sub(r"^(\.venv/bin/)?ld-audit-admin", ".venv/bin/ld-audit-admin", line)
        command = command.replace("--stack audit-compliance-dev", "--local")
        if "<erased user id>" in command:  # an account of its own, created the way the page shows
            values["<erased user id>"] = str(
                _admin_json(clone, _user_create("Erin Erased", "erin@example.com"))["user"]["id"]
            )
        for placeholder, value in values.items():
            command = command.replace(placeholder, value)
        assert "<" not in command, f"a placeholder this test cannot fill: {command}"
        done = bash(command, clone)
        assert done.returncode == 0, f"{command}\n{done.stdout}{done.stderr}"
        assert "Traceback" not in done.stderr, f"{command}\n{done.stderr}"
        ran += 1
        printed = _json_or_none(done.stdout)
        if isinstance(printed, dict):  # the ids the next commands name
            for name, placeholder in (("tenant", "<tenant id>"), ("user", "<user id>")):
                if command.split()[1:4] == ["--local", name, "create"]:
                    values[placeholder] = str(printed[name]["id"])
            if "api_key" in printed:
                values["<key id>"] = str(printed["api_key"]["key_id"])
    assert ran == len(lines)


def _user_create(name: str, email: str) -> str:
    return f'.venv/bin/ld-audit-admin --local user create --name "{name}" --email {email}'


def _admin_json(clone: Path, command: str) -> Any:
    done = bash(command, clone)
    assert done.returncode == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def _json_or_none(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return None
