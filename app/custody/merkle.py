"""RFC 9162 (Certificate Transparency v2) Merkle tree and signed checkpoints. Pure.

Hashing follows RFC 9162 §2.1.1 exactly: a leaf hash is ``SHA-256(0x00 || leaf)``,
an interior node is ``SHA-256(0x01 || left || right)``, the tree of ``n > 1``
leaves splits at the largest power of two smaller than ``n``, and the empty
tree's root is ``SHA-256("")``.

Proofs can be generated two ways:

* from the leaf hashes (``inclusion_proof``, ``consistency_proof``): O(n) time
  and memory, for tests and small logs;
* from stored node hashes (``inclusion_proof_from_nodes``,
  ``consistency_proof_from_nodes``): the caller passes ``get_node(level, index)``
  returning the hash of the *perfect* subtree that covers leaves
  ``[index * 2**level, (index + 1) * 2**level)``. Those nodes never change once
  complete, so the batch integrator can store each one as ``MerkleAccumulator.append``
  reports it. A proof then reads O(log n) stored nodes and hashes at most
  O(log² n) times to rebuild the incomplete right edge of an older tree size.

Verification implements the RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2
(consistency) algorithms step by step and raises ``ProofError`` on any failure.

Checkpoints use the C2SP ``tlog-checkpoint`` body (origin, tree size, base64
root, optional extension lines) inside a C2SP ``signed-note`` with an Ed25519
signature line ``— <key name> base64(key ID || signature)``, where
``key ID = SHA-256(key name || 0x0A || 0x01 || public key)[:4]``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from app.custody.errors import BadSignature, CheckpointError, ProofError

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "Checkpoint",
    "MerkleAccumulator",
    "NodeReader",
    "consistency_proof",
    "consistency_proof_from_nodes",
    "inclusion_proof",
    "inclusion_proof_from_nodes",
    "leaf_hash",
    "node_hash",
    "note_key_id",
    "perfect_levels",
    "root",
    "sign_checkpoint",
    "subtree_root",
    "verifier_key",
    "verify_checkpoint",
    "verify_consistency",
    "verify_inclusion",
]

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

NodeReader = Callable[[int, int], bytes]
"""``get_node(level, index)``: hash of the perfect subtree of ``2**level`` leaves at ``index``."""


def leaf_hash(leaf: bytes) -> bytes:
    """Return the RFC 9162 leaf hash ``SHA-256(0x00 || leaf)``."""
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Return the RFC 9162 interior node hash ``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """Largest power of two strictly smaller than ``n`` (``n >= 2``)."""
    return 1 << ((n - 1).bit_length() - 1)


class MerkleAccumulator:
    """Append-only tree frontier: O(log n) hashes of memory, root in O(log n)."""

    def __init__(self, size: int = 0, peaks: Sequence[bytes] = ()) -> None:
        if size < 0 or len(peaks) != size.bit_count():
            raise ValueError("a tree of size n has exactly popcount(n) peaks")
        if any(len(p) != HASH_SIZE for p in peaks):
            raise ValueError("peaks must be 32-byte hashes")
        self._size = size
        self._peaks = list(peaks)

    @property
    def size(self) -> int:
        """Number of leaves appended so far."""
        return self._size

    @property
    def peaks(self) -> tuple[bytes, ...]:
        """Roots of the perfect subtrees, largest (leftmost) first; persist with ``size``."""
        return tuple(self._peaks)

    def append(self, leaf_hash: bytes) -> list[tuple[int, int, bytes]]:
        """Append one leaf hash; return the perfect nodes it completed as (level, index, hash)."""
        if len(leaf_hash) != HASH_SIZE:
            raise ValueError("leaf hash must be 32 bytes")
        level, index, current = 0, self._size, leaf_hash
        completed = [(0, index, current)]
        while (self._size >> level) & 1:
            current = node_hash(self._peaks.pop(), current)
            level += 1
            index >>= 1
            completed.append((level, index, current))
        self._peaks.append(current)
        self._size += 1
        return completed

    def extend(self, leaf_hashes: Sequence[bytes]) -> None:
        """Append several leaf hashes."""
        for h in leaf_hashes:
            self.append(h)

    def root(self) -> bytes:
        """Return the RFC 9162 root of the leaves appended so far."""
        if not self._peaks:
            return EMPTY_ROOT
        result = self._peaks[-1]
        for peak in reversed(self._peaks[:-1]):
            result = node_hash(peak, result)
        return result


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """Return the Merkle tree hash MTH of the given leaf hashes."""
    acc = MerkleAccumulator()
    acc.extend(leaf_hashes)
    return acc.root()


def perfect_levels(leaf_hashes: Sequence[bytes]) -> list[list[bytes]]:
    """Return every perfect subtree hash, level by level (level 0 = the leaf hashes)."""
    levels = [list(leaf_hashes)]
    while len(levels[-1]) >= 2:
        below = levels[-1]
        levels.append([node_hash(below[i], below[i + 1]) for i in range(0, len(below) - 1, 2)])
    return levels


def _reader(leaf_hashes: Sequence[bytes]) -> NodeReader:
    levels = perfect_levels(leaf_hashes)
    return lambda level, index: levels[level][index]


def subtree_root(get_node: NodeReader, start: int, end: int) -> bytes:
    """Return MTH(D[start:end]) from stored perfect nodes."""
    size = end - start
    if size <= 0:
        raise ValueError("empty range")
    if size & (size - 1) == 0 and start % size == 0:
        level = size.bit_length() - 1
        return get_node(level, start >> level)
    k = _split(size)
    left = subtree_root(get_node, start, start + k)
    return node_hash(left, subtree_root(get_node, start + k, end))


def inclusion_proof_from_nodes(index: int, tree_size: int, get_node: NodeReader) -> list[bytes]:
    """Return the RFC 9162 §2.1.3.1 audit path PATH(index, D[tree_size]) from stored nodes."""
    if not 0 <= index < tree_size:
        raise ProofError(f"leaf index {index} is outside a tree of size {tree_size}")
    path: list[bytes] = []
    lo, hi = 0, tree_size
    while hi - lo > 1:  # walk down from the root; the RFC lists the path leaf-first
        k = _split(hi - lo)
        if index < lo + k:
            path.append(subtree_root(get_node, lo + k, hi))
            hi = lo + k
        else:
            path.append(subtree_root(get_node, lo, lo + k))
            lo += k
    path.reverse()
    return path


def consistency_proof_from_nodes(size1: int, size2: int, get_node: NodeReader) -> list[bytes]:
    """Return the RFC 9162 §2.1.4.1 proof PROOF(size1, D[size2]) from stored nodes."""
    if not 0 <= size1 <= size2:
        raise ProofError(f"no consistency proof from size {size1} to size {size2}")
    if size1 == 0 or size1 == size2:
        return []  # nothing to prove: the empty tree and equal sizes need no hashes
    proof: list[bytes] = []
    m, lo, hi, complete = size1, 0, size2, True
    while True:  # SUBPROOF(m, D[lo:hi], complete), unrolled top-down
        n = hi - lo
        if m == n:
            if not complete:
                proof.append(subtree_root(get_node, lo, hi))
            break
        k = _split(n)
        if m <= k:
            proof.append(subtree_root(get_node, lo + k, hi))
            hi = lo + k
        else:
            proof.append(subtree_root(get_node, lo, lo + k))
            lo += k
            m -= k
            complete = False
    proof.reverse()
    return proof


def inclusion_proof(index: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """Return the audit path for ``index`` in the tree of all ``leaf_hashes`` (O(n))."""
    if not 0 <= index < len(leaf_hashes):
        raise ProofError(f"leaf index {index} is outside a tree of size {len(leaf_hashes)}")
    return inclusion_proof_from_nodes(index, len(leaf_hashes), _reader(leaf_hashes))


def consistency_proof(size1: int, leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """Return the proof that the first ``size1`` leaves are a prefix of all of them (O(n))."""
    if not 0 <= size1 <= len(leaf_hashes):
        raise ProofError(f"no consistency proof from size {size1} to size {len(leaf_hashes)}")
    return consistency_proof_from_nodes(size1, len(leaf_hashes), _reader(leaf_hashes))


def _check_hashes(*hashes: bytes) -> None:
    for h in hashes:
        if not isinstance(h, bytes) or len(h) != HASH_SIZE:
            raise ProofError("every hash must be 32 bytes")


def verify_inclusion(
    leaf_hash: bytes, index: int, tree_size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Verify an inclusion proof per RFC 9162 §2.1.3.2; raise ProofError if it fails."""
    _check_hashes(leaf_hash, root, *proof)
    # 1. leaf_index >= tree_size fails.
    if not 0 <= index < tree_size:
        raise ProofError(f"leaf index {index} is outside a tree of size {tree_size}")
    # 2. fn = leaf_index, sn = tree_size - 1; 3. r = hash.
    fn, sn, r = index, tree_size - 1, leaf_hash
    # 4. For each p in the inclusion path:
    for p in proof:
        # a. sn == 0 with hashes left: fail.
        if sn == 0:
            raise ProofError("inclusion proof is too long")
        # b. LSB(fn) set, or fn == sn: p is a left sibling.
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            # ii. climb past levels where this node has no right sibling.
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        # c. right-shift both once.
        fn >>= 1
        sn >>= 1
    # 5. sn must be 0 and r must equal the root.
    if sn != 0:
        raise ProofError("inclusion proof is too short")
    if r != root:
        raise ProofError("inclusion proof does not lead to the root")


