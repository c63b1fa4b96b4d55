"""Signing keys, rotation and the public key set that offline scanners carry."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from labels import (
    BadSignature,
    Keyring,
    KeyStatus,
    LabelPayload,
    MalformedKeySet,
    RetiredKey,
    SigningKey,
    UnknownKey,
    decode,
    encode,
)


def box(serial: str = "0000-0000-0000-0001") -> LabelPayload:
    return LabelPayload(serial, "KOTAK", "6210052016001", "BUP")


def test_two_active_keys_both_sign_and_verify() -> None:
    first, second = SigningKey.generate("gm-2024a"), SigningKey.generate("gm-2024b")
    keyring = Keyring()
    keyring.add(first.key_id, first)
    keyring.add(second.key_id, second)
    assert keyring.active_key_ids == ("gm-2024a", "gm-2024b")
    for key in (first, second):
        assert decode(encode(box(), keyring.signer(key)), keyring).key_id == key.key_id


def test_retired_key_still_verifies_old_labels_but_cannot_sign() -> None:
    old, new = SigningKey.generate("gm-2024a"), SigningKey.generate("gm-2024b")
    keyring = Keyring()
    keyring.add(old.key_id, old)
    keyring.add(new.key_id, new)
    old_signer = keyring.signer(old)
    printed_before = encode(box(), old_signer)

    keyring.retire("gm-2024a")

    assert decode(printed_before, keyring).key_id == "gm-2024a"
    with pytest.raises(RetiredKey) as raised:
        encode(box(), old_signer)  # a signer handed out earlier stops too
    assert raised.value.key_id == "gm-2024a"
    with pytest.raises(RetiredKey):
        keyring.signer(old)
    assert keyring.active_key_ids == ("gm-2024b",)
    assert decode(encode(box(), keyring.signer(new)), keyring).key_id == "gm-2024b"


def test_unknown_key_id() -> None:
    stranger = SigningKey.generate("elsewhere")
    stranger_ring = Keyring()
    stranger_ring.add(stranger.key_id, stranger)
    label = encode(box(), stranger_ring.signer(stranger))
    with pytest.raises(UnknownKey) as raised:
        decode(label, Keyring())
    assert raised.value.key_id == "elsewhere"
    with pytest.raises(UnknownKey):
        Keyring().signer(stranger)


def test_a_key_id_cannot_be_rebound_to_another_public_key() -> None:
    keyring = Keyring()
    keyring.add("gm-2024a", SigningKey.generate("gm-2024a"))
    with pytest.raises(MalformedKeySet):
        keyring.add("gm-2024a", SigningKey.generate("gm-2024a"))


def test_signer_must_match_the_keyring_entry() -> None:
    keyring = Keyring()
    keyring.add("gm-2024a", SigningKey.generate("gm-2024a"))
    with pytest.raises(MalformedKeySet):
        keyring.signer(SigningKey.generate("gm-2024a"))


def test_public_key_set_json_round_trip_for_offline_scanners() -> None:
    active, retired = SigningKey.generate("gm-2024b"), SigningKey.generate("gm-2024a")
    server = Keyring()
    server.add(retired.key_id, retired, KeyStatus.RETIRED)
    server.add(active.key_id, active)
    label = encode(box(), server.signer(active))

    exported = server.to_json()
    document = json.loads(exported)
    assert [k["key_id"] for k in document["keys"]] == ["gm-2024a", "gm-2024b"]
    assert {k["status"] for k in document["keys"]} == {"active", "retired"}
    assert "PRIVATE" not in exported

    scanner = Keyring.from_json(exported)
    assert scanner.to_json() == exported
    assert scanner.active_key_ids == ("gm-2024b",)
    assert decode(label, scanner).key_id == "gm-2024b"


@pytest.mark.parametrize(
    "document",
    [
        "not json",
        "{}",
        '{"keys": [{"key_id": "a"}]}',
        '{"keys": [{"key_id": "a", "public_key": "!!", "status": "active"}]}',
        '{"keys": [{"key_id": "a", "public_key": "AAAA", "status": "active"}]}',
        '{"keys": [{"key_id": "a b", "public_key": "' + "A" * 43 + '=", "status": "active"}]}',
        '{"keys": [{"key_id": "a", "public_key": "' + "A" * 43 + '=", "status": "lost"}]}',
    ],
)
def test_malformed_key_sets_are_rejected(document: str) -> None:
    with pytest.raises(MalformedKeySet):
        Keyring.from_json(document)


def test_save_and_load_keep_the_key_private(tmp_path: Path) -> None:
    key = SigningKey.generate("gm-2024a")
    path = tmp_path / "gm-2024a.pem"
    key.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    loaded = SigningKey.load(path)
    assert loaded.key_id == "gm-2024a"
    keyring = Keyring()
    keyring.add(key.key_id, key)
    assert decode(encode(box(), keyring.signer(loaded)), keyring).key_id == "gm-2024a"
    assert "gm-2024a" in repr(loaded) and "PRIVATE" not in repr(loaded)


def test_wrong_key_for_the_signature_is_bad_signature() -> None:
    real = SigningKey.generate("gm-2024a")
    keyring = Keyring()
    keyring.add(real.key_id, real)
    label = encode(box(), keyring.signer(real))
    lookalike = Keyring()
    lookalike.add("gm-2024a", SigningKey.generate("gm-2024a"))
    with pytest.raises(BadSignature):
        decode(label, lookalike)
