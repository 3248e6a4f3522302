"""boto3 clients, created once per container, with one retry policy.

Standard retry mode retries throttling and transient faults with backoff;
a request that still fails surfaces as an error (and, for queue consumers,
the message is redelivered) rather than being dropped.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=3, read_timeout=10)


@cache
def client(service: str) -> Any:
    return boto3.client(service, config=_CONFIG)


def reset_clients() -> None:
    """Forget every client (tests and the local cloud)."""
    client.cache_clear()


def client_as(service: str, credentials: dict[str, Any], *, region: str | None = None) -> Any:
    """A client that calls as another principal (an assumed role's temporary ``Credentials``), not cached."""
    return boto3.client(
        service,
        region_name=region,
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
        config=_CONFIG,
    )
