"""Merkle trees as in RFC 9162 (Certificate Transparency v2), over SHA-256.

Leaves and interior nodes are hashed with different prefixes (0x00, 0x01), so
an interior node can never be passed off as a leaf. Written here rather than
taken from a library: the two functions below are the whole algorithm, they are
the format auditors re-implement from the RFC, and the Lambda layer stays small.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

_LEAF = b"\x00"
_NODE = b"\x01"


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(_LEAF + data).digest()


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(_NODE + left + right).digest()


def _split(size: int) -> int:
    """The largest power of two smaller than ``size`` (size > 1)."""
    return 1 << ((size - 1).bit_length() - 1)


def root(leaves: Sequence[bytes]) -> bytes:
    """The tree head over already-hashed leaves."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return leaves[0]
    k = _split(len(leaves))
    return _node(root(leaves[:k]), root(leaves[k:]))


def inclusion_path(leaves: Sequence[bytes], index: int) -> list[bytes]:
    """The audit path of leaf ``index``: the sibling hashes from the leaf up to the root."""
    if not 0 <= index < len(leaves):
        raise IndexError(f"leaf {index} is not in a tree of {len(leaves)}")
    if len(leaves) == 1:
        return []
    k = _split(len(leaves))
    if index < k:
        return [*inclusion_path(leaves[:k], index), root(leaves[k:])]
    return [*inclusion_path(leaves[k:], index - k), root(leaves[:k])]


def verify_inclusion(leaf: bytes, index: int, size: int, path: Sequence[bytes], expected_root: bytes) -> bool:
    """RFC 9162 section 2.1.3.2: does ``path`` prove ``leaf`` at ``index`` in the tree with ``expected_root``?"""
    if not 0 <= index < size:
        return False
    fn, sn, current = index, size - 1, leaf
    for sibling in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            current = _node(sibling, current)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            current = _node(current, sibling)
        fn >>= 1
        sn >>= 1
    return sn == 0 and current == expected_root
