"""Offline label verification through the ``labels`` library's own parser.

The payload format lives in ``labels``; this module only calls ``labels.decode`` with the
exported public keys and turns its ``LabelError`` family into a courier-facing finding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import labels
from scanner.errors import KeyringError
from scanner.plan import Finding, ScannedItem, Severity


@dataclass(frozen=True, slots=True)
class Verdict:
    """What verification says about one scanned text.

    ``item`` is set when the payload could be parsed (verified, or parsed without keys);
    ``finding`` is None only when the signature verified under a known key.
    """

    item: ScannedItem | None
    key_id: str | None
    finding: Finding | None

    @property
    def verified(self) -> bool:
        """True when the signature checked out."""
        return self.finding is None


class LabelVerifier(Protocol):
    """Anything that can verify a scanned label text."""

    def verify(self, text: str) -> Verdict:
        """Parse and verify ``text``; never raises for a bad label."""
        ...


def load_keyring(text: str | bytes) -> labels.Keyring:
    """Parse an exported public key set; raise KeyringError if labels rejects it."""
    try:
        return labels.Keyring.from_json(text)
    except labels.LabelError as error:
        raise KeyringError(f"kunci publik tidak valid: {error}") from error


def _item(payload: Any) -> ScannedItem:
    return ScannedItem(
        serial=str(payload.serial),
        item_type=str(payload.item_type),
        destination=str(payload.destination),
        race=None if payload.race is None else str(payload.race),
        quantity=int(payload.quantity),
    )


class KeyringVerifier:
    """Verifies labels with ``labels.decode`` and an exported key set (None: no keys yet)."""

    def __init__(self, keyring_json: str | bytes | None) -> None:
        self._keyring = None if keyring_json is None else load_keyring(keyring_json)

    def verify(self, text: str) -> Verdict:
        """Parse and verify ``text``; a bad label becomes an error finding."""
        if self._keyring is None:
            return self._unverified(text)
        try:
            payload = labels.decode(text, self._keyring)
        except labels.LabelError as error:
            return self._rejected(text, error)
        return Verdict(_item(payload), str(payload.key_id), None)

    @staticmethod
    def _unverified(text: str) -> Verdict:
        try:
            payload = labels.parse_unverified(text).payload
        except labels.LabelError as error:
            return Verdict(None, None, _finding_for(error))
        return Verdict(
            _item(payload),
            str(payload.key_id),
            Finding(
                "no_keys",
                Severity.WARNING,
                "Kunci publik belum diimpor: tanda tangan belum diperiksa (tepat-scan fetch)",
            ),
        )

    @staticmethod
    def _rejected(text: str, error: Exception) -> Verdict:
        item: ScannedItem | None = None
        key_id: str | None = None
        if isinstance(error, labels.UnknownKey | labels.BadSignature):
            try:  # show what the label claims, to help find where it came from
                payload = labels.parse_unverified(text).payload
                item, key_id = _item(payload), str(payload.key_id)
            except labels.LabelError:
                pass
        return Verdict(item, key_id, _finding_for(error))


def _finding_for(error: Exception) -> Finding:
    if isinstance(error, labels.BadSignature):
        return Finding(
            "bad_signature", Severity.ERROR, "Tanda tangan label TIDAK SAH: kemungkinan label palsu"
        )
    if isinstance(error, labels.UnknownKey):
        return Finding(
            "unknown_key",
            Severity.ERROR,
            "Kunci penanda tangan tidak dikenal: perbarui kunci (tepat-scan fetch) "
            "atau label palsu",
        )
    if isinstance(error, labels.UnsupportedVersion):
        return Finding(
            "unsupported_version", Severity.ERROR, "Versi label tidak dikenal: perbarui aplikasi"
        )
    return Finding("malformed", Severity.ERROR, "Bukan label Tepat yang sah")
