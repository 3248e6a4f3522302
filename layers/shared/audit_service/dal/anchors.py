"""Checkpoint anchors in the S3 bucket with Object Lock in compliance mode.

Every checkpoint is also written as ``anchors/<owner>/<inverted number>.json``.
Compliance-mode retention means no one, the account's root user included, can
delete or overwrite a stored version before it expires, so the newest anchored
checkpoint bounds how far the table's history can be cut short. The inverted,
zero-padded number makes S3's ascending listing put the newest first: finding
it is one ListObjectsV2 call with ``MaxKeys=1``.
"""

from __future__ import annotations

import json
from typing import Any

from audit_service.integrity.checkpoints import Checkpoint

_WIDTH = 12
_TOP = 10**_WIDTH - 1


def anchor_key(owner: str, number: int) -> str:
    return f"anchors/{owner}/{_TOP - number:0{_WIDTH}d}.json"


class AnchorStore:
    def __init__(self, s3: Any, *, bucket: str) -> None:
        self._s3 = s3
        self._bucket = bucket

    def put(self, checkpoint: Checkpoint) -> None:
        self._s3.put_object(
            Bucket=self._bucket,
            Key=anchor_key(checkpoint.owner, checkpoint.number),
            Body=json.dumps(checkpoint.as_dict(), sort_keys=True).encode(),
            ContentType="application/json",
            ChecksumAlgorithm="SHA256",  # Object Lock requires an integrity checksum on every put
        )

    def newest(self, owner: str) -> Checkpoint | None:
        listing = self._s3.list_objects_v2(Bucket=self._bucket, Prefix=f"anchors/{owner}/", MaxKeys=1)
        contents = listing.get("Contents", [])
        if not contents:
            return None
        body = self._s3.get_object(Bucket=self._bucket, Key=contents[0]["Key"])["Body"].read()
        try:
            return Checkpoint.from_dict(json.loads(body))
        except (TypeError, ValueError):
            return Checkpoint.from_dict({"owner": owner})  # unreadable: fails its signature
