"""tepat-verify's own RFC 9162 code agrees with the server's on every tree shape."""

from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given
from hypothesis import strategies as st

from app.custody import merkle
from scanner import LogProofError
from scanner.logproof import TrustedKey, verify_consistency, verify_inclusion, verify_note


def leaves(n: int) -> list[bytes]:
    return [merkle.leaf_hash(hashlib.sha256(str(i).encode()).digest()) for i in range(n)]


@given(st.integers(1, 70).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n - 1))))
def test_inclusion_proofs_of_the_server_verify_here(case: tuple[int, int]) -> None:
    size, index = case
    hashes = leaves(size)
    root = merkle.root(hashes)
    proof = merkle.inclusion_proof(index, hashes)
    verify_inclusion(hashes[index], index, size, proof, root)
    if proof:
        bad = [bytes(32)] + proof[1:]
        with pytest.raises(LogProofError):
            verify_inclusion(hashes[index], index, size, bad, root)


@given(st.integers(1, 70).flatmap(lambda n: st.tuples(st.integers(1, n), st.just(n))))
def test_consistency_proofs_of_the_server_verify_here(case: tuple[int, int]) -> None:
    first, second = case
    hashes = leaves(second)
    proof = merkle.consistency_proof(first, hashes)
    root1, root2 = merkle.root(hashes[:first]), merkle.root(hashes)
    verify_consistency(first, second, root1, root2, proof)
    if first < second:
        with pytest.raises(LogProofError):
            verify_consistency(first, second, merkle.root(leaves(first + 1)[1:]), root2, proof)


def test_notes_signed_by_the_server_verify_with_either_key_form() -> None:
    private = Ed25519PrivateKey.generate()
    note = merkle.sign_checkpoint("tepat.test/log", 3, merkle.root(leaves(3)), private, "k")
    key = TrustedKey.parse(merkle.verifier_key("k", private.public_key()))
    assert verify_note(note, key).size == 3
    with pytest.raises(LogProofError, match="signature does not verify"):
        verify_note(note.replace("\n3\n", "\n4\n"), key)
    other = TrustedKey.parse(merkle.verifier_key("k", Ed25519PrivateKey.generate().public_key()))
    with pytest.raises(LogProofError, match="no signature from the trusted key"):
        verify_note(note, other)
