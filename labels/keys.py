"""Ed25519 signing keys and the keyring of public keys that verifies labels.

Several key ids can be valid at once so keys can rotate: new labels are signed with an
active key while labels printed under a retired key still verify. Only a ``Signer``
obtained from ``Keyring.signer`` can sign labels, and it refuses once its key is retired.
The public half of a keyring travels to offline scanners as JSON::

    {"keys": [{"key_id": "gm-2024a", "public_key": "<base64 raw 32 bytes>",
               "status": "active"}]}
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from labels.errors import BadSignature, MalformedKeySet, RetiredKey, UnknownKey

KEY_ID_MAX_LENGTH = 16
_KEY_ID = re.compile(r"[A-Za-z0-9._-]{1,16}\Z")
_PEM_KEY_ID_HEADER = "Tepat-Key-Id: "


class KeyStatus(StrEnum):
    """Whether a key may sign new labels (active) or only verify old ones (retired)."""

    ACTIVE = "active"
    RETIRED = "retired"


def check_key_id(key_id: str) -> str:
    """Return key_id if it is 1-16 chars of [A-Za-z0-9._-], else raise ValueError."""
    if not isinstance(key_id, str) or not _KEY_ID.match(key_id):
        raise ValueError(f"key id must be 1-{KEY_ID_MAX_LENGTH} chars of [A-Za-z0-9._-]")
    return key_id


def _raw_public(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


class SigningKey:
    """An Ed25519 private key with its key id; sign labels through ``Keyring.signer``."""

    __slots__ = ("_private_key", "key_id")

    def __init__(self, key_id: str, private_key: Ed25519PrivateKey) -> None:
        self.key_id: str = check_key_id(key_id)
        self._private_key = private_key

    def __repr__(self) -> str:
        return f"SigningKey(key_id={self.key_id!r})"

    @classmethod
    def generate(cls, key_id: str) -> SigningKey:
        """Create a new random key."""
        return cls(key_id, Ed25519PrivateKey.generate())

    @property
    def public_key(self) -> Ed25519PublicKey:
        """The public half, for the keyring."""
        return self._private_key.public_key()

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the key as PKCS#8 PEM readable by the owner only (mode 0600)."""
        pem = self._private_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        data = f"{_PEM_KEY_ID_HEADER}{self.key_id}\n".encode("ascii") + pem
        # Create with 0600 so the secret is never readable by others, even briefly.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, data)
        finally:
            os.close(fd)

    @classmethod
    def load(cls, path: str | os.PathLike[str], key_id: str | None = None) -> SigningKey:
        """Read a key written by ``save``; key_id overrides the id stored in the file."""
        data = Path(path).read_bytes()
        private_key = serialization.load_pem_private_key(data, password=None)
        if not isinstance(private_key, Ed25519PrivateKey):
            raise ValueError(f"{os.fspath(path)} does not hold an Ed25519 private key")
        if key_id is None:
            first_line = data.split(b"\n", 1)[0].decode("ascii", "replace")
            if not first_line.startswith(_PEM_KEY_ID_HEADER):
                raise ValueError(f"{os.fspath(path)} has no key id; pass key_id")
            key_id = first_line[len(_PEM_KEY_ID_HEADER) :].strip()
        return cls(key_id, private_key)

    def _sign(self, message: bytes) -> bytes:
        return self._private_key.sign(message)


@dataclass(frozen=True, slots=True)
class PublicKeyEntry:
    """One public key in a keyring."""

    key_id: str
    public_key: Ed25519PublicKey
    status: KeyStatus


