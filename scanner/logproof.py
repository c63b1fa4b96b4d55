"""Check Tepat's published Merkle log without the server: checkpoints, consistency, inclusion.

An observer keeps the signed checkpoints (C2SP signed notes) and consistency proofs it
downloaded over time, and an item's proof bundle (``tepat-proof/v1``). This module
verifies them with nothing but the log's public key:

* every checkpoint carries a valid Ed25519 signature of the trusted key;
* checkpoints of one size agree on the root, and each checkpoint is proven to extend the
  one before it (RFC 9162 §2.1.4.2 consistency proofs): the log was only appended to;
* the bundle's checkpoint is signed and extends the history (same size and root, or a
  consistency proof from the newest kept checkpoint);
* each of the item's events is in the log (RFC 9162 §2.1.3.2 inclusion, the leaf hash
  recomputed from the event id and its chain digest) and the events chain one to the next.

Written apart from the server's ``app.custody.merkle`` on purpose: an observer should not
have to run the code of the party it checks. Tests cross-check the two.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from scanner.errors import LogProofError

__all__ = [
    "BUNDLE_FORMAT",
    "BundleReport",
    "Checkpoint",
    "History",
    "TrustedKey",
    "leaf_hash",
    "load_history",
    "node_hash",
    "verify_bundle",
    "verify_consistency",
    "verify_history",
    "verify_inclusion",
    "verify_note",
]

BUNDLE_FORMAT = "tepat-proof/v1"
_EM_DASH = "\u2014"
_SIZE = re.compile(r"0|[1-9][0-9]*")
_HEX = re.compile(r"(?:[0-9a-f]{2})*")


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 leaf hash ``SHA-256(0x00 || data)``."""
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 interior hash ``SHA-256(0x01 || left || right)``."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """RFC 9162 §2.1.3.2; raise LogProofError unless ``leaf`` is at ``index`` under ``root``."""
    if not 0 <= index < size:
        raise LogProofError(f"leaf index {index} is outside a tree of size {size}")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            raise LogProofError("inclusion proof is too long")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise LogProofError("inclusion proof is too short")
    if r != root:
        raise LogProofError("inclusion proof does not lead to the checkpoint's root")


def verify_consistency(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]
) -> None:
    """RFC 9162 §2.1.4.2; raise LogProofError unless tree ``size2`` extends tree ``size1``."""
    if not 0 < size1 <= size2:
        raise LogProofError(f"no consistency between sizes {size1} and {size2}")
    if size1 == size2:
        if proof or root1 != root2:
            raise LogProofError(f"two checkpoints of size {size1} with different roots")
        return
    if not proof:
        raise LogProofError("consistency proof is empty")
    path = list(proof)
    if size1 & (size1 - 1) == 0:
        path.insert(0, root1)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise LogProofError("consistency proof is too long")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise LogProofError("consistency proof is too short")
    if fr != root1 or sr != root2:
        raise LogProofError(
            f"the checkpoint of size {size2} does not extend the one of size {size1}: "
            "the log was rewritten"
        )


def _b64(value: str, what: str) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise LogProofError(f"{what} is not base64") from exc
    return raw


def _hex(value: Any, what: str) -> bytes:
    if not isinstance(value, str) or not _HEX.fullmatch(value) or len(value) != 64:
        raise LogProofError(f"{what} is not a 32-byte hex hash")
    return bytes.fromhex(value)


@dataclass(frozen=True)
class TrustedKey:
    """The log's Ed25519 key and its name in signed notes."""

    name: str
    public_key: bytes

    @property
    def key_id(self) -> bytes:
        """The 4-byte signed-note key ID."""
        data = self.name.encode("utf-8") + b"\n\x01" + self.public_key
        return hashlib.sha256(data).digest()[:4]

    @classmethod
    def parse(cls, text: str) -> TrustedKey:
        """A key from a verifier string ``name+id+base64`` or the JSON of /log/key."""
        text = text.strip()
        if text.startswith("{"):
            try:
                data = json.loads(text)
                return cls(str(data["key_name"]), _b64(str(data["public_key"]), "the key"))
            except (ValueError, KeyError, TypeError) as exc:
                raise LogProofError("the key file has no key_name and public_key") from exc
        parts = text.split("+", 2)
        if len(parts) != 3:
            raise LogProofError("a key is 'name+keyid+base64' or the JSON of /log/key")
        raw = _b64(parts[2], "the key")
        if len(raw) != 33 or raw[0] != 1:
            raise LogProofError("the verifier key is not an Ed25519 key")
        key = cls(parts[0], raw[1:])
        if key.key_id.hex() != parts[1]:
            raise LogProofError("the verifier key's ID does not match its key")
        return key


