"""The signed label payload, format version 1: fields, binary layout and text forms.

Binary layout (all integers big-endian)::

    offset  size  field
    0       1     version            always 1
    1       1     flags              bits 0-1 race (0 none, 1 GUB, 2 BUP, 3 WAL)
                                     bits 2-3 destination kind (0 TPS, 1 KPU kab/kota,
                                     2 PPK, 3 PPS); bits 4-7 zero
    2       10    serial             the 80 random bits behind the 16 Crockford chars
    12      2     quantity           1..65535
    14      w     destination        digits as an integer: TPS 6 bytes, KPU 2, PPK 3, PPS 5
    14+w    1+n   item_type          length, then n ASCII bytes [A-Z0-9_], n = 1..12
    ..      1+k   key_id             length, then k ASCII bytes [A-Za-z0-9._-], k = 1..16
    ..      64    signature          Ed25519 over DOMAIN + every byte before it

Text forms, both inside the QR alphanumeric character set so the QR uses alphanumeric
mode:

* ``TP1:`` + Base45(binary), the compact form scanners read;
* ``HTTPS://<HOST>/L/`` + Base32(binary) without padding, the form a phone camera
  opens as a link (Base45 has a space and ``%``, which break URLs).

Parsing is strict: every binary has exactly one encoding, and decoding re-serialises
and compares, so a label that verifies cannot have been altered in any byte.
"""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass, replace
from enum import IntEnum

from labels.base45 import b45decode, b45encode
from labels.errors import MalformedPayload, UnsupportedVersion
from labels.keys import Keyring, Signer, check_key_id

FORMAT_VERSION = 1
DOMAIN = b"TEPAT-LABEL-v1"
TEXT_PREFIX = "TP1:"
URL_PATH = "/L/"
SIGNATURE_LENGTH = 64
RACES = ("GUB", "BUP", "WAL")
ITEM_TYPE_MAX_LENGTH = 12
QUANTITY_MAX = 0xFFFF

CROCKFORD_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_CROCKFORD_VALUE = {char: value for value, char in enumerate(CROCKFORD_ALPHABET)}
# Crockford decoding folds the look-alike letters onto digits.
_CROCKFORD_VALUE.update({"O": 0, "I": 1, "L": 1})
SERIAL_LENGTH = 16
SERIAL_BYTES = 10

_ITEM_TYPE = re.compile(r"[A-Z0-9_]{1,12}\Z")
_TEXT_PREFIX = re.compile(r"TP(\d{1,3}):", re.IGNORECASE)
_URL = re.compile(r"HTTPS?://[^/]+(?:/[^?#]*)?/L/([A-Z2-7]+)\Z", re.IGNORECASE)
_QR_ALPHANUMERIC = frozenset("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:")
_RACE_CODE = {None: 0, "GUB": 1, "BUP": 2, "WAL": 3}
_RACE_BY_CODE = (None, "GUB", "BUP", "WAL")


class DestinationKind(IntEnum):
    """Where a label is addressed: a TPS or one of the custody nodes above it."""

    TPS = 0
    KPU = 1  # KPU kabupaten/kota warehouse, "62.10"
    PPK = 2  # kecamatan committee, "62.10.05"
    PPS = 3  # desa/kelurahan committee, "62.10.05.2016"


# kind -> (pattern, digit count, packed width in bytes, dot positions in the digits)
_DESTINATIONS: dict[DestinationKind, tuple[re.Pattern[str], int, int, tuple[int, ...]]] = {
    DestinationKind.TPS: (re.compile(r"\d{13}\Z"), 13, 6, ()),
    DestinationKind.KPU: (re.compile(r"\d{2}\.\d{2}\Z"), 4, 2, (2,)),
    DestinationKind.PPK: (re.compile(r"\d{2}\.\d{2}\.\d{2}\Z"), 6, 3, (2, 4)),
    DestinationKind.PPS: (re.compile(r"\d{2}\.\d{2}\.\d{2}\.\d{4}\Z"), 10, 5, (2, 4, 6)),
}


def new_serial() -> str:
    """Return a fresh random serial: 16 Crockford base32 chars from 10 random bytes."""
    return _serial_from_bytes(secrets.token_bytes(SERIAL_BYTES))


def parse_serial(text: str) -> str:
    """Return the canonical 16-char serial from text with any dashes, spaces or case."""
    if not isinstance(text, str):
        raise MalformedPayload(f"not a serial: {text!r}", field="serial")
    cleaned = text.replace("-", "").replace(" ", "").upper()
    if len(cleaned) != SERIAL_LENGTH or not all(c in _CROCKFORD_VALUE for c in cleaned):
        raise MalformedPayload(f"not a serial: {text!r}", field="serial")
    return "".join(CROCKFORD_ALPHABET[_CROCKFORD_VALUE[c]] for c in cleaned)


def is_serial(text: str) -> bool:
    """Whether text is a serial as people type it (e.g. 7F3K-9QZ2-AB4C-D5EF), not a label."""
    try:
        parse_serial(text)
    except MalformedPayload:
        return False
    return True


