"""The integrity package's pure parts: RFC 9162 Merkle trees, record hashes, checkpoint signatures."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from audit_service.integrity import merkle
from audit_service.integrity.checkpoints import GENESIS, Checkpoint
from audit_service.integrity.records import record_hash


def leaves(n: int) -> list[bytes]:
    return [merkle.leaf_hash(f"record {i}".encode()) for i in range(n)]


def test_roots_follow_rfc_9162() -> None:
    a, b, c = leaves(3)
    node = lambda left, right: hashlib.sha256(b"\x01" + left + right).digest()  # noqa: E731
    assert merkle.root([]) == hashlib.sha256(b"").digest()
    assert merkle.root([a]) == a
    assert merkle.root([a, b]) == node(a, b)
    assert merkle.root([a, b, c]) == node(node(a, b), c)  # split at the largest power of two below n


@pytest.mark.parametrize("size", [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 33])
def test_every_leaf_has_a_path_to_the_root_and_no_other_leaf_does(size: int) -> None:
    tree = leaves(size)
    top = merkle.root(tree)
    for index in range(size):
        path = merkle.inclusion_path(tree, index)
        assert merkle.verify_inclusion(tree[index], index, size, path, top)
        other = (index + 1) % size
        if other != index:
            assert not merkle.verify_inclusion(tree[other], index, size, path, top)
        assert not merkle.verify_inclusion(tree[index], size, size, path, top)
        if path:
            broken = [bytes(32), *path[1:]]
            assert not merkle.verify_inclusion(tree[index], index, size, broken, top)


def test_record_hashes_cover_every_attribute_and_read_stream_and_sdk_forms_alike() -> None:
    sdk = {"pk": {"S": "7#audit"}, "sk": {"S": "e1"}, "expires_at": {"N": "100"}, "pii": {"B": b"\x00\x01"}}
    stream = {**sdk, "pii": {"B": "AAE="}}
    assert record_hash(sdk) == record_hash(stream)
    assert record_hash(sdk) != record_hash({**sdk, "expires_at": {"N": "101"}})
    assert record_hash(sdk) != record_hash({**sdk, "extra": {"S": ""}})


def test_a_checkpoint_signature_covers_every_field() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    public = private.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    unsigned = Checkpoint("7", 1, 1, 3, "ab" * 32, GENESIS, 0, "2026-11-26T00:00:00.000Z", 99, "a", "b", "key")
    signed = unsigned.signed(private.sign(unsigned.payload(), ec.ECDSA(hashes.SHA256())))
    assert signed.signature_valid(public)
    assert Checkpoint.from_dict(signed.as_dict()) == signed
    for name, value in (("owner", "8"), ("last_seq", 2), ("root", "cd" * 32), ("previous", "1" * 64)):
        assert not Checkpoint.from_dict({**signed.as_dict(), name: value}).signature_valid(public)
    assert not Checkpoint.from_dict({"owner": "7"}).signature_valid(public)  # a damaged item parses, then fails
