"""boto3 clients, created once per container from one botocore session, with one retry policy.

Standard retry mode retries throttling and transient faults with backoff;
a request that still fails surfaces as an error (and, for queue consumers,
the message is redelivered) rather than being dropped. Sharing one botocore
session lets every client, the Encryption SDK's KMS client included, reuse the
loaded endpoint and model data (measurably cheaper cold starts).
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
import botocore.session
from botocore.config import Config

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 5}, connect_timeout=3, read_timeout=10)


@cache
def botocore_session() -> botocore.session.Session:
    return botocore.session.get_session()


@cache
def client(service: str) -> Any:
    return boto3.Session(botocore_session=botocore_session()).client(service, config=_CONFIG)
