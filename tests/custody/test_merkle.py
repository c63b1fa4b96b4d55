"""RFC 9162 Merkle tree, proofs and signed checkpoints."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from app.custody import merkle
from app.custody.errors import BadSignature, CheckpointError, CustodyError, ProofError
from app.custody.merkle import (
    EMPTY_ROOT,
    MerkleAccumulator,
    consistency_proof,
    consistency_proof_from_nodes,
    inclusion_proof,
    inclusion_proof_from_nodes,
    leaf_hash,
    node_hash,
    perfect_levels,
    root,
    sign_checkpoint,
    verify_checkpoint,
    verify_consistency,
    verify_inclusion,
)

# RFC 6962 reference leaves and tree heads (the Certificate Transparency test vectors).
CT_LEAVES = [
    bytes.fromhex(h)
    for h in [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ]
]
CT_ROOTS = [
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
]
CT_HASHES = [leaf_hash(leaf) for leaf in CT_LEAVES]


def naive_mth(leaves: Sequence[bytes]) -> bytes:
    """RFC 9162 §2.1.1 MTH, written as literally as the RFC states it."""
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + naive_mth(leaves[:k]) + naive_mth(leaves[k:])).digest()


def data(n: int) -> list[bytes]:
    return [f"scan-{i}".encode() for i in range(n)]


def hashes(n: int) -> list[bytes]:
    return [leaf_hash(d) for d in data(n)]


# --- hashing --------------------------------------------------------------------------


def test_empty_tree_root_is_sha256_of_nothing() -> None:
    assert root([]) == EMPTY_ROOT == hashlib.sha256(b"").digest()
    assert EMPTY_ROOT.hex() == CT_ROOTS[0]


@pytest.mark.parametrize("size", range(len(CT_ROOTS)))
def test_root_matches_rfc6962_reference_vectors(size: int) -> None:
    assert root(CT_HASHES[:size]).hex() == CT_ROOTS[size]


def test_leaf_and_node_hashes_are_domain_separated() -> None:
    assert leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    a, b = leaf_hash(b"a"), leaf_hash(b"b")
    assert node_hash(a, b) == hashlib.sha256(b"\x01" + a + b).digest()
    assert node_hash(a, b) != leaf_hash(a + b)


@pytest.mark.parametrize("n", range(1, 71))
def test_root_equals_naive_recursive_mth(n: int) -> None:
    assert root(hashes(n)) == naive_mth(data(n))


def test_accumulator_matches_root_at_every_size_and_reports_perfect_nodes() -> None:
    acc = MerkleAccumulator()
    stored: dict[tuple[int, int], bytes] = {}
    leaves = hashes(70)
    for i, h in enumerate(leaves):
        for level, index, node in acc.append(h):
            stored[(level, index)] = node
        assert acc.size == i + 1
        assert acc.root() == naive_mth(data(i + 1))
        assert len(acc.peaks) == acc.size.bit_count()
    levels = perfect_levels(leaves)
    assert stored == {(lv, i): h for lv, level in enumerate(levels) for i, h in enumerate(level)}
    restored = MerkleAccumulator(acc.size, acc.peaks)
    restored.append(leaf_hash(b"next"))
    acc.append(leaf_hash(b"next"))
    assert restored.root() == acc.root()


def test_accumulator_rejects_inconsistent_restore_state() -> None:
    with pytest.raises(ValueError):
        MerkleAccumulator(3, [EMPTY_ROOT])
    with pytest.raises(ValueError):
        MerkleAccumulator().append(b"short")


# --- inclusion ----------------------------------------------------------------------

CT_INCLUSION = [
    (
        0,
        8,
        [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        [
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
]


@pytest.mark.parametrize(("index", "size", "expected"), CT_INCLUSION)
def test_inclusion_proof_matches_reference(index: int, size: int, expected: list[str]) -> None:
    proof = inclusion_proof(index, CT_HASHES[:size])
    assert [p.hex() for p in proof] == expected
    verify_inclusion(CT_HASHES[index], index, size, proof, bytes.fromhex(CT_ROOTS[size]))


def test_every_inclusion_proof_verifies_up_to_40_leaves() -> None:
    for n in range(1, 41):
        leaves = hashes(n)
        tree_root = naive_mth(data(n))
        for i in range(n):
            verify_inclusion(leaves[i], i, n, inclusion_proof(i, leaves), tree_root)


def _inclusion_tamperings(
    leaf: bytes, index: int, size: int, proof: list[bytes], tree_root: bytes
) -> list[tuple[str, tuple[bytes, int, int, list[bytes], bytes]]]:
    cases = [
        ("index >= size", (leaf, size, size, proof, tree_root)),
        ("negative index", (leaf, -1, size, proof, tree_root)),
        ("wrong index", (leaf, (index + 1) % size, size, proof, tree_root)),
        ("wrong root", (leaf, index, size, proof, leaf_hash(b"other"))),
        ("wrong leaf", (leaf_hash(b"forged"), index, size, proof, tree_root)),
        ("extra element", (leaf, index, size, [*proof, leaf], tree_root)),
        ("short hash", (leaf, index, size, [*proof[:-1], proof[-1][:31]], tree_root)),
    ]
    if proof:
        cases.append(("missing element", (leaf, index, size, proof[:-1], tree_root)))
        for j in range(len(proof)):
            flipped = list(proof)
            flipped[j] = bytes([flipped[j][0] ^ 1]) + flipped[j][1:]
            cases.append((f"flipped byte in element {j}", (leaf, index, size, flipped, tree_root)))
    return cases


def test_tampered_inclusion_proofs_fail() -> None:
    # A wrong tree size is not among the cases: for some shapes the same path is
    # valid in two sizes (RFC 9162 binds the size through the signed tree head).
    for n in range(2, 24):
        leaves = hashes(n)
        tree_root = root(leaves)
        for i in range(n):
            proof = inclusion_proof(i, leaves)
            for name, args in _inclusion_tamperings(leaves[i], i, n, proof, tree_root):
                if name == "wrong index" and n == 1:
                    continue
                with pytest.raises(ProofError):
                    verify_inclusion(*args)
                    pytest.fail(f"n={n} i={i}: {name} verified")


def test_single_leaf_tree_has_empty_proof() -> None:
    h = leaf_hash(b"only")
    assert inclusion_proof(0, [h]) == []
    verify_inclusion(h, 0, 1, [], h)
    with pytest.raises(ProofError):
        verify_inclusion(h, 0, 1, [h], h)


def test_proof_generation_rejects_index_outside_tree() -> None:
    with pytest.raises(ProofError):
        inclusion_proof(3, hashes(3))
    with pytest.raises(ProofError):
        consistency_proof(4, hashes(3))


# --- consistency --------------------------------------------------------------------

CT_CONSISTENCY = [
    (
        2,
        8,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        2,
        5,
        [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
]


@pytest.mark.parametrize(("size1", "size2", "expected"), CT_CONSISTENCY)
def test_consistency_proof_matches_reference(size1: int, size2: int, expected: list[str]) -> None:
    proof = consistency_proof(size1, CT_HASHES[:size2])
    assert [p.hex() for p in proof] == expected
    verify_consistency(
        size1, size2, bytes.fromhex(CT_ROOTS[size1]), bytes.fromhex(CT_ROOTS[size2]), proof
    )


def test_every_consistency_proof_verifies_up_to_40_leaves() -> None:
    roots = [naive_mth(data(n)) for n in range(41)]
    for n in range(0, 41):
        leaves = hashes(n)
        for m in range(0, n + 1):
            verify_consistency(m, n, roots[m], roots[n], consistency_proof(m, leaves))


def test_tampered_consistency_proofs_fail() -> None:
    roots = [root(hashes(n)) for n in range(25)]
    other = leaf_hash(b"other")
    for n in range(2, 25):
        leaves = hashes(n)
        for m in range(1, n):
            proof = consistency_proof(m, leaves)
            cases = [
                ("size1 > size2", (n, m, roots[n], roots[m], proof)),
                ("wrong size1", (m + 1, n, roots[m], roots[n], proof)),
                ("wrong root1", (m, n, other, roots[n], proof)),
                ("wrong root2", (m, n, roots[m], other, proof)),
                ("empty proof", (m, n, roots[m], roots[n], [])),
                ("missing element", (m, n, roots[m], roots[n], proof[:-1])),
                ("extra element", (m, n, roots[m], roots[n], [*proof, other])),
                ("short hash", (m, n, roots[m], roots[n], [proof[0][:31], *proof[1:]])),
            ]
            for j in range(len(proof)):
                flipped = list(proof)
                flipped[j] = bytes([flipped[j][0] ^ 0x80]) + flipped[j][1:]
                cases.append((f"flipped element {j}", (m, n, roots[m], roots[n], flipped)))
            for name, args in cases:
                if name == "wrong size1" and m + 1 == n:
                    continue  # equal sizes: rejected too, but by a different rule
                with pytest.raises(ProofError):
                    verify_consistency(*args)
                    pytest.fail(f"m={m} n={n}: {name} verified")


def test_trivial_consistency_cases() -> None:
    r3 = root(hashes(3))
    verify_consistency(3, 3, r3, r3, [])
    verify_consistency(0, 3, EMPTY_ROOT, r3, [])
    with pytest.raises(ProofError):
        verify_consistency(3, 3, r3, root(hashes(2)), [])
    with pytest.raises(ProofError):
        verify_consistency(3, 3, r3, r3, [r3])
    with pytest.raises(ProofError):
        verify_consistency(0, 3, r3, r3, [])
    with pytest.raises(ProofError):
        verify_consistency(4, 3, r3, r3, [r3])


def test_proofs_from_stored_nodes_match_proofs_from_leaves() -> None:
    """The integrator stores only perfect nodes; proofs for older sizes still match."""
    leaves = hashes(45)
    stored: dict[tuple[int, int], bytes] = {}
    acc = MerkleAccumulator()
    for h in leaves:
        for level, index, node in acc.append(h):
            stored[(level, index)] = node
    reads: list[tuple[int, int]] = []

    def get_node(level: int, index: int) -> bytes:
        reads.append((level, index))
        return stored[(level, index)]

    for n in range(1, 46):
        for i in range(n):
            assert inclusion_proof_from_nodes(i, n, get_node) == inclusion_proof(i, leaves[:n])
        for m in range(0, n + 1):
            assert consistency_proof_from_nodes(m, n, get_node) == consistency_proof(m, leaves[:n])
    reads.clear()
    inclusion_proof_from_nodes(17, 45, get_node)
    assert len(reads) <= 6**2  # O(log² n) stored reads, not O(n)


def test_proof_errors_are_custody_errors_with_stable_code() -> None:
    with pytest.raises(CustodyError) as info:
        verify_inclusion(EMPTY_ROOT, 0, 0, [], EMPTY_ROOT)
    assert info.value.code == "bad_proof"


# --- properties ---------------------------------------------------------------------


@settings(max_examples=60, deadline=None)
@given(
    leaves=st.lists(st.binary(max_size=8), min_size=1, max_size=90),
    data_=st.data(),
)
def test_property_inclusion_and_consistency(leaves: list[bytes], data_: st.DataObject) -> None:
    lh = [leaf_hash(x) for x in leaves]
    n = len(lh)
    assert root(lh) == naive_mth(leaves)
    i = data_.draw(st.integers(0, n - 1), label="index")
    verify_inclusion(lh[i], i, n, inclusion_proof(i, lh), root(lh))
    m = data_.draw(st.integers(0, n), label="size1")
    verify_consistency(m, n, root(lh[:m]), root(lh), consistency_proof(m, lh))


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(2, 64),
    data_=st.data(),
)
def test_property_any_single_bit_flip_breaks_inclusion(n: int, data_: st.DataObject) -> None:
    lh = hashes(n)
    i = data_.draw(st.integers(0, n - 1))
    proof = inclusion_proof(i, lh)
    j = data_.draw(st.integers(0, len(proof) - 1))
    bit = data_.draw(st.integers(0, 255))
    flipped = list(proof)
    element = bytearray(flipped[j])
    element[bit // 8] ^= 1 << (bit % 8)
    flipped[j] = bytes(element)
    with pytest.raises(ProofError):
        verify_inclusion(lh[i], i, n, flipped, root(lh))


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.tuples(st.integers(1, 64), st.integers(1, 64)),
    proof_len=st.integers(0, 8),
    seed=st.binary(min_size=1, max_size=4),
)
def test_property_random_proofs_do_not_verify(
    sizes: tuple[int, int], proof_len: int, seed: bytes
) -> None:
    m, n = min(sizes), max(sizes) + 1
    forged = [leaf_hash(seed + bytes([k])) for k in range(proof_len)]
    lh = hashes(n)
    with pytest.raises(ProofError):
        verify_consistency(m, n, root(lh[:m]), root(lh), forged)
    with pytest.raises(ProofError):
        verify_inclusion(lh[m], m, n, forged, root(lh))


# --- checkpoints --------------------------------------------------------------------

KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
OTHER = Ed25519PrivateKey.from_private_bytes(bytes(range(1, 33)))
ORIGIN = "tepat.example/log/62.10"


def signed(size: int = 20852163, tree_root: bytes | None = None) -> str:
    return sign_checkpoint(ORIGIN, size, tree_root or root(hashes(5)), KEY, ORIGIN)


def test_checkpoint_format_is_c2sp_signed_note() -> None:
    text = signed(5)
    body, sig = text.split("\n\n")
    assert body.split("\n") == [ORIGIN, "5", base64.b64encode(root(hashes(5))).decode()]
    assert sig.startswith("\u2014 " + ORIGIN + " ") and sig.endswith("\n")
    blob = base64.b64decode(sig.split(" ")[2])
    key_id = hashlib.sha256(
        ORIGIN.encode() + b"\n\x01" + KEY.public_key().public_bytes_raw()
    ).digest()[:4]
    assert blob[:4] == key_id == merkle.note_key_id(ORIGIN, KEY.public_key())
    assert len(blob) == 4 + 64
    KEY.public_key().verify(blob[4:], (body + "\n").encode())


def test_checkpoint_round_trip() -> None:
    text = signed(5)
    checkpoint = verify_checkpoint(text, KEY.public_key())
    assert (checkpoint.origin, checkpoint.size, checkpoint.root) == (ORIGIN, 5, root(hashes(5)))
    assert verify_checkpoint(text, KEY.public_key(), key_name=ORIGIN) == checkpoint
    assert checkpoint.body() + "\n" + text.split("\n\n")[1] == text


def test_empty_tree_checkpoint() -> None:
    checkpoint = verify_checkpoint(signed(0, EMPTY_ROOT), KEY.public_key())
    assert checkpoint.size == 0 and checkpoint.root == EMPTY_ROOT


def test_verifier_key_string() -> None:
    vkey = merkle.verifier_key(ORIGIN, KEY.public_key())
    name, key_id, key = vkey.split("+", 2)
    assert name == ORIGIN and bytes.fromhex(key_id) == merkle.note_key_id(ORIGIN, KEY.public_key())
    assert base64.b64decode(key) == b"\x01" + KEY.public_key().public_bytes_raw()


def _tamper(text: str, old: str, new: str) -> str:
    assert old in text
    return text.replace(old, new, 1)


@pytest.mark.parametrize(
    ("name", "mutate", "error"),
    [
        ("size changed", lambda t: _tamper(t, "\n5\n", "\n6\n"), BadSignature),
        ("origin changed", lambda t: _tamper(t, "62.10\n", "62.11\n"), BadSignature),
        (
            "root changed",
            lambda t: _tamper(
                t,
                base64.b64encode(root(hashes(5))).decode(),
                base64.b64encode(root(hashes(6))).decode(),
            ),
            BadSignature,
        ),
        ("extension line added", lambda t: _tamper(t, "\n\n", "\nextra\n\n"), BadSignature),
        (
            "signature byte flipped",
            lambda t: t[:-3] + ("A" if t[-3] != "A" else "B") + t[-2:],
            BadSignature,
        ),
        ("signature removed", lambda t: t.split("\n\n")[0] + "\n\n", CheckpointError),
        ("no blank line", lambda t: t.replace("\n\n", "\n"), CheckpointError),
        ("hyphen instead of em dash", lambda t: _tamper(t, "\u2014", "-"), CheckpointError),
        ("no final newline", lambda t: t[:-1], CheckpointError),
        ("leading zero size", lambda t: _tamper(t, "\n5\n", "\n05\n"), CheckpointError),
        ("control character", lambda t: _tamper(t, "tepat", "te\tpat"), CheckpointError),
        ("two lines only", lambda t: _tamper(t, "\n5\n", "\n"), CheckpointError),
    ],
)
def test_tampered_checkpoints_are_rejected(
    name: str, mutate: object, error: type[CheckpointError]
) -> None:
    assert callable(mutate)
    with pytest.raises(error):
        verify_checkpoint(mutate(signed(5)), KEY.public_key())


def test_checkpoint_from_another_key_is_rejected() -> None:
    forged = sign_checkpoint(ORIGIN, 5, root(hashes(5)), OTHER, ORIGIN)
    with pytest.raises(BadSignature) as info:
        verify_checkpoint(forged, KEY.public_key())
    assert info.value.code == "bad_signature"


def test_unknown_cosignatures_are_ignored_but_bad_known_ones_reject() -> None:
    text = signed(5)
    cosigned = sign_checkpoint(ORIGIN, 5, root(hashes(5)), OTHER, "witness.example/w1")
    witness_line = cosigned.split("\n\n")[1]
    both = text + witness_line
    assert verify_checkpoint(both, KEY.public_key()).size == 5
    assert verify_checkpoint(both, OTHER.public_key(), key_name="witness.example/w1").size == 5
    # A line claiming the trusted key's name and ID with a wrong signature rejects the note.
    own_line = text.split("\n\n")[1]
    blob = bytearray(base64.b64decode(own_line.split(" ")[2]))
    blob[10] ^= 1
    bad_line = f"\u2014 {ORIGIN} {base64.b64encode(bytes(blob)).decode()}\n"
    with pytest.raises(BadSignature):
        verify_checkpoint(text + bad_line, KEY.public_key())


def test_key_name_must_match_when_given() -> None:
    with pytest.raises(BadSignature):
        verify_checkpoint(signed(5), KEY.public_key(), key_name="someone.else/log")


def test_signing_rejects_bad_input() -> None:
    with pytest.raises(CheckpointError):
        sign_checkpoint(ORIGIN, 5, b"short", KEY, ORIGIN)
    with pytest.raises(CheckpointError):
        sign_checkpoint(ORIGIN, 5, EMPTY_ROOT, KEY, "has space")
    with pytest.raises(CheckpointError):
        sign_checkpoint("two\nlines", 5, EMPTY_ROOT, KEY, ORIGIN)
