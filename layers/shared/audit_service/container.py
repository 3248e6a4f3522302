"""Cached factories: one instance of each collaborator per container.

Heavy imports (the Encryption SDK adds ~100 ms) happen on first use, so a
function only pays for what its requests actually need.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

from audit_service.aws import client
from audit_service.config import get_settings
from audit_service.dal.accounts import AccountsRepository

if TYPE_CHECKING:
    from audit_service.crypto.envelope import Envelope
    from audit_service.crypto.hashing import BlindIndex
    from audit_service.dal.log_records import LogRecordStore
    from audit_service.services.accounts import Accounts
    from audit_service.services.auth import Authenticator
    from audit_service.services.security import SecurityEvents


@cache
def accounts_repository() -> AccountsRepository:
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
def security_events() -> SecurityEvents:
    from audit_service.services.security import SecurityEvents

    repository = accounts_repository()

    def plan_of(tenant_id: int):  # type: ignore[no-untyped-def]
        tenant = repository.get_tenant(tenant_id)
        return tenant.plan if tenant else None

    return SecurityEvents(
        log_record_store(),
        envelope(),
        plan_of=plan_of,
        platform_retention_days=get_settings().platform_retention_days,
    )


@cache
def accounts() -> Accounts:
    from audit_service.services.accounts import Accounts

    return Accounts(accounts_repository(), envelope(), blind_index())


def reset() -> None:
    """Forget every cached collaborator (tests and the local cloud's re-seeding)."""
    for factory in (
        accounts_repository,
        envelope,
        blind_index,
        log_record_store,
        authenticator,
        security_events,
        accounts,
    ):
        factory.cache_clear()
    get_settings.cache_clear()
    client.cache_clear()
