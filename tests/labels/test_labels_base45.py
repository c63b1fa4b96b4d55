"""Base45 (RFC 9285): the RFC's own examples, invalid input, and round trips."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from labels import MalformedPayload, b45decode, b45encode


@pytest.mark.parametrize(
    ("raw", "text"),
    [
        (b"AB", "BB8"),  # RFC 9285 section 4.3
        (b"Hello!!", "%69 VD92EX0"),
        (b"base-45", "UJCLQE7W581"),
        (b"ietf!", "QED8WEX0"),  # RFC 9285 section 4.4 decoding example
        (b"", ""),
    ],
)
def test_rfc_9285_examples(raw: bytes, text: str) -> None:
    assert b45encode(raw) == text
    assert b45decode(text) == raw


@pytest.mark.parametrize(
    "text",
    [
        "A",  # a single leftover character
        "GGW",  # 65536 + ... exceeds two bytes (RFC 9285 section 6)
        ":::",  # 44 + 44*45 + 44*2025 > 65535
        "::",  # final pair above 255
        "abc",  # lowercase is not in the alphabet
        "AB#",
    ],
)
def test_invalid_base45_is_malformed(text: str) -> None:
    with pytest.raises(MalformedPayload):
        b45decode(text)


@given(st.binary(max_size=300))
def test_round_trip(raw: bytes) -> None:
    text = b45encode(raw)
    assert len(text) == 3 * (len(raw) // 2) + 2 * (len(raw) % 2)
    assert b45decode(text) == raw
