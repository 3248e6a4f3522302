"""Cached factories: one instance of each collaborator per container.

Heavy imports happen on first use, so a function only pays for what its
requests actually need: a factory imports its collaborator's module when first
called, and an envelope imports the Encryption SDK (~60 ms) on its first seal
or open (crypto/envelope.py), or at init where a function calls its ``load``.

On Lambda a process is one container. The local cloud runs every function in
one process; it names the container whose code is running in
``CURRENT_CONTAINER``, and each gets its own collaborators (its own caches of
plans, roles and data keys), as separate Lambda containers would. Outside any
function (the operator's tool, a test) the name is None.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import update_wrapper
from typing import TYPE_CHECKING, Any

from audit_service.aws import client, reset_clients
from audit_service.config import get_settings

CURRENT_CONTAINER: ContextVar[str | None] = ContextVar("audit_service_container", default=None)


class _PerContainer[T]:
    def __init__(self, factory: Callable[[], T]) -> None:
        self._factory = factory
        self._instances: dict[str | None, T] = {}
        self._lock = threading.RLock()
        update_wrapper(self, factory)
        _FACTORIES.append(self)

    def __call__(self) -> T:
        name = CURRENT_CONTAINER.get()
        try:
            return self._instances[name]
        except KeyError:
            with self._lock:
                if name not in self._instances:
                    self._instances[name] = self._factory()
                return self._instances[name]

    def cache_clear(self) -> None:
        with self._lock:
            self._instances.clear()

    def forget(self, container: str | None) -> None:
        with self._lock:
            self._instances.pop(container, None)


_FACTORIES: list[_PerContainer[Any]] = []


def forget(container: str | None) -> None:
    """Drop one container's collaborators: its next use starts cold (the local cloud recycling a container)."""
    for factory in _FACTORIES:
        factory.forget(container)


def cache[T](factory: Callable[[], T]) -> _PerContainer[T]:
    """One instance per container (see the module's docstring)."""
    return _PerContainer(factory)


@contextmanager
def inside(container: str | None) -> Iterator[None]:
    """Run a block as the named container would (tests and benches reach a function's own collaborators)."""
    token = CURRENT_CONTAINER.set(container)
    try:
        yield
    finally:
        CURRENT_CONTAINER.reset(token)


if TYPE_CHECKING:
    from audit_service.crypto.envelope import Envelope
    from audit_service.crypto.hashing import BlindIndex
    from audit_service.crypto.signing import KmsSigner
    from audit_service.dal.accounts import AccountsRepository
    from audit_service.dal.anchors import AnchorStore
    from audit_service.dal.checkpoints import CheckpointStore
    from audit_service.dal.counters import CounterStore
    from audit_service.dal.log_records import LogRecordStore
    from audit_service.dal.members import MembersRepository
    from audit_service.dal.streams import StreamsRepository
    from audit_service.dal.users import UsersRepository
    from audit_service.services.access_log import AccessLog
    from audit_service.services.accounts import Accounts
    from audit_service.services.audit_log import AuditLog
    from audit_service.services.auth import Authenticator
    from audit_service.services.changes import ChangeRecorder
    from audit_service.services.event_types import EventTypeRegistry
    from audit_service.services.gdpr import AccountErasure, AccountExport
    from audit_service.services.integrity import BundleDelivery, Integrity
    from audit_service.services.invitations import Invitations
    from audit_service.services.members import Members
    from audit_service.services.my_account import MyAccount
    from audit_service.services.notifications import Notifier
    from audit_service.services.sealer import Sealer
    from audit_service.services.security import SecurityEvents, SecuritySignals
    from audit_service.services.stream_delivery import Destinations, StreamDelivery, StreamRouter
    from audit_service.services.streams import LogStreams
    from audit_service.services.tenants import TenantDirectory
    from audit_service.services.totals import Counter, Totals
    from audit_service.services.workflows import Workflows


@cache
def accounts_repository() -> AccountsRepository:
    from audit_service.dal.accounts import AccountsRepository

    settings = get_settings()
    return AccountsRepository(
        client("dynamodb"),
        tenants_table=settings.tenants_table,
        users_table=settings.users_table,
        api_keys_table=settings.api_keys_table,
    )


@cache
def envelope() -> Envelope:
    from audit_service.crypto.envelope import Envelope

    settings = get_settings()
    return Envelope(settings.data_key_arn, cache_seconds=settings.data_key_cache_seconds)


@cache
def notifier() -> Notifier:
    """Publishes messages for the platform's mailer, sealed with the mailer key (which this service cannot open)."""
    from audit_service.crypto.envelope import Envelope
    from audit_service.services.notifications import Notifier

    settings = get_settings()
    mailer = Envelope(
        _required("mailer_key_arn", settings.mailer_key_arn), cache_seconds=settings.data_key_cache_seconds
    )
    return Notifier(client("events"), bus_name=_required("audit_event_bus", settings.audit_event_bus), envelope=mailer)


