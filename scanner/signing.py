"""Device signatures on scan events: an Ed25519 key the scanner keeps, registered with
its token, signs every event, so a database writer cannot invent a courier's history.

The signed bytes are the event as sent without its ``signature`` member, as sorted-keys
compact UTF-8 JSON (what ``JSON.stringify`` gives for the same sorted object in the
browser). Keys and signatures travel as unpadded base64url.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

__all__ = ["DeviceKey", "SignatureInvalid", "b64", "signed_bytes", "unb64", "verify_event"]


class SignatureInvalid(ValueError):
    """An event's device signature is missing, malformed or does not verify."""


def b64(raw: bytes) -> str:
    """Unpadded base64url."""
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64(text: str) -> bytes:
    """Decode unpadded (or padded) base64url; ValueError when it is not."""
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise ValueError("not base64url") from exc


def signed_bytes(event: Mapping[str, Any]) -> bytes:
    """The bytes a device signs: the event without ``signature``, sorted compact JSON."""
    body = {key: value for key, value in event.items() if key != "signature"}
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def verify_event(public_key: bytes, event: Mapping[str, Any]) -> bytes:
    """Check an event's signature under a device's raw 32-byte key; return the signature."""
    text = event.get("signature")
    if not isinstance(text, str) or not 40 <= len(text) <= 100:
        raise SignatureInvalid("event is not signed")
    try:
        signature = unb64(text)
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, signed_bytes(event))
    except (ValueError, InvalidSignature) as exc:
        raise SignatureInvalid("signature does not verify") from exc
    return signature


class DeviceKey:
    """The scanner's own signing key, kept in a 0600 PEM file next to its config."""

    def __init__(self, key: Ed25519PrivateKey) -> None:
        self._key = key

    @classmethod
    def load_or_create(cls, path: str | Path) -> DeviceKey:
        """Load the key at ``path``, creating it on first use."""
        path = Path(path)
        if path.exists():
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
            if not isinstance(key, Ed25519PrivateKey):
                raise ValueError(f"{path} is not an Ed25519 key")
            return cls(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        key = Ed25519PrivateKey.generate()
        path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        path.chmod(0o600)
        return cls(key)

    @property
    def public_text(self) -> str:
        """The public key as unpadded base64url of its 32 raw bytes (for registration)."""
        raw = self._key.public_key().public_bytes(
            serialization.Encoding.Raw, serialization.PublicFormat.Raw
        )
        return b64(raw)

    def sign(self, event: Mapping[str, Any]) -> dict[str, Any]:
        """The event with its ``signature`` member."""
        return {**event, "signature": b64(self._key.sign(signed_bytes(event)))}