class Keyring:
    """Public keys by key id, each active or retired; verifies label signatures."""

    def __init__(self, entries: Iterable[PublicKeyEntry] = ()) -> None:
        self._entries: dict[str, PublicKeyEntry] = {}
        for entry in entries:
            self.add(entry.key_id, entry.public_key, entry.status)

    def __contains__(self, key_id: object) -> bool:
        return key_id in self._entries

    def __iter__(self) -> Iterator[PublicKeyEntry]:
        return iter(list(self._entries.values()))

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        keys = ", ".join(f"{e.key_id}:{e.status.value}" for e in self._entries.values())
        return f"Keyring({keys})"

    def add(
        self,
        key_id: str,
        public_key: Ed25519PublicKey | SigningKey,
        status: KeyStatus = KeyStatus.ACTIVE,
    ) -> None:
        """Register a public key (or a signing key's public half) under key_id."""
        check_key_id(key_id)
        if isinstance(public_key, SigningKey):
            public_key = public_key.public_key
        existing = self._entries.get(key_id)
        if existing is not None and _raw_public(existing.public_key) != _raw_public(public_key):
            raise MalformedKeySet(f"key id {key_id!r} is already bound to another public key")
        self._entries[key_id] = PublicKeyEntry(key_id, public_key, KeyStatus(status))

    def retire(self, key_id: str) -> None:
        """Mark a key as retired: it keeps verifying old labels but cannot sign."""
        entry = self.entry(key_id)
        self._entries[key_id] = PublicKeyEntry(key_id, entry.public_key, KeyStatus.RETIRED)

    def entry(self, key_id: str) -> PublicKeyEntry:
        """Return the entry for key_id or raise UnknownKey."""
        try:
            return self._entries[key_id]
        except KeyError:
            raise UnknownKey(key_id) from None

    @property
    def active_key_ids(self) -> tuple[str, ...]:
        """Key ids that may sign new labels, in insertion order."""
        return tuple(k for k, e in self._entries.items() if e.status is KeyStatus.ACTIVE)

    def verify(self, key_id: str, signature: bytes, message: bytes) -> None:
        """Raise UnknownKey or BadSignature unless signature is valid for message."""
        try:
            self.entry(key_id).public_key.verify(signature, message)
        except InvalidSignature:
            raise BadSignature(key_id) from None

    def signer(self, key: SigningKey) -> Signer:
        """Return a Signer for key; raise UnknownKey or RetiredKey if it may not sign."""
        signer = Signer(key, self)
        signer.check()
        return signer

    def to_json(self) -> str:
        """Export the public key set for offline scanners."""
        keys = [
            {
                "key_id": entry.key_id,
                "public_key": base64.b64encode(_raw_public(entry.public_key)).decode("ascii"),
                "status": entry.status.value,
            }
            for entry in self._entries.values()
        ]
        return json.dumps({"keys": keys}, indent=2)

    @classmethod
    def from_json(cls, text: str | bytes) -> Keyring:
        """Import a public key set written by ``to_json``; raise MalformedKeySet."""
        try:
            document: Any = json.loads(text)
            keyring = cls()
            for item in document["keys"]:
                raw = base64.b64decode(item["public_key"], validate=True)
                public_key = Ed25519PublicKey.from_public_bytes(raw)
                keyring.add(item["key_id"], public_key, KeyStatus(item["status"]))
        except MalformedKeySet:
            raise
        except (KeyError, TypeError, ValueError, binascii.Error) as error:
            raise MalformedKeySet(f"invalid key set: {error}") from error
        return keyring


class Signer:
    """Signs label bytes with a key while the keyring lists that key as active."""

    __slots__ = ("_key", "_keyring", "key_id")

    def __init__(self, key: SigningKey, keyring: Keyring) -> None:
        self._key = key
        self._keyring = keyring
        self.key_id: str = key.key_id

    def __repr__(self) -> str:
        return f"Signer(key_id={self.key_id!r})"

    def check(self) -> None:
        """Raise UnknownKey, MalformedKeySet or RetiredKey unless the key may sign now."""
        entry = self._keyring.entry(self.key_id)
        if _raw_public(entry.public_key) != _raw_public(self._key.public_key):
            raise MalformedKeySet(f"keyring holds another public key for {self.key_id!r}")
        if entry.status is not KeyStatus.ACTIVE:
            raise RetiredKey(self.key_id)

    def sign(self, message: bytes) -> bytes:
        """Return the 64-byte Ed25519 signature of message; raise RetiredKey if retired."""
        # Checked on every call so retiring a key stops a long print run at once;
        # the dict lookup is cheap next to the signature itself.
        if self._keyring.entry(self.key_id).status is not KeyStatus.ACTIVE:
            raise RetiredKey(self.key_id)
        return self._key._sign(message)
