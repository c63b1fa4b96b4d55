"""The v1 label payload: fields, both text forms, and tamper resistance."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import labels
from labels import (
    BadSignature,
    DestinationKind,
    Keyring,
    LabelError,
    LabelPayload,
    MalformedPayload,
    SigningKey,
    UnknownKey,
    UnsupportedVersion,
    decode,
    encode,
    encode_url,
    format_serial,
    from_bytes,
    new_serial,
    parse_serial,
    parse_unverified,
    sign,
)

QR_ALPHANUMERIC = re.compile(r"[0-9A-Z $%*+\-./:]*\Z")
BASE_URL = "https://tepat.example.id"

KEY = SigningKey.generate("gm-2024a")
KEYRING = Keyring()
KEYRING.add(KEY.key_id, KEY)
SIGNER = KEYRING.signer(KEY)


def ballots(**changes: object) -> LabelPayload:
    fields: dict[str, object] = {
        "serial": "7K3M-Q9XA-4D2F-8B1C",
        "item_type": "SURAT",
        "destination": "6210052016001",
        "race": "GUB",
        "quantity": 20,
    }
    fields.update(changes)
    return LabelPayload(**fields)  # type: ignore[arg-type]


# --- serials ---------------------------------------------------------------------


def test_new_serials_are_16_crockford_chars_and_differ() -> None:
    serials = {new_serial() for _ in range(200)}
    assert len(serials) == 200
    assert all(re.fullmatch(r"[0-9A-HJKMNP-TV-Z]{16}", s) for s in serials)


def test_serial_parsing_tolerates_dashes_case_and_look_alikes() -> None:
    assert parse_serial("7k3m-q9xa-4d2f-8b1c") == "7K3MQ9XA4D2F8B1C"
    assert parse_serial("7K3M Q9XA 4D2F 8B1C") == "7K3MQ9XA4D2F8B1C"
    assert parse_serial("O1IL-0000-0000-0000") == "0111000000000000"
    assert format_serial("7k3mq9xa4d2f8b1c") == "7K3M-Q9XA-4D2F-8B1C"


@pytest.mark.parametrize(
    "text", ["", "7K3M-Q9XA-4D2F", "7K3M-Q9XA-4D2F-8B1U", "7K3M-Q9XA-4D2F-8B1C0"]
)
def test_bad_serials_are_rejected(text: str) -> None:
    with pytest.raises(MalformedPayload):
        parse_serial(text)


def test_payload_stores_the_canonical_serial() -> None:
    assert ballots(serial="7k3m-q9xa-4d2f-8b1c") == ballots()


# --- field conventions -------------------------------------------------------------


@pytest.mark.parametrize(
    ("destination", "kind"),
    [
        ("6210052016001", DestinationKind.TPS),
        ("62.10", DestinationKind.KPU),
        ("62.10.05", DestinationKind.PPK),
        ("62.10.05.2016", DestinationKind.PPS),
    ],
)
def test_destinations_round_trip(destination: str, kind: DestinationKind) -> None:
    payload = ballots(destination=destination)
    assert payload.destination_kind is kind
    assert decode(encode(payload, SIGNER), KEYRING).destination == destination


@pytest.mark.parametrize(
    "changes",
    [
        {"destination": "621005201600"},  # 12 digits
        {"destination": "62.10.5"},
        {"destination": "62"},
        {"destination": "6210052016001 "},
        {"item_type": "kotak"},
        {"item_type": ""},
        {"item_type": "THIRTEEN_CHAR"},
        {"race": "DPR"},
        {"quantity": 0},
        {"quantity": 65536},
        {"quantity": True},
        {"key_id": "has space"},
        {"key_id": "x" * 17},
    ],
)
def test_invalid_fields_are_rejected_at_construction(changes: dict[str, object]) -> None:
    with pytest.raises(MalformedPayload):
        ballots(**changes)


def test_encode_fills_in_the_signers_key_id() -> None:
    assert decode(encode(ballots(), SIGNER), KEYRING).key_id == "gm-2024a"


def test_payload_naming_another_key_is_refused() -> None:
    with pytest.raises(MalformedPayload):
        encode(ballots(key_id="other"), SIGNER)


def test_only_version_1_can_be_written() -> None:
    with pytest.raises(UnsupportedVersion):
        encode(ballots(version=2), SIGNER)


# --- text forms ----------------------------------------------------------------------


@pytest.mark.parametrize("race", [None, "GUB", "BUP", "WAL"])
def test_compact_form_round_trips_in_the_qr_alphanumeric_set(race: str | None) -> None:
    payload = ballots(race=race)
    text = encode(payload, SIGNER)
    assert text.startswith("TP1:")
    assert QR_ALPHANUMERIC.match(text)
    assert decode(text, KEYRING) == sign(payload, SIGNER).payload


def test_link_form_is_uppercase_url_safe_and_round_trips() -> None:
    payload = ballots()
    url = encode_url(payload, SIGNER, BASE_URL + "/")
    assert url.startswith("HTTPS://TEPAT.EXAMPLE.ID/L/")
    assert QR_ALPHANUMERIC.match(url)
    assert re.fullmatch(r"[A-Z0-9:/.\-]+", url)  # nothing a URL would need to escape
    assert decode(url, KEYRING) == decode(encode(payload, SIGNER), KEYRING)
    # A phone may lowercase the link it opens; the server still reads it.
    assert decode(url.lower(), KEYRING).serial == payload.serial


@pytest.mark.parametrize("base_url", ["ftp://tepat.example.id", "https://tepat_example.id", ""])
def test_link_base_must_stay_alphanumeric_http(base_url: str) -> None:
    with pytest.raises(ValueError):
        encode_url(ballots(), SIGNER, base_url)


def test_scanner_bytes_and_line_endings_are_accepted() -> None:
    text = encode(ballots(), SIGNER)
    label = sign(ballots(), SIGNER)
    assert decode(text.encode("ascii"), KEYRING) == label.payload
    assert decode(text + "\r\n", KEYRING) == label.payload
    assert decode(label.to_bytes(), KEYRING) == label.payload


def test_parse_unverified_shows_a_label_without_its_key() -> None:
    text = encode(ballots(), SIGNER)
    with pytest.raises(UnknownKey):
        decode(text, Keyring())
    assert parse_unverified(text).payload.serial == "7K3MQ9XA4D2F8B1C"


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("", MalformedPayload),
        ("hello", MalformedPayload),
        ("TP1:", MalformedPayload),
        ("TP1:A", MalformedPayload),
        ("TP2:ABC", UnsupportedVersion),
        ("HTTPS://TEPAT.EXAMPLE.ID/L/", MalformedPayload),
        ("HTTPS://TEPAT.EXAMPLE.ID/L/AE", MalformedPayload),  # version byte, then nothing
        ("HTTPS://TEPAT.EXAMPLE.ID/L/AF", MalformedPayload),  # non-canonical Base32
        (b"\xff\xfe", MalformedPayload),
        (b"\x02" + bytes(100), UnsupportedVersion),
    ],
)
def test_garbage_raises_the_matching_error(text: str | bytes, error: type[LabelError]) -> None:
    with pytest.raises(error):
        decode(text, KEYRING)


def test_version_byte_other_than_1_is_unsupported() -> None:
    blob = bytearray(sign(ballots(), SIGNER).to_bytes())
    blob[0] = 2
    with pytest.raises(UnsupportedVersion) as raised:
        from_bytes(bytes(blob))
    assert raised.value.version == 2


def test_a_label_signed_by_another_key_with_the_same_id_is_a_bad_signature() -> None:
    impostor = SigningKey.generate("gm-2024a")
    other_ring = Keyring()
    other_ring.add(impostor.key_id, impostor)
    forged = encode(ballots(), other_ring.signer(impostor))
    with pytest.raises(BadSignature) as raised:
        decode(forged, KEYRING)
    assert raised.value.key_id == "gm-2024a"


# --- tamper resistance -----------------------------------------------------------------


def test_every_single_byte_change_is_rejected() -> None:
    """Exhaustive over all positions and all 255 other values of one label's bytes."""
    original = sign(ballots(), SIGNER).to_bytes()
    for position in range(len(original)):
        for value in range(256):
            if value == original[position]:
                continue
            mutated = bytearray(original)
            mutated[position] = value
            with pytest.raises(LabelError):
                decode(bytes(mutated), KEYRING)


