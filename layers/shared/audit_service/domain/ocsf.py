"""Records as OCSF 1.1.0 events, for a stream whose format is ``ocsf`` (docs/api.md, Log streams: OCSF).

Pure mapping from a record as the API shows it (``kind`` and its view) to one OCSF event:

- audit, a change to an account, a member, an API key, an identity, a session, an invitation or settings:
  Account Change (3001), activity Create 1, Delete 6, else Other 99;
- audit, any other type (a tenant's resources, plans, event types, streams): API Activity (6003), activity
  Create 1, Update 3, Delete 4, else Other 99;
- access (someone read sensitive data): API Activity (6003), Read 2;
- security ``authentication_failed``: Authentication (3002), Logon 1, status Failure;
- security ``permission_denied`` and ``log_stream_paused``: API Activity (6003), Other 99, status Failure.

``type_uid`` is ``class_uid * 100 + activity_id``; ``metadata.uid`` is the record's id (dedupe on it);
``time`` is the record's time in epoch milliseconds; what OCSF has no attribute for is kept in
``unmapped`` (the record as the API shows it stays the source of truth).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

OCSF_VERSION = "1.1.0"
PRODUCT = {"name": "Audit & Compliance", "vendor_name": "LaserData"}

ACCOUNT_CHANGE, AUTHENTICATION, API_ACTIVITY = 3001, 3002, 6003
_CATEGORY = {ACCOUNT_CHANGE: 3, AUTHENTICATION: 3, API_ACTIVITY: 6}  # Identity & Access Mgmt; Application Activity
_ACCOUNT_RESOURCES = ("member_", "user_", "api_key_", "identity_", "session_", "invitation_", "settings_", "account_")
_ACCOUNT_ACTIVITY = {"created": 1, "added": 1, "linked": 1, "deleted": 6, "removed": 6, "revoked": 6, "erased": 6}
_API_ACTIVITY = {"created": 1, "added": 1, "registered": 1, "updated": 3, "changed": 3, "deleted": 4, "removed": 4}
SUCCESS, FAILURE = 1, 2
INFORMATIONAL, MEDIUM = 1, 3


def _millis(timestamp: str) -> int:
    return int(datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp() * 1000)


def _action(event_type: str) -> str:
    """The last word of a ``<resource>_<action>`` type, or the longest known action it ends with."""
    known = sorted({*_ACCOUNT_ACTIVITY, *_API_ACTIVITY}, key=len, reverse=True)
    return next((action for action in known if event_type.endswith(f"_{action}")), event_type.rsplit("_", 1)[-1])


def _user(ref: dict[str, Any] | None) -> dict[str, Any] | None:
    if not ref:
        return None
    user = {"uid": str(ref["id"])}
    if ref.get("name"):
        user["name"] = ref["name"]
    return user


def _account(record: dict[str, Any]) -> dict[str, Any] | None:
    """The account changed, where the record's values name it (``user_id``, as member changes do)."""
    for part in ("current", "previous"):
        values = record.get(part)
        if isinstance(values, dict) and values.get("user_id") is not None:
            return {"uid": str(values["user_id"])}
    return None


def _event(
    class_uid: int,
    activity_id: int,
    *,
    record_id: str,
    tenant_id: int,
    timestamp: str,
    status_id: int = SUCCESS,
    severity_id: int = INFORMATIONAL,
    **fields: Any,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "category_uid": _CATEGORY[class_uid],
        "class_uid": class_uid,
        "activity_id": activity_id,
        "type_uid": class_uid * 100 + activity_id,
        "time": _millis(timestamp),
        "severity_id": severity_id,
        "status_id": status_id,
        "metadata": {
            "version": OCSF_VERSION,
            "uid": record_id,
            "product": PRODUCT,
            "tenant_uid": str(tenant_id),
        },
    }
    event.update({name: value for name, value in fields.items() if value is not None})
    return event


def _source(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "src_endpoint": {"ip": record["source_ip"]} if record.get("source_ip") else None,
        "http_request": {"user_agent": record["user_agent"]} if record.get("user_agent") else None,
    }


def to_ocsf(kind: str, record: dict[str, Any], *, tenant_id: int, replayed: bool) -> dict[str, Any]:
    """One record (``kind``: audit, access, security; ``record``: as the API shows it) as an OCSF event."""
    common = {"record_id": record["id"], "tenant_id": tenant_id, "timestamp": record["timestamp"]}
    unmapped = {"kind": kind, "replayed": replayed, "record": record}
    if kind == "audit":
        event_type = str(record["type"])
        action = _action(event_type)
        actor = {"user": _user(record.get("author"))}
        if event_type.startswith(_ACCOUNT_RESOURCES):
            return _event(
                ACCOUNT_CHANGE,
                _ACCOUNT_ACTIVITY.get(action, 99),
                **common,
                actor=actor,
                user=_account(record),
                api={"operation": event_type, "request": {"uid": record.get("request_id")}},
                **_source(record),
                unmapped=unmapped,
            )
        return _event(
            API_ACTIVITY,
            _API_ACTIVITY.get(action, 99),
            **common,
            actor=actor,
            api={"operation": event_type, "request": {"uid": record.get("request_id")}},
            **_source(record),
            unmapped=unmapped,
        )
    if kind == "access":
        return _event(
            API_ACTIVITY,
            2,
            **common,
            actor={"user": _user(record.get("actor"))},
            api={"operation": record["action"], "request": {"uid": record.get("request_id")}},
            http_request={
                "http_method": record.get("method"),
                "url": {"path": record.get("path")},
                "user_agent": record.get("user_agent"),
            },
            src_endpoint={"ip": record["source_ip"]} if record.get("source_ip") else None,
            unmapped=unmapped,
        )
    if record["type"] == "authentication_failed":
        return _event(
            AUTHENTICATION,
            1,
            **common,
            status_id=FAILURE,
            severity_id=MEDIUM,
            status_detail=record.get("reason"),
            count=record.get("count"),
            **_source(record),
            unmapped=unmapped,
        )
    return _event(
        API_ACTIVITY,
        99,
        **common,
        status_id=FAILURE,
        severity_id=MEDIUM,
        actor={"user": _user(record.get("actor"))} if record.get("actor") else None,
        api={"operation": record["type"], "request": {"uid": record.get("request_id")}},
        status_detail=record.get("permission") or record.get("reason"),
        count=record.get("count"),
        **_source(record),
        unmapped=unmapped,
    )