@cache
def blind_index() -> BlindIndex:
    from audit_service.crypto.hashing import BlindIndex

    return BlindIndex(client("kms"), get_settings().blind_index_key_arn)


@cache
def log_record_store() -> LogRecordStore:
    from audit_service.dal.log_records import LogRecordStore

    return LogRecordStore(client("dynamodb"), table=get_settings().audit_log_table)


@cache
def authenticator() -> Authenticator:
    from audit_service.services.auth import Authenticator

    return Authenticator(accounts_repository(), cache_ttl_seconds=get_settings().auth_cache_ttl_seconds)


@cache
def tenant_directory() -> TenantDirectory:
    from audit_service.services.tenants import TenantDirectory

    return TenantDirectory(accounts_repository(), ttl=get_settings().tenant_cache_ttl_seconds)


@cache
def security_events() -> SecurityEvents:
    from audit_service.services.security import SecurityEvents

    return SecurityEvents(
        log_record_store(),
        envelope(),
        plan_of=tenant_directory().plan_of,
        layout_of=tenant_directory().layout_of,
        platform_retention_days=get_settings().platform_retention_days,
        totals=totals,
    )


@cache
def security_signals() -> SecuritySignals:
    """Reports failures to the security-events queue; the queue client and the Encryption SDK load on the first."""
    from audit_service.services.security import SecuritySignals

    settings = get_settings()
    return SecuritySignals(
        lambda: client("sqs"), settings.security_events_queue_url, envelope, plan_of=tenant_directory().plan_of
    )


@cache
def audit_log() -> AuditLog:
    from audit_service.services.audit_log import AuditLog

    return AuditLog(
        log_record_store(),
        envelope(),
        tenant_directory(),
        types=event_type_registry,
        totals=totals,
        activity_shards=get_settings().max_log_shards,
    )


@cache
def event_type_registry() -> EventTypeRegistry:
    from audit_service.dal.event_types import EventTypeStore
    from audit_service.services.event_types import EventTypeRegistry

    settings = get_settings()
    table = settings.event_types_table
    store = EventTypeStore(client("dynamodb"), table=table) if table else None
    return EventTypeRegistry(store, change_recorder, ttl=settings.event_types_cache_seconds)


@cache
def access_log() -> AccessLog:
    from audit_service.services.access_log import AccessLog

    return AccessLog(
        log_record_store(),
        envelope(),
        tenant_directory(),
        platform_retention_days=get_settings().platform_retention_days,
        totals=totals,
    )


@cache
def members_repository() -> MembersRepository:
    from audit_service.dal.members import MembersRepository

    settings = get_settings()
    return MembersRepository(client("dynamodb"), tenants_table=settings.tenants_table, users_table=settings.users_table)


@cache
def change_recorder() -> ChangeRecorder:
    from audit_service.services.changes import ChangeRecorder

    return ChangeRecorder(
        audit_log(),
        log_record_store(),
        tenant_directory(),
        platform_retention_days=get_settings().platform_retention_days,
    )


@cache
def members() -> Members:
    from audit_service.services.members import Members

    return Members(members_repository(), envelope(), change_recorder())


@cache
def invitations() -> Invitations:
    from audit_service.dal.invitations import InvitationsRepository
    from audit_service.services.invitations import Invitations

    return Invitations(
        InvitationsRepository(client("dynamodb"), tenants_table=get_settings().tenants_table),
        envelope(),
        blind_index(),
        changes=change_recorder(),
        members=members(),
        members_repository=members_repository(),
        accounts=accounts_repository(),
        notifier=notifier,
    )


@cache
def my_account() -> MyAccount:
    from audit_service.services.my_account import MyAccount

    return MyAccount(
        users_repository(),
        accounts_repository(),
        envelope(),
        blind_index(),
        changes=change_recorder(),
        members=members(),
        notifier=notifier,
    )


@cache
def users_repository() -> UsersRepository:
    from audit_service.dal.users import UsersRepository

    settings = get_settings()
    return UsersRepository(client("dynamodb"), users_table=settings.users_table, tenants_table=settings.tenants_table)


@cache
def account_export() -> AccountExport:
    from audit_service.services.gdpr import AccountExport

    bucket = get_settings().exports_bucket
    if not bucket:
        raise RuntimeError("EXPORTS_BUCKET is not configured")
    return AccountExport(
        my_account(),
        accounts_repository(),
        users_repository(),
        invitations(),
        s3=client("s3"),
        bucket=bucket,
        changes=change_recorder(),
    )


@cache
def account_erasure() -> AccountErasure:
    from audit_service.dal.invitations import InvitationsRepository
    from audit_service.services.gdpr import AccountErasure

    return AccountErasure(
        users_repository(),
        accounts_repository(),
        members_repository(),
        InvitationsRepository(client("dynamodb"), tenants_table=get_settings().tenants_table),
        my_account(),
        changes=change_recorder(),
    )


