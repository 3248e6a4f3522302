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
    # the document needs a key too: the committed copy, which a unit test keeps equal to the served one
    document = str(ROOT / "functions" / "get_openapi_document" / "openapi.json")
    done = run_schemathesis(cloud, document, "--max-examples", "3", "--phases", "examples,coverage,fuzzing")
    assert done.returncode == 0, done.stdout[-20000:] + done.stderr[-5000:]
