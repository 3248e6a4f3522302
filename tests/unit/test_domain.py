"""Pure domain rules: the catalog, roles and permissions, ids and times."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from audit_service.domain.catalog import AUDIT_EVENT_TYPES, is_known_type, list_types
from audit_service.domain.models import PLAN_RETENTION_DAYS, Plan, iso_utc, new_record_id
from audit_service.domain.permissions import ROLE_PERMISSIONS, Permission, Role, role_grants
from audit_service.services.auth import KEY_PATTERN, generate_api_key_secret

DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_catalog_covers_every_resource_kind_of_the_product_page() -> None:
    kinds = {entry.resource for entry in list_types()}
    assert {
        "tenant",
        "division",
        "environment",
        "deployment",
        "member",
        "invitation",
        "api_key",
        "user",
        "settings",
    } <= kinds
    for kind in ("tenant", "division", "environment", "deployment", "user"):
        for action in ("created", "updated", "deleted"):
            assert is_known_type(f"{kind}_{action}")


def test_catalog_names_are_the_product_page_style() -> None:
    assert AUDIT_EVENT_TYPES["deployment_created"].name == "Deployment Created"
    assert AUDIT_EVENT_TYPES["api_key_revoked"].name == "API Key Revoked"
    assert all(re.fullmatch(r"[a-z_]+", t) for t in AUDIT_EVENT_TYPES)
    assert not is_known_type("deployment_exploded")


def test_some_role_has_audit_read_and_some_does_not() -> None:
    assert role_grants(Role.AUDITOR, Permission.AUDIT_READ)
    assert not role_grants(Role.MEMBER, Permission.AUDIT_READ)
    assert not role_grants("no-such-role", Permission.TENANT_READ)


def test_docs_reproduce_the_role_table() -> None:
    text = (DOCS / "api.md").read_text()
    for role, permissions in ROLE_PERMISSIONS.items():
        row = next(line for line in text.splitlines() if line.startswith(f"| `{role.value}`"))
        for permission in Permission:
            cell_marked = f"`{permission.value}`" in row
            assert cell_marked == (permission in permissions), f"docs/api.md row for {role.value}: {permission}"


def test_plan_retention_matches_the_product_page() -> None:
    assert PLAN_RETENTION_DAYS == {Plan.BASIC: 7, Plan.PRO: 90, Plan.ENTERPRISE: 365}


def test_timestamps_are_utc_with_milliseconds() -> None:
    assert iso_utc(datetime(2025, 1, 15, 10, 30, 0, 123456, tzinfo=UTC)) == "2025-01-15T10:30:00.123Z"


def test_record_ids_sort_by_time_and_do_not_repeat() -> None:
    early = new_record_id(datetime(2025, 1, 1, tzinfo=UTC))
    late = new_record_id(datetime(2026, 1, 1, tzinfo=UTC))
    assert early < late
    assert len({new_record_id() for _ in range(1000)}) == 1000


def test_api_key_secrets_are_256_bit_and_well_formed() -> None:
    secrets = {generate_api_key_secret() for _ in range(100)}
    assert len(secrets) == 100
    assert all(KEY_PATTERN.match(secret) for secret in secrets)
