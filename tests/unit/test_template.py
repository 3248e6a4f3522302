"""Checks on template.yaml itself: least privilege and the audit log's immutability."""

from __future__ import annotations

import re
from typing import Any

import pytest

from audit_service.domain.models import PLAN_RETENTION_DAYS
from localcloud.template import function_properties, load

TEMPLATE = load()
RESOURCES = TEMPLATE["Resources"]
FUNCTIONS = [name for name, r in RESOURCES.items() if r["Type"] == "AWS::Serverless::Function"]
MUTATING_LOG_ACTIONS = {
    "dynamodb:UpdateItem",
    "dynamodb:DeleteItem",
    "dynamodb:BatchWriteItem",
    "dynamodb:PartiQLUpdate",
    "dynamodb:PartiQLDelete",
    "dynamodb:*",
}


def _statements(function: str) -> list[dict[str, Any]]:
    statements: list[dict[str, Any]] = []
    for policy in function_properties(TEMPLATE, function).get("Policies", []):
        assert isinstance(policy, dict) and "Statement" in policy, (
            f"{function}: use explicit statements, not SAM policy templates (they grant more than a function uses)"
        )
        statements.extend(policy["Statement"])
    return statements


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _referenced(resource: Any) -> str | None:
    if isinstance(resource, dict) and "Fn::GetAtt" in resource:
        return str(resource["Fn::GetAtt"][0])
    if isinstance(resource, dict) and "Fn::Sub" in resource:
        text = resource["Fn::Sub"] if isinstance(resource["Fn::Sub"], str) else resource["Fn::Sub"][0]
        names = [m.split(".", 1)[0] for m in re.findall(r"\$\{([^}]+)\}", text) if not m.startswith("AWS::")]
        return names[0] if names else None
    if isinstance(resource, dict) and "Ref" in resource:
        return str(resource["Ref"])
    return None


@pytest.mark.parametrize("function", FUNCTIONS)
def test_roles_name_only_specific_actions_and_resources(function: str) -> None:
    for statement in _statements(function):
        for action in _as_list(statement["Action"]):
            assert "*" not in action, f"{function}: wildcard action {action}"
        for resource in _as_list(statement["Resource"]):
            assert resource != "*", f"{function}: wildcard resource"
            assert _referenced(resource) in RESOURCES, f"{function}: resource {resource} is not one of ours"


def test_no_role_can_modify_or_delete_audit_log_records() -> None:
    for function in FUNCTIONS:
        for statement in _statements(function):
            targets = {_referenced(r) for r in _as_list(statement["Resource"])}
            for table in {"AuditLogTable", "CheckpointsTable"} & targets:
                assert not MUTATING_LOG_ACTIONS & set(_as_list(statement["Action"])), (
                    f"{function} may change or delete items of {table}"
                )


def test_checkpoints_outlive_every_record_and_their_anchors_cannot_be_deleted() -> None:
    parameters = TEMPLATE["Parameters"]
    assert parameters["CheckpointRetentionDays"]["MinValue"] > parameters["PlatformRetentionDays"]["Default"]
    assert parameters["PlatformRetentionDays"]["MinValue"] > max(PLAN_RETENTION_DAYS.values())
    bucket = RESOURCES["AnchorBucket"]
    assert bucket["DeletionPolicy"] == "Retain"
    lock = bucket["Properties"]["ObjectLockConfiguration"]
    assert lock["Rule"]["DefaultRetention"] == {"Mode": "COMPLIANCE", "Days": {"Ref": "CheckpointRetentionDays"}}
    assert RESOURCES["CheckpointsTable"]["DeletionPolicy"] == "Retain"
    stream = function_properties(TEMPLATE, "SealAuditLogFunction")["Events"]["Stream"]["Properties"]
    assert stream["Stream"] == {"Fn::GetAtt": ["AuditLogTable", "StreamArn"]}
    assert "OnFailure" in stream["DestinationConfig"]


def test_every_table_is_encrypted_with_the_customer_managed_key() -> None:
    tables = [r for r in RESOURCES.values() if r["Type"] == "AWS::DynamoDB::Table"]
    assert tables
    for table in tables:
        sse = table["Properties"]["SSESpecification"]
        assert sse == {"SSEEnabled": True, "SSEType": "KMS", "KMSMasterKeyId": {"Ref": "DataKey"}}


def test_audit_log_table_expires_records_by_ttl() -> None:
    ttl = RESOURCES["AuditLogTable"]["Properties"]["TimeToLiveSpecification"]
    assert ttl == {"AttributeName": "expires_at", "Enabled": True}


def test_functions_run_python_3_13_on_arm64_with_the_shared_layer() -> None:
    for function in FUNCTIONS:
        props = function_properties(TEMPLATE, function)
        assert props["Runtime"] == "python3.13"
        assert props["Architectures"] == ["arm64"]
        assert {"Ref": "SharedLayer"} in props["Layers"]
    assert RESOURCES["SharedLayer"]["Metadata"]["BuildMethod"] == "python3.13"


def test_every_route_is_behind_the_api_key_authorizer() -> None:
    api = RESOURCES["Api"]["Properties"]["Auth"]
    assert api["DefaultAuthorizer"] == "ApiKeyAuthorizer"
    assert api["Authorizers"]["ApiKeyAuthorizer"]["FunctionPayloadType"] == "REQUEST"
    for function in FUNCTIONS:
        for event in function_properties(TEMPLATE, function).get("Events", {}).values():
            if event["Type"] == "Api":
                assert "Auth" not in event["Properties"], f"{function} overrides the authorizer"