@cache
def workflows() -> Workflows:
    from audit_service.services.workflows import Workflows

    return Workflows(client("stepfunctions"))


@cache
def accounts() -> Accounts:
    from audit_service.services.accounts import Accounts

    return Accounts(
        accounts_repository(), envelope(), blind_index(), changes=change_recorder(), members=members_repository()
    )


def _required(name: str, value: str | None) -> str:
    if not value:
        raise RuntimeError(f"{name.upper()} is not configured")
    return value


@cache
def checkpoint_store() -> CheckpointStore:
    from audit_service.dal.checkpoints import CheckpointStore

    return CheckpointStore(client("dynamodb"), table=_required("checkpoints_table", get_settings().checkpoints_table))


@cache
def anchor_store() -> AnchorStore:
    from audit_service.dal.anchors import AnchorStore

    return AnchorStore(client("s3"), bucket=_required("anchor_bucket", get_settings().anchor_bucket))


@cache
def signer() -> KmsSigner:
    from audit_service.crypto.signing import KmsSigner

    return KmsSigner(client("kms"), _required("signing_key_arn", get_settings().signing_key_arn))


@cache
def sealer() -> Sealer:
    from audit_service.services.integrity import authenticity
    from audit_service.services.sealer import Sealer

    return Sealer(
        checkpoint_store(),
        anchor_store(),
        signer(),
        authentic=authenticity(envelope(), key_faults_raise=True),
        retention_days=get_settings().checkpoint_retention_days,
    )


@cache
def integrity() -> Integrity:
    from audit_service.services.integrity import Integrity

    return Integrity(
        log_record_store(),
        checkpoint_store(),
        anchor_store(),
        signer(),
        envelope(),
        layout_of=tenant_directory().layout_of,
    )


@cache
def bundle_delivery() -> BundleDelivery:
    from audit_service.services.integrity import BundleDelivery

    return BundleDelivery(client("s3"), bucket=_required("exports_bucket", get_settings().exports_bucket))


@cache
def counter_store() -> CounterStore:
    from audit_service.dal.counters import CounterStore

    return CounterStore(client("dynamodb"), table=_required("COUNTERS_TABLE", get_settings().counters_table))


@cache
def totals() -> Totals:
    from audit_service.services.totals import Totals

    return Totals(counter_store(), log_record_store())


@cache
def counter() -> Counter:
    from audit_service.services.totals import Counter

    return Counter(counter_store())


@cache
def streams_repository() -> StreamsRepository:
    from audit_service.dal.streams import StreamsRepository

    return StreamsRepository(client("dynamodb"), table=_required("log_streams_table", get_settings().log_streams_table))


@cache
def log_streams() -> LogStreams:
    from audit_service.services.stream_delivery import SqsQueue
    from audit_service.services.streams import LogStreams

    settings = get_settings()
    return LogStreams(
        streams_repository(),
        envelope(),
        change_recorder(),
        members(),
        tenants=tenant_directory(),
        replays=SqsQueue(lambda: client("sqs"), settings.log_stream_route_queue_url),
        destinations=stream_destinations(),
    )


@cache
def stream_destinations() -> Destinations:
    from audit_service.services.stream_delivery import Destinations
    from audit_service.services.stream_s3 import S3Writer

    settings = get_settings()
    return Destinations(
        allow_local=settings.log_stream_allow_local_destinations,
        objects=S3Writer(lambda: client("sts"), service_account=settings.service_account_id),
    )


@cache
def stream_router() -> StreamRouter:
    from audit_service.services.stream_delivery import SqsQueue, StreamRouter

    settings = get_settings()
    return StreamRouter(
        streams_repository(),
        SqsQueue(lambda: client("sqs"), settings.log_stream_delivery_queue_url),
        records=log_record_store(),
        routes=SqsQueue(lambda: client("sqs"), settings.log_stream_route_queue_url),
    )


@cache
def stream_delivery() -> StreamDelivery:
    from audit_service.services.stream_delivery import SqsQueue, StreamDelivery

    settings = get_settings()
    views = {"audit": audit_log().view, "access": access_log().view, "security": security_events().view}
    return StreamDelivery(
        streams_repository(),
        log_record_store(),
        log_streams().destination,
        lambda kind, record: views[kind](record),
        SqsQueue(lambda: client("sqs"), settings.log_stream_dead_letter_queue_url),
        replays=SqsQueue(lambda: client("sqs"), settings.log_stream_route_queue_url),
        destinations=stream_destinations(),
        paused=security_signals().stream_paused,
        give_up_after=settings.log_stream_delivery_attempts,
    )


def reset() -> None:
    """Forget every cached collaborator (tests and the local cloud's re-seeding)."""
    for factory in _FACTORIES:  # every @cache factory registers itself: none can be forgotten here
        factory.cache_clear()
    get_settings.cache_clear()
    reset_clients()
