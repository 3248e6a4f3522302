"""The checkpoints table: each owner's signed checkpoints and their blocks. Put-only.

Layout (docs/data-model.md): ``pk = <owner>`` (a tenant id, or ``platform``);
``sk = checkpoint#<number>`` for a checkpoint (small: the chain is read whole)
and ``sk = block#<number>`` for its block (the entries as compact JSON, DEFLATE-compressed
(zlib) into one binary attribute: less than half the bytes, stored and backed up for the
records' whole retention; blocks written before that hold a JSON string and still read). Both are
written in one transaction, conditional on the number being free, so two
sealers racing for a tenant's next number cannot both win.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Iterator
from typing import Any

from botocore.exceptions import ClientError

from audit_service.dal.dynamo import cancellation_reasons, error_code, from_item, to_item
from audit_service.integrity.checkpoints import Checkpoint
from audit_service.integrity.records import Entry

CHECKPOINT = "checkpoint#"
BLOCK = "block#"
_PUT_ONLY = "attribute_not_exists(pk)"
_BATCH_GET_LIMIT = 100
_MOST_BLOCK_BYTES = 1 << 20  # a block of 1,000 entries is ~150 KB of JSON; more is damage, not data


def _sk(prefix: str, number: int) -> str:
    return f"{prefix}{number:012d}"


def _checkpoint(item: dict[str, Any]) -> Checkpoint:
    values = from_item(item)
    return Checkpoint.from_dict(values)


class CheckpointStore:
    def __init__(self, dynamodb: Any, *, table: str) -> None:
        self._db = dynamodb
        self._table = table

    def append(self, checkpoint: Checkpoint, entries: list[Entry]) -> bool:
        """Store ``checkpoint`` and its block; False if its number is already taken."""
        header = {"pk": checkpoint.owner, "sk": _sk(CHECKPOINT, checkpoint.number), **checkpoint.as_dict()}
        block = {
            "pk": checkpoint.owner,
            "sk": _sk(BLOCK, checkpoint.number),
            "entries": encode_entries(entries),
            "expires_at": checkpoint.expires_at,
        }
        try:
            self._db.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": self._table, "Item": to_item(item), "ConditionExpression": _PUT_ONLY}}
                    for item in (header, block)
                ]
            )
        except ClientError as error:
            if error_code(error) == "TransactionCanceledException" and (
                "ConditionalCheckFailed" in cancellation_reasons(error)
            ):
                return False
            raise
        return True

    def newest(self, owner: str, *, limit: int = 1) -> Iterator[Checkpoint]:
        """The owner's checkpoints, newest first (consistent reads: a sealer chains on them)."""
        yield from self._headers(owner, newest_first=True, limit=limit)

    def chain(self, owner: str, *, start: int = 1) -> list[Checkpoint]:
        """The stored checkpoints of ``owner`` numbered ``start`` and up, oldest first."""
        return list(self.oldest_first(owner, start=start))

    def oldest_first(self, owner: str, *, start: int = 1) -> Iterator[Checkpoint]:
        """Like ``chain``, read lazily (a page of up to 1,000 at a time)."""
        yield from self._headers(owner, newest_first=False, limit=1000, start=start)

    def first_sealed_since(self, owner: str, sealed_at: str) -> int | None:
        """The lowest number of a checkpoint sealed at or after ``sealed_at`` (None: there is none).

        Numbers and seal times grow together, so this is a binary search: about
        log2(checkpoints) single-item reads instead of reading the whole chain.
        A missing number (expired, or removed) is stepped over to the next one stored.
        """
        head = next(self.newest(owner), None)
        if head is None or head.sealed_at < sealed_at:
            return None
        # Invariant: the first checkpoint stored at or after number ``high`` was sealed in time; it is ``answer``.
        low, high, answer = 1, head.number, head.number
        while low < high:
            middle = (low + high) // 2
            found = next(self._headers(owner, newest_first=False, limit=1, start=middle))
            if found.sealed_at >= sealed_at:
                high, answer = middle, found.number
            else:
                low = found.number + 1
        return answer

    def blocks(self, owner: str, numbers: Iterable[int]) -> dict[int, list[Entry]]:
        wanted = sorted(set(numbers))
        found: dict[int, list[Entry]] = {}
        for start in range(0, len(wanted), _BATCH_GET_LIMIT):
            keys = [{"pk": {"S": owner}, "sk": {"S": _sk(BLOCK, n)}} for n in wanted[start : start + _BATCH_GET_LIMIT]]
            request: dict[str, Any] = {self._table: {"Keys": keys, "ConsistentRead": True}}
            while request:
                response = self._db.batch_get_item(RequestItems=request)
                for item in response["Responses"].get(self._table, []):
                    number = int(item["sk"]["S"].removeprefix(BLOCK))
                    found[number] = _entries(item)
                request = response.get("UnprocessedKeys") or {}
        return found

    def _headers(self, owner: str, *, newest_first: bool, limit: int, start: int = 1) -> Iterator[Checkpoint]:
        arguments: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "pk = :owner AND sk BETWEEN :first AND :last",
            "ExpressionAttributeValues": {
                ":owner": {"S": owner},
                ":first": {"S": _sk(CHECKPOINT, max(start, 0))},
                ":last": {"S": _sk(CHECKPOINT, 10**12 - 1)},
            },
            "ScanIndexForward": not newest_first,
            "ConsistentRead": True,
            "Limit": limit,
        }
        while True:
            response = self._db.query(**arguments)
            for item in response["Items"]:
                yield _checkpoint(item)
            if "LastEvaluatedKey" not in response:
                return
            arguments["ExclusiveStartKey"] = response["LastEvaluatedKey"]


def encode_entries(entries: Iterable[Entry]) -> bytes:
    """A block's entries as stored: their compact JSON list, zlib-compressed (any zlib library reads it)."""
    return zlib.compress(json.dumps([entry.as_list() for entry in entries], separators=(",", ":")).encode(), 9)


def decode_entries(value: dict[str, Any]) -> list[list[Any]]:
    """The entries of a block's stored ``entries`` attribute (binary: compressed; string: a block from before)."""
    if "B" in value:
        inflater = zlib.decompressobj()
        text = inflater.decompress(bytes(value["B"]), _MOST_BLOCK_BYTES)
        if inflater.unconsumed_tail or not inflater.eof:
            raise ValueError("a block's entries must be one complete zlib stream of at most 1 MB")
        entries: list[list[Any]] = json.loads(text)
    else:
        entries = json.loads(value["S"])
    return entries


def _entries(item: dict[str, Any]) -> list[Entry]:
    """A block's entries; a damaged block reads as empty, and then fails its checkpoint's root."""
    try:
        return [Entry.from_list(values) for values in decode_entries(item["entries"])]
    except (KeyError, TypeError, ValueError, zlib.error):
        return []