def test_truncated_and_extended_labels_are_rejected() -> None:
    original = sign(ballots(), SIGNER).to_bytes()
    for length in range(len(original)):
        with pytest.raises(LabelError):
            decode(original[:length] or b"\x01", KEYRING)
    with pytest.raises(LabelError):
        decode(original + b"\x00", KEYRING)


# --- properties --------------------------------------------------------------------------

payloads = st.builds(
    LabelPayload,
    serial=st.from_regex(r"[0-9A-HJKMNP-TV-Z]{16}", fullmatch=True),
    item_type=st.from_regex(r"[A-Z0-9_]{1,12}", fullmatch=True),
    destination=st.one_of(
        st.from_regex(r"[0-9]{13}", fullmatch=True),
        st.from_regex(r"[0-9]{2}\.[0-9]{2}", fullmatch=True),
        st.from_regex(r"[0-9]{2}\.[0-9]{2}\.[0-9]{2}", fullmatch=True),
        st.from_regex(r"[0-9]{2}\.[0-9]{2}\.[0-9]{2}\.[0-9]{4}", fullmatch=True),
    ),
    race=st.sampled_from([None, "GUB", "BUP", "WAL"]),
    quantity=st.integers(1, 65535),
)


@settings(max_examples=200, deadline=None)
@given(payloads)
def test_any_valid_payload_round_trips_in_both_forms(payload: LabelPayload) -> None:
    signed = sign(payload, SIGNER).payload
    assert decode(encode(payload, SIGNER), KEYRING) == signed
    assert decode(encode_url(payload, SIGNER, BASE_URL), KEYRING) == signed
    assert QR_ALPHANUMERIC.match(encode_url(payload, SIGNER, BASE_URL))


