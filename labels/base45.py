"""Base45 (RFC 9285): bytes as text in the QR alphanumeric character set.

The Base45 alphabet is the QR alphanumeric table in the same order, so a Base45 string
is encoded by a QR code in alphanumeric mode at 5.5 bits per character.
"""

from __future__ import annotations

from labels.errors import MalformedPayload

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
_VALUE = {char: index for index, char in enumerate(ALPHABET)}


def b45encode(data: bytes) -> str:
    """Encode bytes as Base45 text (RFC 9285)."""
    alphabet = ALPHABET
    out: list[str] = []
    append = out.append
    pairs_end = len(data) - len(data) % 2
    for i in range(0, pairs_end, 2):
        rest, c = divmod(data[i] << 8 | data[i + 1], 45)
        e, d = divmod(rest, 45)
        append(alphabet[c] + alphabet[d] + alphabet[e])
    if pairs_end != len(data):
        d, c = divmod(data[-1], 45)
        append(alphabet[c] + alphabet[d])
    return "".join(out)


def b45decode(text: str) -> bytes:
    """Decode Base45 text (RFC 9285); raise MalformedPayload on invalid input."""
    if len(text) % 3 == 1:
        raise MalformedPayload("Base45 text length leaves a single character")
    try:
        values = [_VALUE[char] for char in text]
    except KeyError as error:
        raise MalformedPayload(f"character {error.args[0]!r} is not Base45") from None
    out = bytearray()
    triples_end = len(values) - len(values) % 3
    for i in range(0, triples_end, 3):
        n = values[i] + values[i + 1] * 45 + values[i + 2] * 2025
        if n > 0xFFFF:
            raise MalformedPayload("Base45 triple exceeds 65535")
        out += n.to_bytes(2, "big")
    if triples_end != len(values):
        n = values[-2] + values[-1] * 45
        if n > 0xFF:
            raise MalformedPayload("Base45 final pair exceeds 255")
        out.append(n)
    return bytes(out)
