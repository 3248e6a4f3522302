"""Envelope encryption of an item's personal fields with the AWS Encryption SDK.

One encrypted message per item, holding all of its protected fields, so the
~330 bytes of message overhead are paid once per item (see docs/data-model.md).

Data keys come from KMS and are cached (CachingCryptoMaterialsManager), so a
warm container calls KMS once per encryption context and cache period rather
than once per item. The encryption context names who the data belongs to
(``tenant_id`` or ``user_id``), which keeps a cached data key from ever being
shared across owners. Because the cache is keyed by the encryption context, the
context deliberately does not contain per-record ids; instead the record's key
is sealed *inside* the message (``bind``) and checked on decrypt, so a
ciphertext copied to another record or another owner's partition is refused.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3

# The Encryption SDK is imported by an envelope's first seal or open (or by its
# ``load``), not with this module: its ~60 ms of imports, and the KMS provider
# built with them, would otherwise be paid at init by every function that holds
# an envelope, including those that use it only on a rare path (the security
# signal of a denied request). Functions that open personal data call ``load``
# at init, so that their requests do not pay for it.


class DecryptionFailed(Exception):
    """The message does not belong where it was found, or cannot be opened."""


class KeyUnavailable(Exception):
    """KMS did not give the message's data key: a fault (throttling, outage) or a key this service cannot use.

    Kept apart from DecryptionFailed so that a KMS fault is retried, never taken
    as proof that a record is forged.
    """


@dataclass(frozen=True)
class _Sdk:
    """What an envelope needs of the Encryption SDK, built on first use."""

    client: Any  # aws_encryption_sdk.EncryptionSDKClient
    materials: Any  # CachingCryptoMaterialsManager over the strict KMS provider
    algorithm: Any
    key_error: type[Exception]  # DecryptKeyError
    client_error: type[Exception]  # AWSEncryptionSDKClientError


def _load_sdk(key_arn: str, *, cache_seconds: float, cache_capacity: int) -> _Sdk:
    import aws_encryption_sdk
    from aws_encryption_sdk.caches.local import LocalCryptoMaterialsCache
    from aws_encryption_sdk.exceptions import AWSEncryptionSDKClientError, DecryptKeyError
    from aws_encryption_sdk.identifiers import Algorithm, CommitmentPolicy
    from aws_encryption_sdk.key_providers.kms import StrictAwsKmsMasterKeyProvider
    from aws_encryption_sdk.materials_managers.caching import CachingCryptoMaterialsManager

    class DefaultSessionKmsProvider(StrictAwsKmsMasterKeyProvider):  # type: ignore[misc]
        """The strict KMS provider, with its KMS client made from boto3's default session.

        By default the provider builds a boto3 session of its own over a new
        botocore session, which loads endpoint and model data again: ~45 ms of every
        cold start of a function that seals or opens personal data, against ~12 ms
        from the default session the function's other clients already use
        (measured in this project). The provider's per-client error handling is kept.
        """

        def add_regional_client(self, region_name: str) -> None:
            if region_name not in self._regional_clients:
                kms = boto3.client("kms", region_name=region_name, config=self._user_agent_adding_config)
                self._register_client(kms, region_name)
                self._regional_clients[region_name] = kms

    # The key ARN names its region; the KMS client honours AWS_ENDPOINT_URL locally.
    provider = DefaultSessionKmsProvider(key_ids=[key_arn])
    return _Sdk(
        client=aws_encryption_sdk.EncryptionSDKClient(
            commitment_policy=CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT
        ),
        materials=CachingCryptoMaterialsManager(
            master_key_provider=provider,
            cache=LocalCryptoMaterialsCache(capacity=cache_capacity),
            max_age=float(max(cache_seconds, 0.001)),
            max_messages_encrypted=1_000_000,
        ),
        # Unsigned, key-committing suite: a third of the default suite's size and
        # ~15x faster to encrypt (FIELD-NOTES); signatures add nothing here because
        # every reader is also a writer (same KMS key, same service).
        algorithm=Algorithm.AES_256_GCM_HKDF_SHA512_COMMIT_KEY,
        key_error=DecryptKeyError,
        client_error=AWSEncryptionSDKClientError,
    )


class Envelope:
    def __init__(self, key_arn: str, *, cache_seconds: float, cache_capacity: int = 1000) -> None:
        self._key_arn = key_arn
        self._cache_seconds = cache_seconds
        self._cache_capacity = cache_capacity
        self._loaded: _Sdk | None = None
        self._loading = threading.Lock()

    def load(self) -> None:
        """Import the Encryption SDK and build the KMS provider now, rather than on the first seal or open."""
        self._sdk()

    def _sdk(self) -> _Sdk:
        if self._loaded is None:
            with self._loading:
                if self._loaded is None:
                    self._loaded = _load_sdk(
                        self._key_arn, cache_seconds=self._cache_seconds, cache_capacity=self._cache_capacity
                    )
        return self._loaded

    def seal(self, fields: Mapping[str, Any], *, context: Mapping[str, str], bind: str) -> bytes:
        """Encrypt ``fields`` for the owner named in ``context``, bound to record key ``bind``."""
        sdk = self._sdk()
        plaintext = json.dumps({"bind": bind, "fields": fields}, separators=(",", ":"), default=str)
        ciphertext, _header = sdk.client.encrypt(
            source=plaintext.encode(),
            materials_manager=sdk.materials,
            encryption_context=dict(context),
            algorithm=sdk.algorithm,
        )
        return bytes(ciphertext)

    def open(self, ciphertext: bytes, *, context: Mapping[str, str], bind: str) -> dict[str, Any]:
        """Decrypt and check that the message belongs to this owner and record."""
        sdk = self._sdk()
        try:
            plaintext, header = sdk.client.decrypt(source=ciphertext, materials_manager=sdk.materials)
        except sdk.key_error as error:
            raise KeyUnavailable(f"cannot get the data key: {error}") from error
        except sdk.client_error as error:
            raise DecryptionFailed(f"cannot decrypt: {type(error).__name__}") from error
        stored = header.encryption_context
        if any(stored.get(name) != value for name, value in context.items()):
            raise DecryptionFailed("encryption context does not match the record's owner")
        body = json.loads(plaintext)
        if body.get("bind") != bind:
            raise DecryptionFailed("ciphertext was sealed for another record")
        fields: dict[str, Any] = body["fields"]
        return fields