@dataclass(frozen=True)
class Checkpoint:
    """A verified tree head."""

    origin: str
    size: int
    root: bytes
    note: str


def verify_note(note: str, key: TrustedKey) -> Checkpoint:
    """Verify a signed checkpoint note with the trusted key and return its tree head."""
    if not note.endswith("\n") or "\n\n" not in note:
        raise LogProofError("not a signed note (no blank line before the signatures)")
    split = note.rfind("\n\n")
    body, signatures = note[: split + 1], note[split + 2 : -1].split("\n")
    lines = body[:-1].split("\n")
    if len(lines) < 3 or not _SIZE.fullmatch(lines[1]):
        raise LogProofError("a checkpoint is: origin, tree size, base64 root")
    root = _b64(lines[2], "the root")
    if len(root) != 32:
        raise LogProofError("the root is not 32 bytes")
    public = Ed25519PublicKey.from_public_bytes(key.public_key)
    for line in signatures:
        parts = line.split(" ")
        if len(parts) != 3 or parts[0] != _EM_DASH:
            raise LogProofError("a signature line is '\u2014 <key name> <base64>'")
        blob = _b64(parts[2], "a signature")
        if parts[1] != key.name or blob[:4] != key.key_id:
            continue
        try:
            public.verify(blob[4:], body.encode("utf-8"))
        except InvalidSignature as exc:
            raise LogProofError(
                f"checkpoint of size {lines[1]}: the signature does not verify"
            ) from exc
        return Checkpoint(lines[0], int(lines[1]), root, note)
    raise LogProofError(f"checkpoint of size {lines[1]}: no signature from the trusted key")


@dataclass
class History:
    """What an observer kept: checkpoint notes and consistency proofs between sizes."""

    notes: list[str] = field(default_factory=list)
    proofs: dict[tuple[int, int], list[bytes]] = field(default_factory=dict)

    def add(self, document: Any) -> None:
        """Take one downloaded file: a note, a checkpoints page, or a consistency proof."""
        if isinstance(document, str):
            if document.lstrip()[:1] in ("{", "["):
                try:
                    document = json.loads(document)
                except ValueError as exc:
                    raise LogProofError("a history file is neither a note nor JSON") from exc
            else:
                self.notes.append(document)
                return
        if not isinstance(document, dict):
            raise LogProofError("a history file holds an unknown kind of JSON")
        if "checkpoints" in document:
            for entry in document["checkpoints"]:
                self.notes.append(str(entry["note"]))
        elif {"first", "second", "proof"} <= set(document):
            pair = (int(document["first"]), int(document["second"]))
            self.proofs[pair] = [_hex(p, "a consistency hash") for p in document["proof"]]
            for key in ("first_checkpoint", "second_checkpoint"):
                if document.get(key):
                    self.notes.append(str(document[key]))
        elif "verifier_key" in document or "format" in document:
            return  # the key file or a bundle lying in the same folder
        else:
            raise LogProofError("a history file holds an unknown kind of JSON")


def load_history(paths: Iterable[Path]) -> History:
    """Read every file (folders: their *.txt and *.json files) into a History."""
    history = History()
    for path in paths:
        files = (
            sorted(p for p in path.iterdir() if p.suffix in (".txt", ".json"))
            if (path.is_dir())
            else [path]
        )
        for file in files:
            try:
                history.add(file.read_text(encoding="utf-8"))
            except OSError as exc:
                raise LogProofError(f"{file}: cannot read ({exc.strerror})") from exc
            except LogProofError as exc:
                raise LogProofError(f"{file}: {exc}") from exc
    return history