def format_serial(serial: str) -> str:
    """Show a serial for people in four groups of four, e.g. 7F3K-9QZ2-AB4C-D5EF."""
    canonical = parse_serial(serial)
    return "-".join(canonical[i : i + 4] for i in range(0, SERIAL_LENGTH, 4))


def _serial_from_bytes(raw: bytes) -> str:
    number = int.from_bytes(raw, "big")
    alphabet = CROCKFORD_ALPHABET
    return "".join(alphabet[(number >> shift) & 31] for shift in range(75, -1, -5))


def _serial_to_bytes(serial: str) -> bytes:
    number = 0
    for char in serial:
        number = number << 5 | _CROCKFORD_VALUE[char]
    return number.to_bytes(SERIAL_BYTES, "big")


def destination_kind(destination: str) -> DestinationKind:
    """Classify a TPS id or custody node code; raise MalformedPayload if it is neither."""
    for kind, (pattern, _, _, _) in _DESTINATIONS.items():
        if pattern.match(destination):
            return kind
    raise MalformedPayload(
        f"destination {destination!r} is neither a 13-digit TPS id nor a region code "
        "PP.KK, PP.KK.CC or PP.KK.CC.DDDD",
        field="destination",
    )


@dataclass(frozen=True, slots=True)
class LabelPayload:
    """What a label says about the thing it is stuck on; signed as a whole."""

    serial: str
    item_type: str
    destination: str
    race: str | None = None
    quantity: int = 1
    key_id: str = ""
    version: int = FORMAT_VERSION

    def __post_init__(self) -> None:
        # Accept a serial as people type it, store it canonical so equality is exact.
        object.__setattr__(self, "serial", parse_serial(self.serial))
        if not isinstance(self.item_type, str) or not _ITEM_TYPE.match(self.item_type):
            raise MalformedPayload(
                f"item_type must be 1-{ITEM_TYPE_MAX_LENGTH} chars of [A-Z0-9_]",
                field="item_type",
            )
        destination_kind(self.destination)
        if self.race not in _RACE_CODE:
            raise MalformedPayload(f"race must be None or one of {RACES}", field="race")
        if (
            not isinstance(self.quantity, int)
            or isinstance(self.quantity, bool)
            or not 1 <= self.quantity <= QUANTITY_MAX
        ):
            raise MalformedPayload(f"quantity must be 1..{QUANTITY_MAX}", field="quantity")
        if self.key_id:
            try:
                check_key_id(self.key_id)
            except ValueError as error:
                raise MalformedPayload(str(error), field="key_id") from None
        if not isinstance(self.version, int) or not 0 <= self.version <= 0xFF:
            raise MalformedPayload("version must be a byte", field="version")

    @property
    def destination_kind(self) -> DestinationKind:
        """Whether the destination is a TPS, KPU warehouse, PPK or PPS."""
        return destination_kind(self.destination)

    def to_signed_bytes(self) -> bytes:
        """The bytes the signature covers: the binary layout up to the signature."""
        if self.version != FORMAT_VERSION:
            raise UnsupportedVersion(self.version)
        if not self.key_id:
            raise MalformedPayload("payload has no key id yet", field="key_id")
        kind = destination_kind(self.destination)
        width = _DESTINATIONS[kind][2]
        digits = self.destination.replace(".", "")
        item = self.item_type.encode("ascii")
        key = self.key_id.encode("ascii")
        return b"".join(
            (
                bytes((self.version, _RACE_CODE[self.race] | kind << 2)),
                _serial_to_bytes(self.serial),
                self.quantity.to_bytes(2, "big"),
                int(digits).to_bytes(width, "big"),
                bytes((len(item),)),
                item,
                bytes((len(key),)),
                key,
            )
        )


@dataclass(frozen=True, slots=True)
class SignedLabel:
    """A payload with its Ed25519 signature, as carried in the QR code."""

    payload: LabelPayload
    signature: bytes

    def to_bytes(self) -> bytes:
        """The binary label: payload layout followed by the 64-byte signature."""
        return self.payload.to_signed_bytes() + self.signature

    def to_text(self) -> str:
        """The compact text form: TP1: + Base45."""
        return TEXT_PREFIX + b45encode(self.to_bytes())

    def to_url(self, base_url: str) -> str:
        """The link form: HTTPS://HOST/L/ + Base32, all in the QR alphanumeric set."""
        return url_prefix(base_url) + base64.b32encode(self.to_bytes()).decode().rstrip("=")

    def verify(self, keyring: Keyring) -> LabelPayload:
        """Return the payload if the signature is valid; raise a LabelError otherwise."""
        message = DOMAIN + self.payload.to_signed_bytes()
        keyring.verify(self.payload.key_id, self.signature, message)
        return self.payload


def url_prefix(base_url: str) -> str:
    """Normalise a base URL to the uppercase prefix of label links, ending in /L/."""
    prefix = base_url.rstrip("/").upper() + URL_PATH
    if not prefix.startswith(("HTTPS://", "HTTP://")) or not set(prefix) <= _QR_ALPHANUMERIC:
        raise ValueError(
            "base_url must be http(s) and use only letters, digits and $%*+-./: "
            f"so the QR stays alphanumeric: {base_url!r}"
        )
    if " " in prefix or "%" in prefix:
        raise ValueError(f"base_url must not contain spaces or %: {base_url!r}")
    return prefix


