"""``ld-audit-admin``: create tenants, users, memberships and API keys; verify audit-log exports offline.

Against a deployed stack::

    ld-audit-admin --stack audit-compliance-dev tenant create --name "Acme" --plan pro

reads the table names and key ARNs from the stack's outputs. Without
``--stack`` it uses the same environment variables as the functions (the local
cloud sets them). Every command prints one JSON object. An API key's secret is
printed once, when it is created, and is not stored anywhere.

``bundle verify`` and ``proof verify`` need no AWS access at all: they check an
exported audit-log bundle or an inclusion proof against the signing key the
auditor trusts, pinned with ``--public-key FILE`` (from ``aws kms
get-public-key``) or ``--fingerprint SHA256:...`` (shown by the verify route and
every export). They never trust the file's own copy of the key, print the
fingerprint they used, and exit with status 2 when the file does not verify,
including when it carries no anchor and a cut-off end cannot be ruled out.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from audit_service import container
from audit_service.config import get_settings
from audit_service.domain.errors import DomainError
from audit_service.domain.models import Plan, SecurityEventType
from audit_service.domain.permissions import Role
from audit_service.services.account_reads import TENANT_RESOURCE_KINDS

_OUTPUT_TO_ENV = {
    "TenantsTableName": "TENANTS_TABLE",
    "UsersTableName": "USERS_TABLE",
    "ApiKeysTableName": "API_KEYS_TABLE",
    "AuditLogTableName": "AUDIT_LOG_TABLE",
    "DataKeyArn": "DATA_KEY_ARN",
    "BlindIndexKeyArn": "BLIND_INDEX_KEY_ARN",
    "CheckpointsTableName": "CHECKPOINTS_TABLE",
    "EventTypesTableName": "EVENT_TYPES_TABLE",
    "SigningKeyArn": "SIGNING_KEY_ARN",
    "AnchorBucketName": "ANCHOR_BUCKET",
    "EraseAccountStateMachineArn": "ERASURE_STATE_MACHINE_ARN",
    "AuditEventBusName": "AUDIT_EVENT_BUS",
    "MailerKeyArn": "MAILER_KEY_ARN",
    "AuditIngestDeadLetterQueueUrl": "DEAD_LETTER_QUEUE_URL",
    "SecurityEventsDeadLetterQueueUrl": "SECURITY_DEAD_LETTER_QUEUE_URL",
    "SealerDeadLetterQueueUrl": "SEALER_DEAD_LETTER_QUEUE_URL",
    "CounterDeadLetterQueueUrl": "COUNTER_DEAD_LETTER_QUEUE_URL",
    "LogStreamDeadLetterQueueUrl": "LOG_STREAM_DEAD_LETTER_QUEUE_URL",
    "LogStreamRouteDeadLetterQueueUrl": "LOG_STREAM_ROUTE_DEAD_LETTER_QUEUE_URL",
}
# the same, from the local cloud's state file (logical id -> physical id)
_RESOURCE_TO_ENV = {
    "AuditIngestDeadLetterQueue": "DEAD_LETTER_QUEUE_URL",
    "SecurityEventsDeadLetterQueue": "SECURITY_DEAD_LETTER_QUEUE_URL",
    "SealerDeadLetterQueue": "SEALER_DEAD_LETTER_QUEUE_URL",
    "CounterDeadLetterQueue": "COUNTER_DEAD_LETTER_QUEUE_URL",
    "LogStreamDeadLetterQueue": "LOG_STREAM_DEAD_LETTER_QUEUE_URL",
    "LogStreamRouteDeadLetterQueue": "LOG_STREAM_ROUTE_DEAD_LETTER_QUEUE_URL",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ld-audit-admin", description=__doc__.split("\n\n")[0])
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--stack", help="read table names and key ARNs from this CloudFormation stack's outputs")
    target.add_argument(
        "--local", action="store_true", help="use the running local cloud (`make run`), described by its state file"
    )
    parser.add_argument(
        "--state-file", default=".local/demo.json", help="the local cloud's state file (default .local/demo.json)"
    )
    groups = parser.add_subparsers(dest="group", required=True)

    tenant = groups.add_parser("tenant").add_subparsers(dest="action", required=True)
    create = tenant.add_parser("create", help="create a tenant")
    create.add_argument("--name", required=True)
    create.add_argument("--plan", choices=[p.value for p in Plan], default=Plan.BASIC.value)
    create.add_argument(
        "--log-shards", type=int, default=1, help="write shards, for a tenant writing over ~1,000 records/s"
    )

    shards = tenant.add_parser("grow-shards", help="spread a busy tenant's new records over more write shards")
    shards.add_argument("--tenant", type=int, required=True)
    shards.add_argument("--shards", type=int, required=True, help="at most the stack's MaxLogShards")

    set_plan = tenant.add_parser("set-plan", help="change a tenant's plan (an audited change)")
    set_plan.add_argument("--tenant", type=int, required=True)
    set_plan.add_argument("--plan", choices=[p.value for p in Plan], required=True)
    set_plan.add_argument("--actor", type=int, required=True, help="the user id the audit record names as author")

    resource = groups.add_parser("resource").add_subparsers(dest="action", required=True)
    add = resource.add_parser("add", help="add a division, environment or deployment to a tenant")
    add.add_argument("--tenant", type=int, required=True)
    add.add_argument("--kind", choices=TENANT_RESOURCE_KINDS, required=True)
    add.add_argument("--name", required=True)
    add.add_argument("--parent", type=int)

    user = groups.add_parser("user").add_subparsers(dest="action", required=True)
    create_user = user.add_parser("create", help="create a user (name and email are stored encrypted)")
    create_user.add_argument("--name", required=True)
    create_user.add_argument("--email", required=True)
    find = user.add_parser("find", help="find a user by email, through the blind index")
    find.add_argument("--email", required=True)

    member = groups.add_parser("member").add_subparsers(dest="action", required=True)
    add_member = member.add_parser("add", help="make a user a member of a tenant")
    add_member.add_argument("--tenant", type=int, required=True)
    add_member.add_argument("--user", type=int, required=True)
    add_member.add_argument("--role", choices=[r.value for r in Role], required=True)

    key = groups.add_parser("key").add_subparsers(dest="action", required=True)
    create_key = key.add_parser("create", help="issue an API key; the secret is shown once")
    create_key.add_argument("--user", type=int, required=True)
    create_key.add_argument("--name", default="default")
    revoke = key.add_parser("revoke", help="revoke an API key")
    revoke.add_argument("--user", type=int, required=True)
    revoke.add_argument("--key-id", required=True)
    list_keys = key.add_parser("list", help="list a user's API keys (never their secrets)")
    list_keys.add_argument("--user", type=int, required=True)

    _operator_commands(groups)
    _incident_commands(groups)
    _offline_commands(groups)
    return parser


def _operator_commands(groups: Any) -> None:
    types = groups.add_parser("types").add_subparsers(dest="action", required=True)
    register = types.add_parser(
        "register", help="register an event type's declaration (a JSON file); a changed one becomes a new version"
    )
    register.add_argument("--file", required=True, help="the declaration (docs/api.md, Registering event types)")
    register.add_argument("--actor", type=int, required=True, help="the user id the audit record names as author")
    deprecate = types.add_parser("deprecate", help="hide a type from new events; its records stay readable")
    deprecate.add_argument("--type", required=True)
    deprecate.add_argument("--actor", type=int, required=True, help="the user id the audit record names as author")
    types.add_parser("list", help="every type's current version")

    account = groups.add_parser("account").add_subparsers(dest="action", required=True)
    erase = account.add_parser(
        "erase", help="erase a user's account (GDPR), or finish an erasure that failed halfway; waits for it"
    )
    erase.add_argument("--user", type=int, required=True)
    erase.add_argument("--wait", type=float, default=25.0, help="seconds to wait for the workflow (default 25)")

    seal = groups.add_parser("seal").add_subparsers(dest="action", required=True)
    backfill = seal.add_parser(
        "backfill", help="seal an owner's records that no checkpoint covers (written before the sealer ran)"
    )
    backfill.add_argument("--owner", required=True, help="a tenant id, or 'platform'")
    check = seal.add_parser("verify", help="verify an owner's log online (the platform partition has no route)")
    check.add_argument("--owner", required=True, help="a tenant id, or 'platform'")
    check.add_argument("--from", dest="time_from", help="ISO 8601; default: everything stored")
    check.add_argument("--to", dest="time_to", help="ISO 8601")


def _incident_commands(groups: Any) -> None:
    from audit_service.admin.incidents import DEAD_LETTER_QUEUES

    security = groups.add_parser("security").add_subparsers(dest="action", required=True)
    listing = security.add_parser(
        "list", help="security events, decrypted: failed logins and denials by non-members are in 'platform'"
    )
    listing.add_argument("--owner", default="platform", help="'platform' (default) or a tenant id")
    listing.add_argument("--type", choices=[t.value for t in SecurityEventType])
    listing.add_argument("--from", dest="time_from", help="ISO 8601")
    listing.add_argument("--to", dest="time_to", help="ISO 8601")
    listing.add_argument("--results", type=int, default=50, help="per page, at most 100")
    listing.add_argument("--cursor", help="the 'next' of the previous page")

    dead = groups.add_parser("dead-letters").add_subparsers(dest="action", required=True)
    show = dead.add_parser("show", help="messages a queue gave up on, opened (they stay in the queue)")
    show.add_argument("--queue", choices=sorted(DEAD_LETTER_QUEUES), default="ingest")
    show.add_argument("--max", type=int, default=10, dest="most")


def _offline_commands(groups: Any) -> None:
    for name, what in (("bundle", "an audit-log export bundle"), ("proof", "an inclusion proof")):
        offline = groups.add_parser(name).add_subparsers(dest="action", required=True)
        check = offline.add_parser("verify", help=f"verify {what} offline, without AWS access")
        check.add_argument("file", help=f"{what} (JSON), as returned by the API")
        pin = check.add_mutually_exclusive_group(required=True)
        pin.add_argument("--public-key", help="the signing key's public key, DER or PEM (aws kms get-public-key)")
        pin.add_argument("--fingerprint", help="SHA256:<hex> of the signing key you trust (the verify route shows it)")


def _public_key(path: str) -> bytes:
    raw = Path(path).read_bytes()
    if raw.lstrip().startswith(b"-----BEGIN"):
        from cryptography.hazmat.primitives.serialization import (
            Encoding,
            PublicFormat,
            load_pem_public_key,
        )

        return load_pem_public_key(raw).public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return raw


def _offline(args: argparse.Namespace) -> dict[str, Any]:
    from audit_service.integrity.bundle import key_fingerprint, pinned_key, verify_bundle, verify_proof

    document = json.loads(Path(args.file).read_text())
    key = _public_key(args.public_key) if args.public_key else pinned_key(document, args.fingerprint)
    pinned = {"key_fingerprint": key_fingerprint(key)}
    if args.group == "proof":
        return {**pinned, **verify_proof(document, public_key=key)}
    report = verify_bundle(document, public_key=key)
    return {"owner": report.owner, **pinned, **report.as_dict()}


def _use_stack(stack_name: str) -> None:
    from botocore.exceptions import ClientError

    from audit_service.aws import client

    try:
        stack = client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ValidationError":  # CloudFormation's "does not exist"
            raise ValueError(
                f"no stack {stack_name!r} in this account and region: check --stack and AWS_DEFAULT_REGION"
            ) from error
        raise
    outputs = {output["OutputKey"]: output["OutputValue"] for output in stack.get("Outputs", [])}
    missing = sorted(set(_OUTPUT_TO_ENV) - set(outputs))
    if missing:
        raise ValueError(f"stack {stack_name!r} lacks outputs {', '.join(missing)}: is it this service's stack?")
    for output, variable in _OUTPUT_TO_ENV.items():
        os.environ[variable] = outputs[output]
    container.reset()


def _use_local(state_file: str) -> None:
    if not Path(state_file).is_file():
        raise ValueError(
            f"no local cloud state at {state_file}: start it with `make run` in another terminal"
            " (or name its state file with --state-file)"
        )
    state = json.loads(Path(state_file).read_text())
    os.environ.update(state["environment"])
    resources = state.get("resources", {})
    os.environ.update({env: resources[logical] for logical, env in _RESOURCE_TO_ENV.items() if logical in resources})
    os.environ.update({"AWS_ENDPOINT_URL": state["aws_endpoint_url"], "AWS_DEFAULT_REGION": state["region"]})
    os.environ.setdefault("AWS_ACCESS_KEY_ID", "local")
    os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "local")
    container.reset()


def run(argv: Sequence[str]) -> dict[str, Any]:
    """Run one command; returns what ``main`` prints."""
    args = _parser().parse_args(argv)
    if args.group in ("bundle", "proof"):
        return _offline(args)
    if args.stack:
        _use_stack(args.stack)
    elif args.local:
        _use_local(args.state_file)
    if command_of(args) == ("account", "erase"):
        return _erase(args.user, args.wait)
    if command_of(args) == ("security", "list"):
        from audit_service.admin.incidents import security_list

        owner = _owner(args.owner)
        return security_list(
            owner,
            event_type=args.type,
            time_from=args.time_from,
            time_to=args.time_to,
            results=args.results,
            cursor=args.cursor,
        )
    if command_of(args) == ("dead-letters", "show"):
        from audit_service.admin.incidents import dead_letters_show

        return dead_letters_show(args.queue, most=args.most)
    if command_of(args) == ("seal", "backfill"):
        return _backfill(_owner(args.owner))
    if command_of(args) == ("seal", "verify"):
        from audit_service.services.pagination import TimeRange

        period = TimeRange.parse({k: v for k, v in (("from", args.time_from), ("to", args.time_to)) if v})
        report = container.integrity().verify(_owner(args.owner), period)
        return {"owner": report.owner, **report.as_dict()}
    return _account_command(args)


def _owner(value: str) -> str:
    if value != "platform" and not value.isdigit():
        raise ValueError("--owner is a tenant id or 'platform'")
    return value


def command_of(args: argparse.Namespace) -> tuple[str, str]:
    return str(args.group), str(args.action)


def _erase(user_id: int, wait: float) -> dict[str, Any]:
    import secrets

    arn = get_settings().erasure_state_machine_arn
    if not arn:
        raise ValueError("the erasure workflow is unknown: use --stack NAME or --local")
    erasure_id = secrets.token_hex(12)
    workflows = container.workflows()
    execution = workflows.wait(
        workflows.start(arn, erasure_id, {"user_id": user_id, "erasure_id": erasure_id}), seconds=wait
    )
    return {"user_id": user_id, "erasure_id": erasure_id, **execution.body()}


def _backfill(owner: str) -> dict[str, Any]:
    from audit_service.domain.models import utc_now
    from audit_service.services.sealer import NewRecord

    now = utc_now()
    records = [NewRecord(item, now) for item in container.integrity().unsealed(owner)]
    result = container.sealer().seal(records)
    return {
        "owner": owner,
        "sealed": result.sealed,
        "rejected": len(result.rejected),
        "checkpoints": [checkpoint.number for checkpoint in result.checkpoints],
    }


def _account_command(args: argparse.Namespace) -> dict[str, Any]:
    accounts = container.accounts()
    command = command_of(args)
    if command == ("tenant", "create"):
        most = get_settings().max_log_shards
        tenant = accounts.create_tenant(args.name, Plan(args.plan), log_shards=args.log_shards, most=most)
        return {"tenant": tenant.model_dump(mode="json")}
    if command == ("tenant", "grow-shards"):
        layout = accounts.grow_log_shards(args.tenant, args.shards, most=get_settings().max_log_shards)
        return {"tenant_id": args.tenant, "log_shards": layout.as_list()}
    if command == ("tenant", "set-plan"):
        event = accounts.change_plan(args.tenant, Plan(args.plan), actor_id=args.actor)
        return {"tenant_id": args.tenant, "plan": args.plan, "audit_event_id": event.event_id}
    if command == ("resource", "add"):
        resource = accounts.add_tenant_resource(args.tenant, args.kind, args.name, args.parent)
        return {args.kind: resource.model_dump(mode="json")}
    if command == ("user", "create"):
        return {"user": accounts.create_user(args.name, args.email).model_dump(mode="json")}
    if command == ("user", "find"):
        found = accounts.find_user_by_email(args.email)
        return {"user": found.model_dump(mode="json") if found else None}
    if command == ("member", "add"):
        membership = accounts.add_member(args.tenant, args.user, Role(args.role))
        return {"membership": membership.model_dump(mode="json")}
    if command == ("key", "create"):
        issued = accounts.issue_api_key(args.user, args.name)
        return {"api_key": issued.key.model_dump(mode="json", exclude={"key_hash"}), "secret": issued.secret}
    if command == ("key", "revoke"):
        accounts.revoke_api_key(args.user, args.key_id)
        return {"revoked": args.key_id}
    if command[0] == "types":
        return _types_command(args)
    if command == ("key", "list"):
        keys = container.accounts_repository().list_api_keys(args.user)
        return {"api_keys": [k.model_dump(mode="json", exclude={"key_hash"}) for k in keys]}
    raise AssertionError(f"unhandled command {command}")  # argparse only lets the above through


def main(argv: Sequence[str] | None = None) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        result = run(sys.argv[1:] if argv is None else argv)
        print(json.dumps(result, indent=2))
    except (DomainError, ValidationError, ValueError, OSError, BotoCoreError, ClientError) as error:
        print(json.dumps({"error": _say_what_to_do(error)}), file=sys.stderr)
        return 1
    return 2 if result.get("verified") is False else 0


def _say_what_to_do(error: Exception) -> str:
    """One line for the operator: what went wrong and what to do, never a traceback."""
    from botocore.exceptions import ClientError, EndpointConnectionError, NoCredentialsError, NoRegionError

    if isinstance(error, DomainError):
        return error.message
    if isinstance(error, ValidationError) and error.title == "Settings":
        return "which deployment? use --stack NAME (a deployed stack) or --local (the local cloud of make run)"
    if isinstance(error, NoRegionError):
        return "no AWS region: set AWS_DEFAULT_REGION (or your profile's region) to the stack's region"
    if isinstance(error, NoCredentialsError):
        return "no AWS credentials: configure them (aws configure, AWS_PROFILE or the environment) for its account"
    if isinstance(error, EndpointConnectionError):
        return f"cannot reach {error.kwargs.get('endpoint_url')}: for --local, is `make run` still running?"
    if isinstance(error, ClientError):
        details = error.response.get("Error", {})
        return f"AWS refused {error.operation_name}: {details.get('Code')}: {details.get('Message')}"
    return str(error)


def _types_command(args: argparse.Namespace) -> dict[str, Any]:
    from audit_service.domain.audit import Ref
    from audit_service.domain.errors import NotFound
    from audit_service.domain.event_types import EventTypeDeclaration

    registry = container.event_type_registry()
    if args.action == "list":
        return {"types": [entry.view() for entry in registry.current_types()]}
    actor = container.accounts().get_user(args.actor)
    author = Ref(id=actor.id, name=actor.profile.name)
    if args.action == "register":
        declaration = EventTypeDeclaration.model_validate_json(Path(args.file).read_text())
    else:
        current = registry.current(args.type)
        if current is None:
            raise NotFound(f"no event type {args.type!r}")
        declaration = current.declaration.model_copy(update={"deprecated": True})
    registered, created = registry.register(declaration, author=author, source=f"ld-audit-admin (user {actor.id})")
    return {"type": registered.view(), "created": created}