@settings(max_examples=300, deadline=None)
@given(payloads, st.data())
def test_mutated_text_never_decodes_to_another_payload(
    payload: LabelPayload, data: st.DataObject
) -> None:
    signed = sign(payload, SIGNER)
    form = data.draw(st.sampled_from(["text", "url"]))
    text = signed.to_text() if form == "text" else signed.to_url(BASE_URL)
    edit = st.tuples(
        st.integers(0, len(text)),
        st.sampled_from(["replace", "insert", "delete"]),
        st.sampled_from("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"),
    )
    edits = data.draw(st.lists(edit, min_size=1, max_size=4))
    mutated = list(text)
    for position, action, char in edits:
        position = min(position, len(mutated) - 1)
        if action == "replace":
            mutated[position] = char
        elif action == "insert":
            mutated.insert(position, char)
        elif len(mutated) > 1:
            del mutated[position]
    try:
        result = decode("".join(mutated), KEYRING)
    except LabelError:
        return
    assert result == signed.payload


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("7F3K-9QZ2-AB4C-D5EF", True),
        ("7f3k9qz2ab4cd5ef", True),
        ("7F3K 9QZ2 AB4C D5EF", True),
        ("7F3K-9QZ2-AB4C-D5E", False),
        ("TP1:7F3K9QZ2AB4CD5EF", False),
        ("UUUU-UUUU-UUUU-UUUU", False),
        ("", False),
    ],
)
def test_is_serial_tells_a_typed_serial_from_a_label(text: str, expected: bool) -> None:
    assert labels.is_serial(text) is expected
