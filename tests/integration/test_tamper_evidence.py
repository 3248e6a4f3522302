"""Tamper evidence: the sealer, the verify route, inclusion proofs, export bundles and the offline verifier.

Every tamper case changes the table (or the checkpoints) directly, behind the
service's back, the way an operator or a compromised role with table access
could; each must be caught and named, and a clean log must verify as clean,
including after records expired under the tenant's plan.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from audit_service import container
from audit_service.admin import cli
from audit_service.dal.checkpoints import decode_entries, encode_entries
from audit_service.integrity.bundle import verify_bundle, verify_proof
from audit_service.integrity.records import Entry
from audit_service.services.pagination import TimeRange
from localcloud.pollers import Pollers
from localcloud.provision import Stack
from localcloud.runtime import Runtime
from tests.conftest import REGION, Api, clients, user
from tests.integration.test_audit_log import product_page_event, publish

pytestmark = pytest.mark.xdist_group("tamper")


@pytest.fixture
def pollers(runtime: Runtime, stack: Stack) -> Pollers:
    return Pollers(stack.mappings, runtime, clients, REGION)


@pytest.fixture
def tenant(demo: dict[str, Any]) -> int:
    return int(demo["tenants"][0]["id"])


@pytest.fixture
def auditor(demo: dict[str, Any]) -> str:
    return str(user(demo, "auditor")["api_key"])


def events(tenant_id: int, count: int, *, start: datetime | None = None) -> list[dict[str, Any]]:
    start = start or datetime.now(UTC) - timedelta(minutes=count)
    return [
        product_page_event(tenant_id, occurred_at=(start + timedelta(minutes=i)).isoformat(), request_id=f"req-{i}")
        for i in range(count)
    ]


@pytest.fixture
def sealed(stack: Stack, pollers: Pollers, tenant: int) -> list[dict[str, Any]]:
    """Twelve audit events, ingested and sealed; returns them oldest first."""
    published = events(tenant, 12)
    publish(stack, *published[:6])
    pollers.drain()
    publish(stack, *published[6:])
    pollers.drain()
    return published


def verify(api: Api, tenant_id: int, key: str, query: str = "") -> dict[str, Any]:
    status, body = api.call("GET", f"/audit/tenants/{tenant_id}/verify{query}", key)
    assert status == 200, body
    return dict(body)


def problems(report: dict[str, Any]) -> list[tuple[str, str | None]]:
    return sorted((p["problem"], p.get("record_id")) for p in report["problems"])


def table(stack: Stack) -> str:
    return str(stack.ref("AuditLogTable"))


def stored(stack: Stack, tenant_id: int, event_id: str, kind: str = "audit") -> dict[str, Any]:
    item = clients("dynamodb").get_item(
        TableName=table(stack), Key={"pk": {"S": f"{tenant_id}#{kind}"}, "sk": {"S": event_id}}
    )["Item"]
    return dict(item)


def overwrite(stack: Stack, item: dict[str, Any]) -> None:
    clients("dynamodb").put_item(TableName=table(stack), Item=item)


def checkpoint_items(stack: Stack, owner: str) -> list[dict[str, Any]]:
    response = clients("dynamodb").query(
        TableName=stack.ref("CheckpointsTable"),
        KeyConditionExpression="pk = :o",
        ExpressionAttributeValues={":o": {"S": owner}},
    )
    return list(response["Items"])


# ---------------------------------------------------------------- sealing


def test_new_records_are_sealed_into_a_signed_anchored_chain(
    stack: Stack, api: Api, sealed: list[dict[str, Any]], tenant: int, auditor: str
) -> None:
    report = verify(api, tenant, auditor)
    assert report["verified"] is True, report["problems"]
    assert report["problems"] == []
    checkpoints = report["checkpoints"]
    assert checkpoints["stored"] >= 2  # two batches, at least one block each
    assert checkpoints["anchored"] == checkpoints["newest"]
    # every audit, access and security record of the tenant so far is sealed and checked
    assert report["records"]["checked"] >= 12
    assert report["records"]["first_sequence"] == 1
    assert report["records"]["last_sequence"] == report["records"]["checked"]
    anchors = clients("s3").list_objects_v2(Bucket=stack.ref("AnchorBucket"), Prefix=f"anchors/{tenant}/")
    assert len(anchors["Contents"]) == checkpoints["stored"]
    head = clients("s3").head_object(Bucket=stack.ref("AnchorBucket"), Key=anchors["Contents"][0]["Key"])
    assert head["ObjectLockMode"] == "COMPLIANCE"


def test_sealing_a_redelivered_batch_adds_nothing(
    stack: Stack, runtime: Runtime, sealed: list[dict[str, Any]], tenant: int
) -> None:
    before = checkpoint_items(stack, str(tenant))
    item = stored(stack, tenant, sealed[0]["event_id"])
    redelivery = {
        "Records": [
            {
                "eventID": "1",
                "eventName": "INSERT",
                "dynamodb": {"ApproximateCreationDateTime": datetime.now(UTC).timestamp() - 1, "NewImage": _json(item)},
            }
        ]
    }
    result = runtime.invoke("SealAuditLogFunction", redelivery)
    assert result["sealed"] == 0
    assert result["already_sealed"] == 1
    assert checkpoint_items(stack, str(tenant)) == before


def test_racing_sealers_chain_one_after_the_other(
    stack: Stack, pollers: Pollers, tenant: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    with container.inside("SealAuditLogFunction"):  # the sealer container's own store
        store = container.checkpoint_store()
    publish(stack, *events(tenant, 2))
    pollers.drain()
    stale = next(store.newest(str(tenant)))
    publish(stack, *events(tenant, 2))
    pollers.drain()  # another sealer moved the head on since
    real = store.newest
    calls = {"n": 0}

    def first_stale(owner: str, *, limit: int = 1) -> Any:
        calls["n"] += 1
        # the sealer's first look at the head is stale: another sealer took the next number meanwhile
        return iter([stale]) if calls["n"] == 1 else real(owner, limit=limit)

    appended: list[bool] = []
    real_append = store.append

    def append(checkpoint: Any, entries: Any) -> bool:
        appended.append(real_append(checkpoint, entries))
        return appended[-1]

    publish(stack, *events(tenant, 2))
    monkeypatch.setattr(store, "newest", first_stale)
    monkeypatch.setattr(store, "append", append)
    pollers.drain()
    monkeypatch.undo()
    assert appended[:2] == [False, True]  # lost the race for the number, then chained after the winner
    report = container.integrity().verify(tenant, TimeRange())
    assert report.verified, report.findings
    assert report.records_unsealed == 0


def test_a_signing_fault_is_retried_and_nothing_is_lost(
    stack: Stack, pollers: Pollers, tenant: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from botocore.exceptions import ClientError

    with container.inside("SealAuditLogFunction"):  # the sealer container's own signer
        signer = container.signer()
    real = signer.sign
    failures = {"left": 2}

    def flaky(payload: bytes) -> bytes:
        if failures["left"]:
            failures["left"] -= 1
            raise ClientError({"Error": {"Code": "ThrottlingException", "Message": "slow down"}}, "Sign")
        return real(payload)

    monkeypatch.setattr(signer, "sign", flaky)
    publish(stack, *events(tenant, 3))
    pollers.drain()
    assert failures["left"] == 0
    report = container.integrity().verify(tenant, TimeRange())
    assert report.verified, report.findings
    assert report.records_unsealed == 0


# ---------------------------------------------------------------- the six tamper cases


def test_a_changed_field_is_reported_as_modified(
    stack: Stack, api: Api, sealed: list[dict[str, Any]], tenant: int, auditor: str
) -> None:
    victim = sealed[4]["event_id"]
    item = stored(stack, tenant, victim)
    item["type"] = {"S": "deployment_deleted"}
    overwrite(stack, item)
    report = verify(api, tenant, auditor)
    assert report["verified"] is False
    assert problems(report) == [("modified", victim)]
    assert report["problems"][0]["sequence"] >= 1


def test_a_deleted_unexpired_record_is_reported_as_missing(
    stack: Stack, api: Api, sealed: list[dict[str, Any]], tenant: int, auditor: str
) -> None:
    victim = sealed[2]["event_id"]
    clients("dynamodb").delete_item(TableName=table(stack), Key={"pk": {"S": f"{tenant}#audit"}, "sk": {"S": victim}})
    report = verify(api, tenant, auditor)
    assert problems(report) == [("missing", victim)]


def test_a_forged_record_is_reported_as_inserted_and_never_sealed(
    stack: Stack, api: Api, pollers: Pollers, sealed: list[dict[str, Any]], tenant: int, auditor: str
) -> None:
    forged = stored(stack, tenant, sealed[5]["event_id"])  # a real record's ciphertext, under a new id
    forged_id = str(uuid.uuid4())
    forged["sk"] = {"S": forged_id}
    forged["ts_key"] = {"S": forged["ts_key"]["S"].split("#")[0] + "#" + forged_id}
    forged["type"] = {"S": "member_added"}
    overwrite(stack, forged)
    pollers.drain()  # the stream hands it to the sealer, which refuses it
    report = verify(api, tenant, auditor)
    assert problems(report) == [("inserted", forged_id)]
    sealed_ids = [
        entry[1]
        for item in checkpoint_items(stack, str(tenant))
        if item["sk"]["S"].startswith("block#")
        for entry in decode_entries(item["entries"])
    ]
    assert forged_id not in sealed_ids


def test_two_swapped_records_are_reported_as_reordered(
    stack: Stack, api: Api, sealed: list[dict[str, Any]], tenant: int, auditor: str
) -> None:
    first, second = (stored(stack, tenant, sealed[i]["event_id"]) for i in (3, 8))
    for a, b in ((first, second), (second, first)):
        moved = dict(a)
        moved["ts_key"] = {"S": b["ts_key"]["S"].split("#")[0] + "#" + a["sk"]["S"]}
        moved["expires_at"] = b["expires_at"]
        overwrite(stack, moved)
    report = verify(api, tenant, auditor)
    assert problems(report) == sorted([("reordered", sealed[3]["event_id"]), ("reordered", sealed[8]["event_id"])])


def test_an_altered_checkpoint_fails_its_signature(
    stack: Stack, api: Api, sealed: list[dict[str, Any]], tenant: int, auditor: str
) -> None:
    header = next(i for i in checkpoint_items(stack, str(tenant)) if i["sk"]["S"] == "checkpoint#000000000001")
    header["last_seq"] = {"N": str(int(header["last_seq"]["N"]) - 1)}  # hide the block's last record
    clients("dynamodb").put_item(TableName=stack.ref("CheckpointsTable"), Item=header)
    report = verify(api, tenant, auditor)
    kinds = {(p["problem"], p.get("checkpoint")) for p in report["problems"]}
    assert ("bad_signature", 1) in kinds
    assert ("modified_block", 1) in kinds  # the block no longer matches the (claimed) size


def test_an_altered_block_no_longer_matches_its_root(
    stack: Stack, api: Api, sealed: list[dict[str, Any]], tenant: int, auditor: str
) -> None:
    block = next(i for i in checkpoint_items(stack, str(tenant)) if i["sk"]["S"] == "block#000000000001")
    entries = [Entry.from_list(values) for values in decode_entries(block["entries"])]
    entries[0] = replace(entries[0], expires_at=1)  # claim the first record expired in 1970, so that it may go
    block["entries"] = {"B": encode_entries(entries)}
    clients("dynamodb").put_item(TableName=stack.ref("CheckpointsTable"), Item=block)
    report = verify(api, tenant, auditor)
    assert ("modified_block", 1) in {(p["problem"], p.get("checkpoint")) for p in report["problems"]}


def test_cutting_off_the_newest_records_is_reported_as_truncated(
    stack: Stack, api: Api, sealed: list[dict[str, Any]], tenant: int, auditor: str
) -> None:
    owner = str(tenant)
    items = checkpoint_items(stack, owner)
    newest = max(int(i["sk"]["S"].split("#")[1]) for i in items)
    dynamodb = clients("dynamodb")
    block = next(i for i in items if i["sk"]["S"] == f"block#{newest:012d}")
    for kind, record_id, *_ in decode_entries(block["entries"]):
        dynamodb.delete_item(TableName=table(stack), Key={"pk": {"S": f"{owner}#{kind}"}, "sk": {"S": record_id}})
    for prefix in ("checkpoint", "block"):
        dynamodb.delete_item(
            TableName=stack.ref("CheckpointsTable"), Key={"pk": {"S": owner}, "sk": {"S": f"{prefix}#{newest:012d}"}}
        )
    report = verify(api, tenant, auditor)
    assert report["verified"] is False
    assert [(p["problem"], p["checkpoint"]) for p in report["problems"]] == [("truncated", newest)]


def test_removing_a_checkpoint_from_the_middle_breaks_the_chain(
    stack: Stack, api: Api, sealed: list[dict[str, Any]], tenant: int, auditor: str
) -> None:
    clients("dynamodb").delete_item(
        TableName=stack.ref("CheckpointsTable"), Key={"pk": {"S": str(tenant)}, "sk": {"S": "checkpoint#000000000001"}}
    )
    report = verify(api, tenant, auditor)
    assert ("broken_chain", 2) in {(p["problem"], p.get("checkpoint")) for p in report["problems"]}


# ---------------------------------------------------------------- expiry is not deletion


def test_expired_records_may_be_gone_unexpired_ones_may_not(stack: Stack, pollers: Pollers, tenant: int) -> None:
    now = datetime.now(UTC)
    old = events(tenant, 3, start=now - timedelta(days=88))  # the demo tenant is on "pro": 90 days
    recent = events(tenant, 3)
    publish(stack, *old, *recent)
    pollers.drain()
    later = now + timedelta(days=5)
    dynamodb = clients("dynamodb")
    for event in old:  # what DynamoDB's TTL does once they expire
        dynamodb.delete_item(
            TableName=table(stack), Key={"pk": {"S": f"{tenant}#audit"}, "sk": {"S": event["event_id"]}}
        )
    report = container.integrity().verify(tenant, TimeRange(), now=later)
    assert report.verified, report.findings
    assert report.records_expired == 3
    # the same deletions before the records expired are tampering
    report = container.integrity().verify(tenant, TimeRange(), now=now)
    assert sorted(f.record_id or "" for f in report.findings) == sorted(e["event_id"] for e in old)
    assert {f.problem.value for f in report.findings} == {"missing"}


def test_a_period_is_verified_on_its_own(
    stack: Stack, api: Api, sealed: list[dict[str, Any]], tenant: int, auditor: str
) -> None:
    victim = sealed[0]["event_id"]
    clients("dynamodb").delete_item(TableName=table(stack), Key={"pk": {"S": f"{tenant}#audit"}, "sk": {"S": victim}})
    later = sealed[6]["occurred_at"].replace("+00:00", "Z")
    report = verify(api, tenant, auditor, f"?from={later}")
    assert report["verified"] is True, report["problems"]
    assert report["from"].startswith(later[:16])
    assert problems(verify(api, tenant, auditor)) == [("missing", victim)]


# ---------------------------------------------------------------- proofs and bundles


def test_an_inclusion_proof_verifies_offline(
    stack: Stack, api: Api, sealed: list[dict[str, Any]], tenant: int, auditor: str, tmp_path: Path
) -> None:
    event_id = sealed[7]["event_id"]
    status, proof = api.call("GET", f"/audit/tenants/{tenant}/proofs/{event_id}", auditor)
    assert status == 200, proof
    assert proof["record"]["id"] == event_id
    key = container.signer().public_key()
    assert verify_proof(proof, public_key=key)["verified"] is True
    path = tmp_path / "proof.json"
    path.write_text(json.dumps(proof))
    assert cli.main(["proof", "verify", str(path), "--fingerprint", proof["key_fingerprint"]]) == 0
    proof["record"]["stored"]["type"] = {"S": "deployment_deleted"}
    assert verify_proof(proof, public_key=key)["checks"]["record_matches_entry"] is False
    proof["record"]["entry"][3] = 1
    assert verify_proof(proof, public_key=key)["checks"]["entry_in_checkpoint"] is False


def test_proofs_refuse_unknown_records_and_kinds(
    api: Api, sealed: list[dict[str, Any]], tenant: int, auditor: str
) -> None:
    status, body = api.call("GET", f"/audit/tenants/{tenant}/proofs/{uuid.uuid4()}", auditor)
    assert status == 404, body
    status, body = api.call("GET", f"/audit/tenants/{tenant}/proofs/{sealed[0]['event_id']}?kind=nope", auditor)
    assert status in (400, 422), body
    assert "error" in body
    api.call("GET", f"/audit/tenants/{tenant}", auditor)  # an access record, written but not sealed yet
    status, page = api.call("GET", f"/audit/tenants/{tenant}/access", auditor)
    newest_access = page["data"][0]["id"]
    status, body = api.call("GET", f"/audit/tenants/{tenant}/proofs/{newest_access}?kind=access", auditor)
    assert status == 409 and body["error"]["code"] == "not_sealed_yet", body


def test_an_export_bundle_verifies_offline_and_shows_tampering(
    stack: Stack, api: Api, sealed: list[dict[str, Any]], tenant: int, auditor: str, tmp_path: Path
) -> None:
    status, bundle = api.call("GET", f"/audit/tenants/{tenant}/export", auditor)
    assert status == 200, bundle
    assert bundle["owner"] == str(tenant)
    assert {item["sk"]["S"] for item in bundle["records"]} >= {e["event_id"] for e in sealed}
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))
    # pinned to the real key (as an auditor would, from `aws kms get-public-key`), or to its fingerprint
    key_file = tmp_path / "key.der"
    key_file.write_bytes(container.signer().public_key())
    assert cli.main(["bundle", "verify", str(path), "--public-key", str(key_file)]) == 0
    status, online = api.call("GET", f"/audit/tenants/{tenant}/verify", auditor)
    assert online["key_fingerprint"] == bundle["key_fingerprint"]
    assert cli.main(["bundle", "verify", str(path), "--fingerprint", online["key_fingerprint"]]) == 0

    # the bundle edited after export: one record changed, another dropped
    changed = next(i for i in bundle["records"] if i["sk"]["S"] == sealed[1]["event_id"])
    changed["type"] = {"S": "tenant_deleted"}
    bundle["records"] = [i for i in bundle["records"] if i["sk"]["S"] != sealed[2]["event_id"]]
    report = verify_bundle(bundle, public_key=container.signer().public_key())
    assert sorted((f.problem.value, f.record_id) for f in report.findings) == sorted(
        [("modified", sealed[1]["event_id"]), ("missing", sealed[2]["event_id"])]
    )
    path.write_text(json.dumps(bundle))
    assert cli.main(["bundle", "verify", str(path), "--public-key", str(key_file)]) == 2


def test_offline_verification_is_pinned_to_a_trusted_key(
    api: Api,
    sealed: list[dict[str, Any]],
    tenant: int,
    auditor: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, bundle = api.call("GET", f"/audit/tenants/{tenant}/export", auditor)
    assert status == 200
    path = tmp_path / "bundle.json"
    path.write_text(json.dumps(bundle))
    with pytest.raises(SystemExit) as refused:  # no key, no fingerprint: nothing to trust
        cli.main(["bundle", "verify", str(path)])
    assert refused.value.code == 2
    capsys.readouterr()
    assert cli.main(["bundle", "verify", str(path), "--fingerprint", bundle["key_fingerprint"]]) == 0
    assert json.loads(capsys.readouterr().out)["key_fingerprint"] == bundle["key_fingerprint"]

    # a forger re-signs everything with a key of their own and ships its public key in the bundle
    other = clients("kms").create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    forged = {
        **bundle,
        "public_key": base64.b64encode(clients("kms").get_public_key(KeyId=other)["PublicKey"]).decode(),
    }
    path.write_text(json.dumps(forged))
    assert cli.main(["bundle", "verify", str(path), "--fingerprint", bundle["key_fingerprint"]]) == 1
    assert "not the pinned one" in capsys.readouterr().err


def test_a_bundle_cut_short_with_its_anchor_removed_is_not_verified(
    stack: Stack, api: Api, sealed: list[dict[str, Any]], tenant: int, auditor: str, tmp_path: Path
) -> None:
    status, bundle = api.call("GET", f"/audit/tenants/{tenant}/export", auditor)
    assert status == 200 and len(bundle["checkpoints"]) >= 2, bundle["checkpoints"]
    key = container.signer().public_key()
    newest = max(c["number"] for c in bundle["checkpoints"])
    cut = {
        **bundle,
        "checkpoints": [c for c in bundle["checkpoints"] if c["number"] < newest],
        "blocks": {n: e for n, e in bundle["blocks"].items() if int(n) < newest},
        "anchor": None,
    }
    kept = {entry[1] for entries in cut["blocks"].values() for entry in entries}
    cut["records"] = [item for item in bundle["records"] if item["sk"]["S"] in kept]
    report = verify_bundle(cut, public_key=key)
    assert not report.verified
    assert [f.problem.value for f in report.findings] == ["unanchored"]
    # the anchor alone missing is enough: an offline verifier cannot rule out a cut
    whole_without_anchor = verify_bundle({**bundle, "anchor": None}, public_key=key)
    assert [f.problem.value for f in whole_without_anchor.findings] == ["unanchored"]
    path = tmp_path / "cut.json"
    path.write_text(json.dumps(cut))
    assert cli.main(["bundle", "verify", str(path), "--fingerprint", bundle["key_fingerprint"]]) == 2


def test_a_bundle_signed_by_another_key_fails_against_the_pinned_key(
    api: Api, sealed: list[dict[str, Any]], tenant: int, auditor: str
) -> None:
    status, bundle = api.call("GET", f"/audit/tenants/{tenant}/export", auditor)
    assert status == 200
    other = clients("kms").create_key(KeySpec="ECC_NIST_P256", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["KeyId"]
    report = verify_bundle(bundle, public_key=clients("kms").get_public_key(KeyId=other)["PublicKey"])
    assert {f.problem.value for f in report.findings} == {"bad_signature"}


def test_verify_needs_audit_read_and_checks_its_query(
    api: Api, demo: dict[str, Any], sealed: list[dict[str, Any]], tenant: int, auditor: str
) -> None:
    member = str(user(demo, "member")["api_key"])
    status, _ = api.call("GET", f"/audit/tenants/{tenant}/verify", member)
    assert status == 403
    status, body = api.call("GET", f"/audit/tenants/{tenant}/verify?from=yesterday", auditor)
    assert status == 400, body
    status, body = api.call("GET", f"/audit/tenants/{tenant}/verify?page=2", auditor)
    assert status == 400, body


def _json(item: dict[str, Any]) -> dict[str, Any]:
    """An item as a stream event carries it (binary values as base64)."""
    import base64

    return {
        name: {"B": base64.b64encode(value["B"]).decode()} if "B" in value else value for name, value in item.items()
    }


def test_records_written_before_the_sealer_ran_are_backfilled_once(stack: Stack, pollers: Pollers, tenant: int) -> None:
    from audit_service.domain.models import RequestMetadata

    metadata = RequestMetadata(
        request_id="req-backfill", source_ip="203.0.113.7", user_agent="pytest-client/1.0", method="GET", path="/"
    )
    ids = [
        container.access_log().record(actor_id=1, action="audit_log.read", tenant_id=tenant, request=metadata)
        for _ in range(3)
    ]  # written, but the stream has not reached the sealer
    before = container.integrity().verify(tenant, TimeRange())
    assert before.verified and before.records_unsealed >= 3

    result = cli.run(["seal", "backfill", "--owner", str(tenant)])
    assert result["sealed"] >= 3
    after = container.integrity().verify(tenant, TimeRange())
    assert after.verified and after.records_unsealed == 0
    sealed = {e.id for entries in container.integrity().evidence(tenant, TimeRange()).blocks.values() for e in entries}
    assert set(ids) <= sealed

    chain = len(container.checkpoint_store().chain(str(tenant)))
    pollers.drain()  # the stream delivers the same records later: nothing is sealed twice
    assert len(container.checkpoint_store().chain(str(tenant))) == chain
    assert container.integrity().verify(tenant, TimeRange()).verified


# ---------------------------------------------------------------- periods read part of the chain


def test_the_first_checkpoint_sealed_since_a_time_is_found_by_binary_search(stack: Stack) -> None:
    from audit_service.integrity.checkpoints import Checkpoint

    store = container.checkpoint_store()
    base = datetime(2026, 1, 1, tzinfo=UTC)
    stored = [n for n in range(1, 41) if n not in (1, 2, 17, 18, 30)]  # expired at the start, removed in the middle
    for n in stored:
        when = (base + timedelta(hours=n)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        checkpoint = Checkpoint("search", n, n, n, "", "", 0, when, 0, "", "", "")
        assert store.append(checkpoint, [])
    for hour in range(0, 43):
        threshold = (base + timedelta(hours=hour)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        expected = next((n for n in stored if n >= hour), None)
        assert store.first_sealed_since("search", threshold) == expected, hour


def test_a_period_reads_only_its_part_of_the_chain_and_cannot_be_steered(
    stack: Stack, pollers: Pollers, tenant: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    from audit_service.integrity.verifier import verify as check

    with container.inside("SealAuditLogFunction"):
        sealer = container.sealer()
    base = datetime.now(UTC) - timedelta(days=3)
    for day in range(3):  # three batches, sealed a day apart, of events that happened then
        monkeypatch.setattr(sealer, "_clock", lambda day=day: base + timedelta(days=day, minutes=1))
        publish(stack, *events(tenant, 2, start=base + timedelta(days=day)))
        pollers.drain()
    chain = container.checkpoint_store().chain(str(tenant))
    last_of_day_one = max(c.number for c in chain if c.sealed_at < (base + timedelta(days=2)).isoformat())
    period = TimeRange(time_from=base + timedelta(days=2))

    evidence = container.integrity().evidence(tenant, period)
    assert evidence.chain_from == last_of_day_one  # the checkpoint before the period's first, not checkpoint 1
    assert evidence.checkpoints[0].number == last_of_day_one
    report = check(evidence)
    assert report.verified, report.findings
    assert report.records_checked == 2

    # An operator edits the (unsigned-until-checked) seal time of the period's first checkpoint
    # to steer the search past it: the segment's start fails its check, the whole chain is read.
    first_in_period = last_of_day_one + 1
    header = next(
        i for i in checkpoint_items(stack, str(tenant)) if i["sk"]["S"] == f"checkpoint#{first_in_period:012d}"
    )
    header["sealed_at"] = {"S": "2000-01-01T00:00:00.000Z"}
    clients("dynamodb").put_item(TableName=stack.ref("CheckpointsTable"), Item=header)
    evidence = container.integrity().evidence(tenant, period)
    assert evidence.chain_from == 1
    assert ("bad_signature", first_in_period) in {(f.problem.value, f.checkpoint) for f in check(evidence).findings}


def test_the_platform_partition_is_sealed_and_verified_by_the_operator_tool(
    stack: Stack, api: Api, pollers: Pollers
) -> None:
    assert api.request("GET", "/audit/types").status == 401  # a failed login: a platform security event
    pollers.drain()
    result = cli.run(["seal", "verify", "--owner", "platform"])
    assert result["verified"] is True, result["problems"]
    assert result["records"]["checked"] >= 1
    (item,) = [i for i in scan_all_log(stack) if i["pk"]["S"].startswith("platform#security")][:1]
    clients("dynamodb").delete_item(TableName=table(stack), Key={"pk": item["pk"], "sk": item["sk"]})
    result = cli.run(["seal", "verify", "--owner", "platform"])
    assert [(p["problem"], p["record_id"]) for p in result["problems"]] == [("missing", item["sk"]["S"])]
    with pytest.raises(ValueError, match="tenant id or 'platform'"):
        cli.run(["seal", "verify", "--owner", "everyone"])


def scan_all_log(stack: Stack) -> list[dict[str, Any]]:
    return list(clients("dynamodb").scan(TableName=table(stack))["Items"])


def test_a_large_bundle_is_linked_from_the_exports_bucket(
    stack: Stack, api: Api, sealed: list[dict[str, Any]], tenant: int, auditor: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from urllib.parse import urlparse

    with container.inside("ExportTenantAuditLogFunction"):  # that function's own collaborator
        monkeypatch.setattr(container.bundle_delivery(), "_inline_bytes", 1000)  # as if it were over 5 MB
    result = api.request("GET", f"/audit/tenants/{tenant}/export", key=auditor)
    assert result.status == 303
    location = result.headers["Location"]
    assert json.loads(result.body) == {"location": location}
    url = urlparse(location)
    assert "X-Amz-Signature" in url.query or "Signature" in url.query
    bucket = stack.ref("ExportsBucket")
    key = url.path.lstrip("/").removeprefix(f"{bucket}/")
    assert key.startswith(f"audit-exports/{tenant}/") and len(key.split("/")) == 4  # .../<tenant>/<reader>/<id>.json
    export_id = key.rsplit("/", 1)[1].removesuffix(".json")
    query = dict(pair.split("=", 1) for pair in url.query.split("&"))
    assert query.get("X-Amz-Expires") == "60" or "Expires" in query  # a minute, not an hour
    _, page = api.call("GET", f"/audit/tenants/{tenant}/access", auditor)
    exported = [r for r in page["data"] if r["action"] == "audit_log.export"]
    assert exported[0]["object_id"] == export_id  # the access log names what was handed out
    bundle = json.loads(clients("s3").get_object(Bucket=bucket, Key=key)["Body"].read())
    assert verify_bundle(bundle, public_key=container.signer().public_key()).verified
    assert {e["event_id"] for e in sealed} <= {item["sk"]["S"] for item in bundle["records"]}


def test_checkpoints_past_their_own_expiry_may_be_gone(stack: Stack, sealed: list[dict[str, Any]], tenant: int) -> None:
    owner = str(tenant)
    dynamodb = clients("dynamodb")
    for prefix in ("checkpoint", "block"):  # what TTL does to the oldest checkpoint, once it expires
        dynamodb.delete_item(
            TableName=stack.ref("CheckpointsTable"), Key={"pk": {"S": owner}, "sk": {"S": f"{prefix}#000000000001"}}
        )
    later = datetime.now(UTC) + timedelta(days=801)
    report = container.integrity().verify(tenant, TimeRange(), now=later)
    assert report.verified, report.findings
    assert report.checkpoints_expired == 1
    report = container.integrity().verify(tenant, TimeRange())  # the same gap today: removed, not expired
    assert [(f.problem.value, f.checkpoint) for f in report.findings] == [("broken_chain", 2)]


def test_a_record_sealed_twice_still_verifies(stack: Stack, sealed: list[dict[str, Any]], tenant: int) -> None:
    from audit_service.integrity.records import entry_for

    owner = str(tenant)
    store, sealer = container.checkpoint_store(), container.sealer()
    entry = entry_for(stored(stack, tenant, sealed[0]["event_id"]))
    again = sealer._checkpoint(owner, next(store.newest(owner)), [entry])  # what a missed idempotency check does
    assert store.append(again, [entry])
    container.anchor_store().put(again)
    report = container.integrity().verify(tenant, TimeRange())
    assert report.verified, report.findings


def test_a_record_whose_data_key_cannot_be_opened_goes_to_the_sealers_dead_letters_and_stops_nothing(
    stack: Stack, api: Api, pollers: Pollers, sealed: list[dict[str, Any]], tenant: int, auditor: str
) -> None:
    poison = stored(stack, tenant, sealed[0]["event_id"])
    poison_id = str(uuid.uuid4())
    sealed_data = bytearray(poison["pii"]["B"])
    key_arn = stack.attribute("DataKey", "Arn").encode()
    sealed_data[sealed_data.find(key_arn) + len(key_arn) + 22] ^= 0xFF  # inside the encrypted data key
    poison.update(
        sk={"S": poison_id},
        ts_key={"S": poison["ts_key"]["S"].split("#")[0] + "#" + poison_id},
        pii={"B": bytes(sealed_data)},
    )
    overwrite(stack, poison)
    later = events(tenant, 2)
    publish(stack, *later)
    pollers.drain()  # bisected down to the poisonous record, retried, then sent away

    (message,) = clients("sqs").receive_message(QueueUrl=stack.ref("SealerDeadLetterQueue"))["Messages"]
    info = json.loads(message["Body"])["DDBStreamBatchInfo"]
    assert info["batchSize"] == 1
    report = verify(api, tenant, auditor)
    assert problems(report) == [("inserted", poison_id)]
    assert report["records"]["unsealed"] == 0  # everything after it was sealed


def _mutations(bundle: dict[str, Any], rng: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """One-change variants of a clean bundle, each a kind of tampering with records or checkpoints."""
    import base64
    import copy

    for _ in range(60):
        changed = copy.deepcopy(bundle)
        records, checkpoints, blocks = changed["records"], changed["checkpoints"], changed["blocks"]
        choice = rng.randrange(7)
        if choice == 0:  # one attribute of one record
            item = rng.choice(records)
            name = rng.choice(sorted(item))
            ((kind, value),) = item[name].items()
            if kind == "B":
                raw = bytearray(base64.b64decode(value))
                raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)
                item[name] = {"B": base64.b64encode(bytes(raw)).decode()}
            elif kind == "N":
                item[name] = {"N": str(int(value) + rng.choice((-1, 1)))}
            else:
                item[name] = {"S": value + rng.choice(("x", "#", "0"))}
            yield f"record {name}", changed
        elif choice == 1:  # one record dropped
            records.pop(rng.randrange(len(records)))
            yield "record dropped", changed
        elif choice == 2:  # one record copied under a new id
            copied = copy.deepcopy(rng.choice(records))
            copied["sk"] = {"S": str(uuid.UUID(int=rng.getrandbits(128)))}
            records.append(copied)
            yield "record inserted", changed
        elif choice == 3:  # one signed field of one checkpoint
            checkpoint = rng.choice(checkpoints)
            name = rng.choice(sorted(checkpoint))
            value = checkpoint[name]
            checkpoint[name] = (
                value + 1 if isinstance(value, int) else (value[:-1] + ("0" if value[-1:] != "0" else "1"))
            )
            yield f"checkpoint {name}", changed
        elif choice == 4:  # one field of one block entry
            entries = blocks[rng.choice(sorted(blocks))]
            entry = rng.choice(entries)
            position = rng.randrange(5)
            entry[position] = entry[position] + 1 if position == 3 else entry[position] + "0"
            yield f"block entry field {position}", changed
        elif choice == 5:  # one checkpoint dropped
            checkpoints.pop(rng.randrange(len(checkpoints)))
            yield "checkpoint dropped", changed
        else:  # one block entry dropped
            entries = blocks[rng.choice(sorted(blocks))]
            entries.pop(rng.randrange(len(entries)))
            yield "block entry dropped", changed


def test_every_single_change_to_a_bundle_is_caught(
    api: Api, sealed: list[dict[str, Any]], tenant: int, auditor: str
) -> None:
    import random

    status, bundle = api.call("GET", f"/audit/tenants/{tenant}/export", auditor)
    key = container.signer().public_key()
    assert status == 200 and verify_bundle(bundle, public_key=key).verified
    for seed in range(5):
        for what, changed in _mutations(bundle, random.Random(seed)):
            report = verify_bundle(changed, public_key=key)
            assert not report.verified, f"seed {seed}: {what} went unnoticed"


def test_a_period_over_the_limit_is_refused_before_it_is_read_whole(
    api: Api, sealed: list[dict[str, Any]], tenant: int, auditor: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from audit_service.dal.log_records import LogRecordStore

    read: list[int] = []
    original = LogRecordStore.stored_items

    def counted(self: LogRecordStore, pk: str, *, time_from: str, time_to: str) -> Any:
        for item in original(self, pk, time_from=time_from, time_to=time_to):
            read.append(1)
            yield item

    monkeypatch.setattr(LogRecordStore, "stored_items", counted)
    for function in ("VerifyTenantAuditLogFunction", "ExportTenantAuditLogFunction"):
        with container.inside(function):
            monkeypatch.setattr(container.integrity(), "max_records", 5)
    for route in ("verify", "export"):
        read.clear()
        status, body = api.call("GET", f"/audit/tenants/{tenant}/{route}", auditor)
        assert status == 400 and body["error"]["code"] == "period_too_large", body
        assert len(read) == 6  # stopped at the first record over the limit, not after reading all twelve
    later = sealed[9]["occurred_at"].replace("+00:00", "Z")
    status, body = api.call("GET", f"/audit/tenants/{tenant}/verify?from={later}", auditor)
    assert status == 200 and body["verified"], body  # a shorter period fits


def test_a_checkpoint_sealed_while_verifying_is_not_reported_as_truncation(
    stack: Stack,
    api: Api,
    pollers: Pollers,
    sealed: list[dict[str, Any]],
    tenant: int,
    auditor: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The sealer keeps sealing while a verify reads: a checkpoint stored and anchored between the
    verify's reads is a newer end of the log, not a log cut short."""
    from audit_service.dal.checkpoints import CheckpointStore

    chain = CheckpointStore.chain
    sealed_meanwhile: list[int] = []

    def chain_then_seal(self: CheckpointStore, owner: str, *, start: int = 1) -> list[Any]:
        read = chain(self, owner, start=start)
        if not sealed_meanwhile:  # a producer and the sealer, outside this function (a thread of their own)

            def produce_and_seal() -> None:
                publish(stack, *events(tenant, 2))
                sealed_meanwhile.append(pollers.drain())

            sealer = threading.Thread(target=produce_and_seal)
            sealer.start()
            sealer.join()
        return read

    monkeypatch.setattr(CheckpointStore, "chain", chain_then_seal)
    report = verify(api, tenant, auditor)
    assert sealed_meanwhile and sealed_meanwhile[0] > 0
    assert report["problems"] == [], report
    assert report["verified"] is True
