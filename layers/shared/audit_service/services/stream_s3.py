"""An S3 stream's deliveries, written into the customer's bucket through the customer's role.

The delivery function assumes the stream's role (``sts:AssumeRole`` with the stream's external ID, 15 minutes)
and puts each delivery as one gzip-compressed JSON-lines object; the credentials are kept per stream until
5 minutes before they expire. Any failure is reported as a ``Sent`` that is not ok, exactly like an HTTP
destination that did not answer 2xx, so retries, the dead-letter queue and the auto-pause are the same. Its
message is the step and the AWS error code only: never the error's text, which can quote ARNs and policies,
and never the credentials.
"""

from __future__ import annotations

import gzip
import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from audit_service.aws import client_as
from audit_service.domain.streams import DestinationRefused, check_role, role_account
from audit_service.services.stream_delivery import Sent

SESSION_SECONDS = 900  # the shortest session STS gives
REFRESH_BEFORE_SECONDS = 300  # a delivery (30 s at most) never starts on credentials about to expire


def _failure(step: str, error: ClientError | BotoCoreError) -> Sent:
    if isinstance(error, ClientError):
        status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        code = str(error.response.get("Error", {}).get("Code", "")) or "error"
        return Sent(int(status) if status else None, f"{step}: {code}"[:200])
    return Sent(None, f"{step}: no answer: {type(error).__name__}")


class S3Writer:
    def __init__(
        self,
        sts: Callable[[], Any],
        *,
        service_account: str | None,
        s3_as: Callable[..., Any] = client_as,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._sts = sts
        self._account = service_account
        self._s3_as = s3_as
        self._clock = clock
        self._clients: dict[tuple[str, ...], tuple[float, Any]] = {}

    def check(self, role_arn: str) -> None:
        """Refuse a role this service may not assume for a stream (DestinationRefused)."""
        if self._account is None:
            raise DestinationRefused("S3 destinations are not configured here (SERVICE_ACCOUNT_ID)")
        check_role(role_arn, service_account=self._account)

    def put(self, stream_id: str, fields: dict[str, str], body: bytes, *, key: str) -> Sent:
        """Write ``body`` (gzip-compressed) to ``<prefix><key>`` in the stream's bucket, as its role."""
        try:
            self.check(fields["role_arn"])
        except DestinationRefused as error:
            return Sent(None, f"destination refused: {error}")
        cache_key = (stream_id, fields["role_arn"], fields["external_id"], fields.get("region") or "")
        try:
            s3 = self._client(stream_id, fields, cache_key)
        except (ClientError, BotoCoreError) as error:
            return _failure("assume role", error)
        try:
            response = s3.put_object(
                Bucket=fields["bucket"],
                Key=f"{fields.get('prefix', '')}{key}",
                Body=gzip.compress(body),
                ContentType="application/x-ndjson",
                ContentEncoding="gzip",
                # Only into a bucket of the role's own account: a role that can also write to someone else's
                # bucket (of the same name, after this one is deleted) does not make us write there.
                ExpectedBucketOwner=role_account(fields["role_arn"]),
            )
        except (ClientError, BotoCoreError) as error:
            # Assume again on the next attempt: the customer may have fixed the role, or the session ended.
            self._clients.pop(cache_key, None)
            return _failure("put object", error)
        return Sent(int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 200)), "OK")

    def _client(self, stream_id: str, fields: dict[str, str], cache_key: tuple[str, ...]) -> Any:
        cached = self._clients.get(cache_key)
        if cached is not None and self._clock() < cached[0]:
            return cached[1]
        credentials = self._sts().assume_role(
            RoleArn=fields["role_arn"],
            RoleSessionName=f"ld-stream-{stream_id}",
            ExternalId=fields["external_id"],
            DurationSeconds=SESSION_SECONDS,
        )["Credentials"]
        s3 = self._s3_as("s3", credentials, region=fields.get("region") or None)
        until = credentials["Expiration"].timestamp() - REFRESH_BEFORE_SECONDS
        self._clients[cache_key] = (until, s3)
        return s3
