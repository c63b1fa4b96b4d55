"""Exceptions raised by the labels library.

The whole tree, so callers (and the one module in ``app`` that maps errors to HTTP
status codes) can catch at the level they need::

    LabelError
    ├── MalformedPayload      (also a ValueError) text or bytes are not a v1 label,
    │                         or a field value breaks the payload conventions
    ├── UnsupportedVersion    the label declares a format version we cannot read
    ├── UnknownKey            the key id is not in the keyring
    ├── BadSignature          the signature does not match the payload and key
    ├── RetiredKey            a retired key was asked to sign a new label
    ├── MalformedKeySet       (also a ValueError) key set JSON is invalid or conflicting
    └── LayoutError           a layout or document cannot be drawn as asked
"""

from __future__ import annotations


class LabelError(Exception):
    """Base class of every error raised by ``labels``."""


class MalformedPayload(LabelError, ValueError):
    """The text or bytes are not a well-formed label, or a field value is invalid."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field: str | None = field


class UnsupportedVersion(LabelError):
    """The label declares a payload format version this code cannot read."""

    def __init__(self, version: int) -> None:
        super().__init__(f"unsupported label format version {version}")
        self.version: int = version


class UnknownKey(LabelError):
    """The label names a key id that is not in the keyring."""

    def __init__(self, key_id: str) -> None:
        super().__init__(f"unknown signing key id {key_id!r}")
        self.key_id: str = key_id


class BadSignature(LabelError):
    """The signature does not verify for the payload under the named key."""

    def __init__(self, key_id: str) -> None:
        super().__init__(f"signature does not verify under key {key_id!r}")
        self.key_id: str = key_id


class RetiredKey(LabelError):
    """A retired key was asked to sign; retired keys only verify old labels."""

    def __init__(self, key_id: str) -> None:
        super().__init__(f"key {key_id!r} is retired and cannot sign new labels")
        self.key_id: str = key_id


class MalformedKeySet(LabelError, ValueError):
    """A public key set (JSON) is invalid, or a key id is registered twice."""


class LayoutError(LabelError):
    """A layout or document cannot be drawn as asked (e.g. QR modules too small)."""