def verify_consistency(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]
) -> None:
    """Verify a consistency proof per RFC 9162 §2.1.4.2; raise ProofError if it fails."""
    _check_hashes(root1, root2, *proof)
    if not 0 <= size1 <= size2:
        raise ProofError(f"tree size {size1} cannot precede tree size {size2}")
    # The RFC algorithm presumes 0 < first < second; the two trivial cases take an
    # empty proof (as in RFC 9162 §2.1.4.1, PROOF(m, D[m]) is empty).
    if size1 == size2:
        if proof:
            raise ProofError("equal tree sizes take an empty proof")
        if root1 != root2:
            raise ProofError("equal tree sizes with different roots")
        return
    if size1 == 0:
        if proof:
            raise ProofError("the empty tree takes an empty proof")
        if root1 != EMPTY_ROOT:
            raise ProofError("the empty tree's root is SHA-256 of the empty string")
        return
    # 1. An empty path fails.
    if not proof:
        raise ProofError("consistency proof is empty")
    path = list(proof)
    # 2. If first is an exact power of 2, prepend first_hash.
    if size1 & (size1 - 1) == 0:
        path.insert(0, root1)
    # 3. fn = first - 1, sn = second - 1.
    fn, sn = size1 - 1, size2 - 1
    # 4. If LSB(fn) is set, right-shift both until it is not.
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # 5. fr = sr = the first value of the path.
    fr = sr = path[0]
    # 6. For each subsequent value c:
    for c in path[1:]:
        # a. sn == 0 with hashes left: fail.
        if sn == 0:
            raise ProofError("consistency proof is too long")
        # b. LSB(fn) set, or fn == sn: c is a left sibling of both.
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            # iii. climb past levels where the node has no right sibling.
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        # c. right-shift both once.
        fn >>= 1
        sn >>= 1
    # 7. fr == first_hash, sr == second_hash, sn == 0.
    if sn != 0:
        raise ProofError("consistency proof is too short")
    if fr != root1:
        raise ProofError("consistency proof does not lead to the first root")
    if sr != root2:
        raise ProofError("consistency proof does not lead to the second root")


