"""The API against its own OpenAPI document, as a contract-testing tool sees it (schemathesis, issue #11).

Every operation of ``GET /openapi.json`` is exercised on the local cloud with
a fixed seed and a bounded number of cases: its examples and schema coverage
(each parameter at its edges, missing and malformed ones, no key), generated
requests, and the stateful phase that chains operations through the
document's links. The run fails on any 5xx and on any answer the document does
not describe: an undeclared status code, content type or a body that violates
its schema.

Two of schemathesis's checks are left out, on purpose:

- ``positive_data_acceptance`` expects every schema-valid request to succeed.
  Some of ours cannot be expressed in JSON Schema: opaque cursors and one-time
  secrets are valid only when we issued them, an email must be deliverable,
  "nothing to change" is refused. Those answer a documented 400.
- ``unsupported_method`` expects 405 for a method an operation does not have.
  API Gateway answers its own ``MISSING_AUTHENTICATION_TOKEN`` response (our
  404 JSON) there, and so does the local gateway.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.local import ROOT, start_local_cloud

pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("contract")]

SEED = "20261126"
EXCLUDED_CHECKS = "positive_data_acceptance,unsupported_method"


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    # thousands of requests from one address: above WAF's per-source and per-key limits of a deployment
    yield from start_local_cloud(
        tmp_path_factory,
        "RateLimitPerSource=10000000",
        "RateLimitPerApiKey=10000000",
        "SecurityEventsWindowSeconds=1",
    )


def run_schemathesis(cloud: dict[str, Any], document: str, *options: str) -> subprocess.CompletedProcess[str]:
    command = [
        os.path.join(os.path.dirname(sys.executable), "schemathesis"),
        "run",
        document,
        "--url",
        cloud["api_url"],
        "--seed",
        SEED,
        "--exclude-checks",
        EXCLUDED_CHECKS,
        "--no-color",
        *options,
    ]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=600, check=False)


def test_every_operation_keeps_to_the_document_with_a_valid_key(cloud: dict[str, Any]) -> None:
    # The owner: the last owner of the demo tenant, so an erasure attempt is refused rather than erasing the key.
    owner = next(u for u in cloud["users"] if u["role"] == "owner")
    key = f"ld-api-key: {owner['api_key']}"
    done = run_schemathesis(cloud, f"{cloud['api_url']}/openapi.json", "-H", key, "--max-examples", "10")
    assert done.returncode == 0, done.stdout[-20000:] + done.stderr[-5000:]
    assert "Tested: " in done.stdout
    selected = next(line for line in done.stdout.splitlines() if "Selected:" in line)
    tested = next(line for line in done.stdout.splitlines() if "Tested:" in line)
    assert selected.split(":")[1].split("/")[0].strip() == tested.split(":")[1].strip(), done.stdout[-3000:]


def test_every_operation_keeps_to_the_document_without_a_key(cloud: dict[str, Any]) -> None:
    # the document needs a key too: the committed copy, which a unit test keeps equal to the served one.
    # Without a key the gateway refuses every request at once (its identity source is missing: API Gateway
    # answers 401 without calling the authorizer or reading the request), so the coverage phase's ~1,600
    # edge cases (84 s here) would test that one path again and again: examples and a few generated requests
    # per operation show each one's 401 as documented.
    document = str(ROOT / "functions" / "get_openapi_document" / "openapi.json")
    done = run_schemathesis(cloud, document, "--max-examples", "3", "--phases", "examples,fuzzing")
    assert done.returncode == 0, done.stdout[-20000:] + done.stderr[-5000:]


def test_a_generated_client_makes_the_product_pages_calls(cloud: dict[str, Any], tmp_path: Path) -> None:
    """openapi-python-client builds a typed client from the document; it compiles and makes the four calls."""
    import compileall
    import importlib

    bin_dir = os.path.dirname(sys.executable)
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}  # it formats with ruff
    generated = subprocess.run(
        [
            os.path.join(bin_dir, "openapi-python-client"),
            "generate",
            "--path",
            str(ROOT / "functions" / "get_openapi_document" / "openapi.json"),
            "--meta",
            "none",
            "--output-path",
            str(tmp_path / "audit_client"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert generated.returncode == 0 and "Warning" not in generated.stdout, generated.stdout + generated.stderr
    assert compileall.compile_dir(str(tmp_path / "audit_client"), quiet=1)
    sys.path.insert(0, str(tmp_path))
    try:
        client_module = importlib.import_module("audit_client.client")
        api = importlib.import_module("audit_client.api.default")
        owner = next(u for u in cloud["users"] if u["role"] == "owner")
        client = client_module.AuthenticatedClient(
            base_url=cloud["api_url"], token=owner["api_key"], prefix="", auth_header_name="ld-api-key"
        )
        tenant_id = cloud["tenants"][0]["id"]

        types = importlib.import_module(f"{api.__name__}.list_audit_types").sync(client=client)
        assert {"deployment_created"} <= {t.type_ for t in types}  # the generator renames "type"
        log = importlib.import_module(f"{api.__name__}.list_tenant_audit_events").sync(
            tenant_id, client=client, page=1, results=10
        )
        assert log.page == 1 and log.results == 10 and log.total >= len(log.data)
        activity = importlib.import_module(f"{api.__name__}.list_user_activity").sync(client=client, page=1, results=10)
        assert activity.page == 1 and activity.total >= 0
        export = importlib.import_module(f"{api.__name__}.export_account").sync(client=client)
        assert export.profile["email"] == owner["email"] and export.user_id == owner["id"]
    finally:
        sys.path.remove(str(tmp_path))
        for name in [module for module in sys.modules if module.startswith("audit_client")]:
            del sys.modules[name]
