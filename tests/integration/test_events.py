"""Every sample event under ``events/`` runs through its function's handler.

The same files drive ``sam local invoke -e events/<function>/<name>.json``.
Each file has an expected outcome here, and a new file without one fails.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from audit_service import container
from audit_service.crypto.hashing import api_key_hash
from audit_service.domain.models import ApiKey, ApiKeyStatus, utc_now
from localcloud.pollers import Pollers
from localcloud.runtime import FunctionError, Runtime
from tests.conftest import REGION, clients, log_items

EVENTS = Path(__file__).resolve().parents[2] / "events"
FUNCTIONS = {
    "authorizer": "AuthorizerFunction",
    "list_audit_types": "ListAuditTypesFunction",
    "ingest_audit_events": "IngestAuditEventsFunction",
    "list_tenant_audit_events": "ListTenantAuditEventsFunction",
    "list_user_activity": "ListUserActivityFunction",
    "list_tenant_access_log": "ListTenantAccessLogFunction",
    "list_tenant_security_events": "ListTenantSecurityEventsFunction",
    "list_tenant_members": "ListTenantMembersFunction",
    "change_member_role": "ChangeMemberRoleFunction",
    "remove_member": "RemoveMemberFunction",
    "create_invitation": "CreateInvitationFunction",
    "list_invitations": "ListInvitationsFunction",
    "get_invitation": "GetInvitationFunction",
    "revoke_invitation": "RevokeInvitationFunction",
    "accept_invitation": "AcceptInvitationFunction",
    "get_own_profile": "GetOwnProfileFunction",
    "update_own_profile": "UpdateOwnProfileFunction",
    "update_own_settings": "UpdateOwnSettingsFunction",
    "create_own_api_key": "CreateOwnApiKeyFunction",
    "list_own_sessions": "ListOwnSessionsFunction",
    "seal_audit_log": "SealAuditLogFunction",
    "verify_tenant_audit_log": "VerifyTenantAuditLogFunction",
    "export_tenant_audit_log": "ExportTenantAuditLogFunction",
    "get_audit_record_proof": "GetAuditRecordProofFunction",
}

# file -> expected outcome: ("allow", None) | ("unauthorized", reason) | (status code, None)
EXPECTED: dict[str, tuple[Any, str | None]] = {
    "authorizer/valid_key.json": ("allow", None),
    "authorizer/missing_key.json": ("unauthorized", "missing_api_key"),
    "authorizer/malformed_key.json": ("unauthorized", "malformed_api_key"),
    "authorizer/unknown_key.json": ("unauthorized", "unknown_api_key"),
    "list_audit_types/get_as_auditor.json": (200, None),
    "list_audit_types/get_without_audit_read.json": (403, None),
    "ingest_audit_events/sqs_batch.json": ("batch", "1 stored, 1 rejected"),
    "list_tenant_audit_events/get_page.json": (200, None),
    "list_tenant_audit_events/get_other_tenant.json": (403, None),
    "list_user_activity/get_page.json": (200, None),
    "list_tenant_access_log/get_page.json": (200, None),
    "list_tenant_security_events/get_page.json": (200, None),
    "list_tenant_members/get.json": (200, None),
    "change_member_role/make_auditor.json": (200, None),
    "change_member_role/unknown_role.json": (400, None),
    "remove_member/remove_member.json": (204, None),
    "remove_member/last_owner.json": (409, None),
    "create_invitation/invite_auditor.json": (201, None),
    "create_invitation/malformed_email.json": (400, None),
    "list_invitations/get.json": (200, None),
    "get_invitation/missing.json": (404, None),
    "revoke_invitation/missing.json": (404, None),
    "accept_invitation/not_addressed_to_caller.json": (404, None),
    "get_own_profile/get.json": (200, None),
    "update_own_profile/malformed_email.json": (400, None),
    "update_own_settings/set_timezone.json": (200, None),
    "create_own_api_key/create.json": (201, None),
    "list_own_sessions/get.json": (200, None),
    # a record written straight into the table, not by the service: left unsealed
    "seal_audit_log/forged_insert.json": ("stream", "rejected"),
    # an update and a delete on the put-only table (counted), and a TTL expiry (not)
    "seal_audit_log/changes_behind_the_service.json": ("stream", "changed"),
    "verify_tenant_audit_log/get.json": (200, None),
    "export_tenant_audit_log/get.json": (200, None),
    "get_audit_record_proof/missing.json": (404, None),
    # PutEvents entries for `aws events put-events --entries file://...` (bus name of `make run`)
    "bus/put_events_local.json": ("bus", None),
}


def test_every_event_file_has_an_expectation() -> None:
    files = {path.relative_to(EVENTS).as_posix() for path in EVENTS.rglob("*.json")}
    assert files == set(EXPECTED)
    assert {name.split("/")[0] for name in files} <= {*FUNCTIONS, "bus"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_event_runs_through_its_handler(name: str, runtime: Runtime, demo: dict[str, Any]) -> None:
    event = json.loads((EVENTS / name).read_text())
    # The sample valid key belongs to the demo auditor (user 2 of tenant 1).
    container.accounts_repository().put_api_key(
        ApiKey(
            key_id="0a1b2c3d4e5f",
            key_hash=api_key_hash(
                json.loads((EVENTS / "authorizer/valid_key.json").read_text())["headers"]["ld-api-key"]
            ),
            user_id=2,
            name="sample",
            status=ApiKeyStatus.ACTIVE,
            created_at=utc_now(),
        )
    )
    expected, reason = EXPECTED[name]
    if expected == "bus":
        _publish_entries(event, runtime)
        return
    function = FUNCTIONS[name.split("/", maxsplit=1)[0]]

    if expected == "unauthorized":
        with pytest.raises(FunctionError, match=r"^Unauthorized$"):
            runtime.invoke(function, event)
        Pollers(runtime.stack.mappings, runtime, clients, REGION).drain()
        (recorded,) = [
            e
            for e in container.security_events().newest(None)
            if e.request.request_id == event["requestContext"]["requestId"]
        ]
        assert recorded.details["reason"] == reason
    elif expected == "batch":
        assert runtime.invoke(function, event) == {"batchItemFailures": []}
        stored = log_items(runtime.stack, "audit")
        assert len(stored) == 1
        dead = clients("sqs").receive_message(QueueUrl=runtime.stack.ref("AuditIngestDeadLetterQueue"))
        assert len(dead["Messages"]) == 1
    elif expected == "stream":
        result = runtime.invoke(function, event)
        assert (result["rejected"], result["changed_behind_service"]) == ((1, 0) if reason == "rejected" else (0, 2))
        assert (result["sealed"], result["checkpoints"]) == (0, [])
    elif expected == "allow":
        policy = runtime.invoke(function, event)
        assert policy["principalId"] == "2"
        assert policy["policyDocument"]["Statement"][0]["Effect"] == "Allow"
        assert json.loads(policy["context"]["roles"]) == {"1": "auditor"}
    else:
        response = runtime.invoke(function, event)
        assert response["statusCode"] == expected, response
        if response["body"]:
            json.loads(response["body"])


def _publish_entries(entries: list[dict[str, Any]], runtime: Runtime) -> None:
    bus = runtime.stack.ref("AuditEventBus")
    response = clients("events").put_events(Entries=[{**entry, "EventBusName": bus} for entry in entries])
    assert response["FailedEntryCount"] == 0
    Pollers(runtime.stack.mappings, runtime, clients, REGION).drain()
    stored = {i["sk"]["S"] for i in log_items(runtime.stack, "audit")}
    assert stored == {json.loads(entry["Detail"])["event_id"] for entry in entries}