# --- signed checkpoints (C2SP tlog-checkpoint in a C2SP signed-note) ---------------

_EM_DASH = "\u2014"
_ED25519 = b"\x01"
_MAX_SIGNATURES = 100
_SIZE = re.compile(r"0|[1-9][0-9]*")


@dataclass(frozen=True)
class Checkpoint:
    """A verified tree head: origin, tree size, root hash and any extension lines."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def body(self) -> str:
        """Return the note text that is signed (ends with a newline)."""
        lines = [self.origin, str(self.size), base64.b64encode(self.root).decode("ascii")]
        return "\n".join([*lines, *self.extensions]) + "\n"


def _raw_public_key(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def _check_key_name(key_name: str) -> None:
    if not key_name or any(ch.isspace() or ch == "+" for ch in key_name):
        raise CheckpointError("a key name must be non-empty, without spaces or '+'")


def note_key_id(key_name: str, public_key: Ed25519PublicKey) -> bytes:
    """Return the 4-byte signed-note key ID of an Ed25519 key."""
    data = key_name.encode("utf-8") + b"\n" + _ED25519 + _raw_public_key(public_key)
    return hashlib.sha256(data).digest()[:4]


def verifier_key(key_name: str, public_key: Ed25519PublicKey) -> str:
    """Return the ``name+keyid+base64key`` verifier string used by note tooling."""
    _check_key_name(key_name)
    key = base64.b64encode(_ED25519 + _raw_public_key(public_key)).decode("ascii")
    return f"{key_name}+{note_key_id(key_name, public_key).hex()}+{key}"


def _check_text(text: str) -> None:
    if any(ord(ch) < 0x20 and ch != "\n" for ch in text):
        raise CheckpointError("a note must not contain control characters other than newline")


def sign_checkpoint(
    origin: str, size: int, root: bytes, private_key: Ed25519PrivateKey, key_name: str
) -> str:
    """Return a signed checkpoint note for the tree head (origin, size, root)."""
    _check_key_name(key_name)
    if not origin or "\n" in origin:
        raise CheckpointError("the origin must be one non-empty line")
    if size < 0 or len(root) != HASH_SIZE:
        raise CheckpointError("a tree head needs a size >= 0 and a 32-byte root")
    body = Checkpoint(origin, size, root).body()
    _check_text(body)
    key_id = note_key_id(key_name, private_key.public_key())
    signature = private_key.sign(body.encode("utf-8"))
    encoded = base64.b64encode(key_id + signature).decode("ascii")
    return f"{body}\n{_EM_DASH} {key_name} {encoded}\n"


def _b64(value: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise CheckpointError(f"{what} is not base64") from exc
    if base64.b64encode(raw).decode("ascii") != value:
        raise CheckpointError(f"{what} is not canonical base64")
    return raw


def _parse_body(body: str) -> Checkpoint:
    lines = body[:-1].split("\n")
    if len(lines) < 3 or any(not line for line in lines):
        raise CheckpointError("a checkpoint has at least three non-empty lines")
    origin, size_line, root_line, *extensions = lines
    if not _SIZE.fullmatch(size_line):
        raise CheckpointError("the tree size must be a decimal number without leading zeros")
    root = _b64(root_line, "the root hash")
    if len(root) != HASH_SIZE:
        raise CheckpointError("the root hash must be 32 bytes")
    return Checkpoint(origin, int(size_line), root, tuple(extensions))


def verify_checkpoint(
    text: str, public_key: Ed25519PublicKey, key_name: str | None = None
) -> Checkpoint:
    """Verify a signed checkpoint note with a trusted Ed25519 key and return its tree head.

    Signatures from other keys are ignored, as the signed-note spec requires; a
    signature from the trusted key that fails rejects the whole note. With no
    ``key_name`` the key is matched by its ID under the name on each line.
    """
    _check_text(text)
    if not text.endswith("\n"):
        raise CheckpointError("a signed note ends with a newline")
    split = text.rfind("\n\n")
    if split < 0:
        raise CheckpointError("no blank line before the signatures")
    body, signature_lines = text[: split + 1], text[split + 2 : -1].split("\n")
    if len(signature_lines) > _MAX_SIGNATURES:
        raise CheckpointError("too many signatures")
    checkpoint = _parse_body(body)
    verified = False
    for line in signature_lines:
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != _EM_DASH:
            raise CheckpointError("a signature line is '— <key name> <base64>'")
        name, blob = parts[1], _b64(parts[2], "a signature")
        _check_key_name(name)
        if len(blob) < 5:
            raise CheckpointError("a signature holds a key ID and at least one byte")
        if key_name is not None and name != key_name:
            continue
        if blob[:4] != note_key_id(name, public_key):
            continue  # another key's signature: ignore it
        try:
            public_key.verify(blob[4:], body.encode("utf-8"))
        except InvalidSignature as exc:
            raise BadSignature("the trusted key's signature does not verify") from exc
        verified = True
    if not verified:
        raise BadSignature("no signature from the trusted key")
    return checkpoint
