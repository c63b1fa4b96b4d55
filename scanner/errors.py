"""The one exception hierarchy of the scanner package.

::

    ScanError                    base of everything the scanner raises on purpose
    ├── InvalidImage             decode() got something that is not an 8-bit image
    ├── SourceError              a frame source cannot be opened or read (camera, file, folder)
    ├── ConfigError              the client is not configured, or its files are unreadable
    ├── PlanSliceError           a plan slice (JSON) does not have the documented shape
    ├── KeyringError             public keys cannot be loaded (file, server answer, labels)
    ├── LogProofError            a published checkpoint, consistency or inclusion proof fails
    └── SyncError                talking to the server failed
        ├── AuthError            401/403: the device token is invalid; do not retry
        ├── ServerUnavailable    network error, 413 or 5xx that outlived every retry
        └── ProtocolError        the server answered something that breaks the contract

Labels themselves are verified by ``labels``; its ``LabelError`` family is turned into
findings by :mod:`scanner.verify`, never re-raised as a ``ScanError``.
"""

from __future__ import annotations


class ScanError(Exception):
    """Base class of every error the scanner raises on purpose."""


class InvalidImage(ScanError):
    """The array handed to ``decode`` is not a grayscale, BGR or BGRA uint8 image."""


class SourceError(ScanError):
    """A frame source could not be opened or read."""

    def __init__(self, message: str, spec: str = "") -> None:
        super().__init__(message)
        self.spec = spec


class ConfigError(ScanError):
    """The client configuration is missing or invalid."""


class PlanSliceError(ScanError):
    """A plan slice does not match the documented JSON shape."""


class KeyringError(ScanError):
    """Public keys could not be loaded."""


class LogProofError(ScanError):
    """A checkpoint, consistency proof or inclusion proof of the log does not verify."""


class SyncError(ScanError):
    """Sending scans to the server failed."""


class AuthError(SyncError):
    """The server refused the device token (HTTP 401 or 403)."""

    def __init__(self, message: str, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code


class ServerUnavailable(SyncError):
    """The server could not be reached, or kept failing, after every retry."""

    def __init__(self, message: str, attempts: int) -> None:
        super().__init__(message)
        self.attempts = attempts


class ProtocolError(SyncError):
    """The server's answer does not follow the scan API contract."""
