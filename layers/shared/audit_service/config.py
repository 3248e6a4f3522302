"""Typed configuration, parsed from the environment once per cold start."""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, model_validator


class Settings(BaseModel):
    """Everything a function needs to know about its environment.

    The template sets the same variables on every function (Globals); what a
    function may actually touch is decided by its IAM role, not by this model.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    tenants_table: str = Field(min_length=3)
    users_table: str = Field(min_length=3)
    api_keys_table: str = Field(min_length=3)
    audit_log_table: str = Field(min_length=3)
    data_key_arn: str = Field(min_length=1)
    blind_index_key_arn: str = Field(min_length=1)
    platform_retention_days: int = Field(default=400, ge=1)
    auth_cache_ttl_seconds: int = Field(default=60, ge=0, le=3600)
    data_key_cache_seconds: int = Field(default=300, ge=0, le=86400)
    tenant_cache_ttl_seconds: int = Field(default=60, ge=0, le=3600)
    dead_letter_queue_url: str | None = None
    security_events_queue_url: str | None = None
    exports_bucket: str | None = None
    export_state_machine_arn: str | None = None
    erasure_state_machine_arn: str | None = None
    checkpoints_table: str | None = None
    counters_table: str | None = None  # the listings' totals (services/totals.py)
    # The most write shards a tenant's log may have (domain/shards.py): what a user's activity is read across.
    max_log_shards: int = Field(default=1, ge=1, le=16)
    event_types_table: str | None = None  # the registry; without it, today's catalog alone
    event_types_cache_seconds: float = Field(default=60.0, ge=0, le=3600)
    signing_key_arn: str | None = None
    anchor_bucket: str | None = None
    # Messages for people: published on the bus, sealed with the mailer's key (services/notifications.py).
    audit_event_bus: str | None = None
    mailer_key_arn: str | None = None
    # Checkpoints and their anchors outlive every record they cover.
    checkpoint_retention_days: int = Field(default=800, ge=2)
    # Log streams (services/streams.py, services/stream_delivery.py).
    log_streams_table: str | None = None
    log_stream_route_queue_url: str | None = None
    log_stream_delivery_queue_url: str | None = None
    log_stream_dead_letter_queue_url: str | None = None
    # Plain http to loopback destinations: the local cloud's receiver only; never on AWS (template parameter).
    log_stream_allow_local_destinations: bool = False
    # Attempts before a delivery is kept in the dead-letter queue; the back-off between them doubles from
    # LOG_STREAM_RETRY_BASE_SECONDS (docs/architecture.md, Log streams).
    log_stream_delivery_attempts: int = Field(default=8, ge=1, le=100)
    log_stream_retry_base_seconds: int = Field(default=30, ge=0, le=900)
    # The account the functions run in: an S3 stream's role must be in another one (domain/streams.py).
    service_account_id: str | None = Field(default=None, pattern=r"^[0-9]{12}$")
    workflow_wait_seconds: float = Field(default=20.0, ge=0, le=25)
    aws_region: str = Field(default="us-east-1")

    @model_validator(mode="after")
    def _checkpoints_outlive_records(self) -> Settings:
        if self.checkpoint_retention_days <= self.platform_retention_days:
            raise ValueError(
                "CHECKPOINT_RETENTION_DAYS must exceed PLATFORM_RETENTION_DAYS: "
                "a checkpoint must outlive every record it covers"
            )
        return self


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings.model_validate({k.lower(): v for k, v in os.environ.items()})