def link_base(text: str) -> str | None:
    """The base URL a link-form label names ('HTTPS://TEPAT.KPU.GO.ID'), uppercase; None
    for the TP1 form. The signature covers the code after /L/, never this base."""
    text = text.rstrip("\r\n")
    if not _URL.match(text):
        return None
    return text[: text.upper().rindex(URL_PATH)].upper()


def sign(payload: LabelPayload, signer: Signer) -> SignedLabel:
    """Sign payload with signer, filling in the signer's key id."""
    if payload.key_id and payload.key_id != signer.key_id:
        raise MalformedPayload(
            f"payload names key {payload.key_id!r} but the signer is {signer.key_id!r}",
            field="key_id",
        )
    if payload.key_id != signer.key_id:
        payload = replace(payload, key_id=signer.key_id)
    return SignedLabel(payload, signer.sign(DOMAIN + payload.to_signed_bytes()))


def encode(payload: LabelPayload, signer: Signer) -> str:
    """Sign payload and return the compact QR text ``TP1:<Base45>``."""
    return sign(payload, signer).to_text()


def encode_url(payload: LabelPayload, signer: Signer, base_url: str) -> str:
    """Sign payload and return the link form ``HTTPS://HOST/L/<Base32>``."""
    return sign(payload, signer).to_url(base_url)


def from_bytes(data: bytes) -> SignedLabel:
    """Parse a binary label without checking its signature; raise a LabelError."""
    if not data:
        raise MalformedPayload("empty label")
    if data[0] != FORMAT_VERSION:
        raise UnsupportedVersion(data[0])
    try:
        flags = data[1]
        if flags >> 4:
            raise MalformedPayload("reserved flag bits are set")
        race = _RACE_BY_CODE[flags & 3]
        kind = DestinationKind(flags >> 2 & 3)
        serial = _serial_from_bytes(data[2:12])
        quantity = int.from_bytes(data[12:14], "big")
        _, digit_count, width, dots = _DESTINATIONS[kind]
        offset = 14 + width
        number = int.from_bytes(data[14:offset], "big")
        digits = str(number).zfill(digit_count)
        if len(digits) != digit_count:
            raise MalformedPayload("destination number too large", field="destination")
        for position in reversed(dots):
            digits = digits[:position] + "." + digits[position:]
        item_type, offset = _read_short_ascii(data, offset)
        key_id, offset = _read_short_ascii(data, offset)
        if len(data) - offset != SIGNATURE_LENGTH:
            raise MalformedPayload("label length does not match its fields")
        payload = LabelPayload(serial, item_type, digits, race, quantity, key_id)
        if not key_id:
            raise MalformedPayload("label has no key id", field="key_id")
    except IndexError:
        raise MalformedPayload("label is truncated") from None
    label = SignedLabel(payload, data[offset:])
    # Belt and braces: a second encoding of the same payload must not exist.
    if label.to_bytes() != data:
        raise MalformedPayload("label is not in canonical form")
    return label


def _read_short_ascii(data: bytes, offset: int) -> tuple[str, int]:
    length = data[offset]
    end = offset + 1 + length
    if end > len(data):
        raise MalformedPayload("label is truncated")
    try:
        return data[offset + 1 : end].decode("ascii"), end
    except UnicodeDecodeError:
        raise MalformedPayload("field is not ASCII") from None


def parse_unverified(text: str | bytes) -> SignedLabel:
    """Parse either text form (or raw binary bytes) without verifying; for display only."""
    if isinstance(text, bytes | bytearray | memoryview):
        data = bytes(text)
        # Text forms start with a printable letter; the binary form with its version byte.
        if data[:1] and data[0] < 0x20:
            return from_bytes(data)
        try:
            text = data.decode("ascii")
        except UnicodeDecodeError:
            raise MalformedPayload("label text is not ASCII") from None
    # Scanners often append a line ending; a trailing space is Base45 data, keep it.
    text = text.rstrip("\r\n")
    prefix = _TEXT_PREFIX.match(text)
    if prefix:
        version = int(prefix.group(1))
        if version != FORMAT_VERSION:
            raise UnsupportedVersion(version)
        return from_bytes(b45decode(text[prefix.end() :]))
    url = _URL.match(text)
    if url:
        encoded = url.group(1).upper()
        try:
            data = base64.b32decode(encoded + "=" * (-len(encoded) % 8))
        except ValueError:
            raise MalformedPayload("label link is not valid Base32") from None
        if base64.b32encode(data).decode().rstrip("=") != encoded:
            raise MalformedPayload("label link is not canonical Base32")
        return from_bytes(data)
    raise MalformedPayload("not a Tepat label (expected TP1:... or HTTPS://.../L/...)")


def decode(text: str | bytes, keyring: Keyring) -> LabelPayload:
    """Parse and verify a scanned label; raise the matching LabelError if it is not valid."""
    return parse_unverified(text).verify(keyring)