def verify_history(history: History, key: TrustedKey) -> list[Checkpoint]:
    """Verify every note and the consistency of consecutive sizes; return them by size."""
    by_size: dict[int, Checkpoint] = {}
    for note in history.notes:
        checkpoint = verify_note(note, key)
        known = by_size.get(checkpoint.size)
        if known is not None and known.root != checkpoint.root:
            raise LogProofError(
                f"two signed checkpoints of size {checkpoint.size} with different roots: "
                "the log forked"
            )
        by_size[checkpoint.size] = checkpoint
    ordered = [by_size[s] for s in sorted(by_size)]
    for old, new in zip(ordered, ordered[1:], strict=False):
        proof = history.proofs.get((old.size, new.size))
        if proof is None:
            raise LogProofError(
                f"no consistency proof from size {old.size} to {new.size}: download "
                f"/api/v1/public/log/consistency?first={old.size}&second={new.size}"
            )
        verify_consistency(old.size, new.size, old.root, new.root, proof)
    return ordered


def _leaf_data(domain: bytes, event_id: str, event_hash: bytes) -> bytes:
    try:
        raw_id = uuid.UUID(event_id).bytes
    except (ValueError, AttributeError, TypeError) as exc:
        raise LogProofError(f"{event_id!r} is not an event id") from exc
    return domain + raw_id + event_hash


@dataclass(frozen=True)
class BundleReport:
    """What a verified bundle proved."""

    serial: str
    checkpoint: Checkpoint
    logged: int
    pending: int


def verify_bundle(
    bundle: dict[str, Any], key: TrustedKey, history: Sequence[Checkpoint] = ()
) -> BundleReport:
    """Verify an item's proof bundle against the key and (optionally) the kept history."""
    if bundle.get("format") != BUNDLE_FORMAT:
        raise LogProofError(f"not a {BUNDLE_FORMAT} bundle")
    if not bundle.get("checkpoint"):
        raise LogProofError("the bundle has no checkpoint: nothing is logged yet")
    checkpoint = verify_note(str(bundle["checkpoint"]), key)
    if checkpoint.size != bundle.get("tree_size"):
        raise LogProofError("the bundle's tree size differs from its checkpoint")
    if history:
        _extends(checkpoint, list(history), bundle.get("consistency"), key)
    domain = _b64(str(bundle.get("leaf_domain", "")), "the leaf domain")
    previous: bytes | None = None
    logged = pending = 0
    for event in bundle.get("events") or []:
        seq = event.get("seq")
        digest = _hex(event.get("event_hash"), f"scan {seq}: the event hash")
        prev = _hex(event.get("prev_hash"), f"scan {seq}: the previous hash")
        if previous is not None and prev != previous:
            raise LogProofError(f"scan {seq}: the hash chain is broken (a scan is missing)")
        if previous is None and seq == 1 and prev != bytes(32):
            raise LogProofError("scan 1 does not start the hash chain")
        previous = digest
        if event.get("proof") is None:
            pending += 1
            continue
        leaf = leaf_hash(_leaf_data(domain, str(event.get("event_id")), digest))
        if leaf != _hex(event.get("leaf_hash"), f"scan {seq}: the leaf hash"):
            raise LogProofError(f"scan {seq}: the leaf does not match the event")
        path = [_hex(p, f"scan {seq}: a proof hash") for p in event["proof"]]
        try:
            verify_inclusion(leaf, int(event["leaf_index"]), checkpoint.size, path, checkpoint.root)
        except LogProofError as exc:
            raise LogProofError(f"scan {seq}: {exc}") from exc
        logged += 1
    return BundleReport(str(bundle.get("serial", "")), checkpoint, logged, pending)


def _extends(
    checkpoint: Checkpoint, history: list[Checkpoint], consistency: Any, key: TrustedKey
) -> None:
    """The bundle's checkpoint agrees with, or is proven to extend, the newest kept one."""
    same = next((c for c in history if c.size == checkpoint.size), None)
    if same is not None:
        if same.root != checkpoint.root:
            raise LogProofError(
                f"the bundle's checkpoint of size {checkpoint.size} differs from the kept one"
            )
        return
    newest = history[-1]
    if checkpoint.size < newest.size:
        raise LogProofError(
            f"the bundle's checkpoint (size {checkpoint.size}) is older than the kept history "
            f"(size {newest.size}) and not part of it"
        )
    if not isinstance(consistency, dict) or consistency.get("first") != newest.size:
        raise LogProofError(
            f"the bundle does not prove it extends the kept checkpoint of size {newest.size}: "
            f"download it with ?since={newest.size}"
        )
    proof = [_hex(p, "a consistency hash") for p in consistency.get("proof", [])]
    verify_consistency(newest.size, checkpoint.size, newest.root, checkpoint.root, proof)
