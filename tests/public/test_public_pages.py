"""Public pages: no sign-in, no personal data, proofs that check, limits that hold."""

from __future__ import annotations

import json
import re

import pytest

from app.custody import merkle
from app.custody.ledger import ledger_public_key
from tests.conftest import make_app
from tests.public.conftest import Public

pytestmark = pytest.mark.db

#: What must never appear on a public page: people, accounts, devices.
PERSONAL = ("Ketua PPK Tewah", "Ketua KPPS 001", "kurir.tewah", "hp-kurir.tewah", "hp-gudang")


def get(public: Public, url: str, status: int = 200) -> str:
    response = public.client.get(url)
    assert response.status_code == status, (url, response.get_data(as_text=True)[:500])
    return response.get_data(as_text=True)


def test_anyone_sees_the_kabupaten_progress_and_findings_by_principle(public: Public) -> None:
    listing = get(public, "/publik/")
    assert 'href="/publik/wilayah/62.10"' in listing and "Gunung Mas" in listing
    html = get(public, "/publik/wilayah/62.10")
    tiles = html[html.index('id="principles"') : html.index('id="kecamatan"')]
    assert "Tepat waktu" in tiles and "Tepat sasaran" in tiles
    data = public.client.get("/api/v1/public/regions/62.10").get_json()
    assert data["tps"] == 219 and data["items"] == 6
    assert data["findings"]["waktu"] >= 1  # the late kit and the overdue TPS 003
    tewah = next(k for k in data["kecamatan"] if k["code"] == "62.10.03")
    assert tewah["name"] == "Tewah" and tewah["delivered"] == 3  # the kit and its two boxes
    assert set(data) == {
        "code",
        "name",
        "as_of",
        "tps",
        "items",
        "delivered",
        "findings",
        "kecamatan",
    }


def test_public_pages_carry_no_personal_data(public: Public) -> None:
    code = public.code(public.kit)
    pages = [
        get(public, "/publik/"),
        get(public, "/publik/wilayah/62.10"),
        get(public, f"/publik/barang/{code}"),
        get(public, f"/api/v1/public/items/{code}/proof"),
        get(public, "/api/v1/public/regions/62.10"),
        get(public, "/publik/log"),
    ]
    for text in pages:
        for secret in PERSONAL:
            assert secret not in text
        assert "device" not in text.lower() or "device_id" not in text
    journey = pages[2]
    assert "PPK Tewah" in journey or "Kecamatan Tewah" in journey  # places are shown
    assert "Terima" in journey and "Kirim" in journey
    assert "Keluar" not in journey  # nobody is signed in


def test_the_https_label_opens_the_public_item_page_for_a_visitor(public: Public) -> None:
    code = public.code(public.kit)
    response = public.client.get(f"/L/{code}")
    assert response.status_code == 302
    assert response.headers["Location"] == f"/publik/barang/{code}"
    html = get(public, response.headers["Location"])
    assert "Paket logistik TPS" in html and "TPS 001 Kelurahan Tewah" in html
    assert 'id="bukti"' in html and "publik-bukti.js" in html
    forged = code[:-2] + ("AA" if not code.endswith("AA") else "BB")
    assert public.client.get(f"/L/{forged}").status_code == 404
    assert public.client.get(f"/publik/barang/{forged}").status_code == 404
    assert public.client.get("/publik/barang/" + "A" * 400).status_code == 404


def test_the_proof_bundle_verifies_against_the_signed_checkpoint(public: Public) -> None:
    bundle = public.client.get(f"/api/v1/public/items/{public.code(public.kit)}/proof").get_json()
    public_key = ledger_public_key(public.app.config["TEPAT_KEY_DIR"])
    head = merkle.verify_checkpoint(bundle["checkpoint"], public_key, bundle["key"]["key_name"])
    assert head.size == bundle["tree_size"] and len(bundle["events"]) == 6
    for event in bundle["events"]:
        merkle.verify_inclusion(
            bytes.fromhex(event["leaf_hash"]),
            event["leaf_index"],
            head.size,
            [bytes.fromhex(p) for p in event["proof"]],
            head.root,
        )


def test_published_checkpoints_keys_and_consistency(public: Public) -> None:
    key = public.client.get("/api/v1/public/log/key").get_json()
    label_keys = public.client.get("/api/v1/public/labels/keys").get_json()
    assert [k["key_id"] for k in label_keys["keys"]] == [public.story.signer.key_id]
    assert "private" not in json.dumps(label_keys).lower()
    assert key["algorithm"] == "Ed25519" and key["verifier_key"].startswith("tepat-ledger+")
    history = public.client.get("/api/v1/public/log/checkpoints").get_json()
    sizes = [c["tree_size"] for c in history["checkpoints"]]
    assert sizes and history["next_after"] is None
    note = get(public, f"/api/v1/public/log/checkpoints/{sizes[-1]}")
    assert (
        note == get(public, "/api/v1/public/log/checkpoint") == history["checkpoints"][-1]["note"]
    )
    response = public.client.get(f"/api/v1/public/log/checkpoints/{sizes[-1]}")
    assert "immutable" in response.headers["Cache-Control"]
    proof = public.client.get(
        f"/api/v1/public/log/consistency?first={sizes[-1]}&second={sizes[-1]}"
    ).get_json()
    assert proof["proof"] == []
    for bad in ("first=0&second=1", "first=x&second=2", "first=5"):
        response = public.client.get(f"/api/v1/public/log/consistency?{bad}")
        assert response.status_code == 422 and response.is_json
    assert public.client.get("/api/v1/public/log/checkpoints/999999").status_code == 404
    assert public.client.get("/api/v1/public/log/checkpoints?after=zz").status_code == 422


def test_bad_regions_and_pages_answer_4xx(public: Public) -> None:
    for url in (
        "/publik/wilayah/62",
        "/publik/wilayah/zz",
        "/publik/wilayah/62.10.03",
        "/publik/wilayah/11.01",
        "/api/v1/public/regions/62.99",
    ):
        assert public.client.get(url).status_code == 404, url
    assert public.client.get("/publik/?halaman=abc").status_code == 422


def test_english_through_the_existing_language_switch(public: Public) -> None:
    html = get(public, "/publik/wilayah/62.10?lang=en")
    assert re.search(r"Delivered to (the )?TPS|Findings by principle", html), html[:2000]
    item = get(public, f"/publik/barang/{public.code(public.kit)}?lang=en")
    assert 'data-ok="Verified on this device"' in item and "Journey" in item
    indonesian = get(public, f"/publik/barang/{public.code(public.kit)}?lang=id")
    assert 'data-ok="Terverifikasi di perangkat ini"' in indonesian


def test_public_answers_are_rate_limited_per_address(public: Public, tmp_path) -> None:
    url = public.app.config["SQLALCHEMY_DATABASE_URI"]
    limited = make_app(
        url,
        tmp_path,
        RATELIMIT_ENABLED=True,
        TEPAT_PUBLIC_RATE_LIMIT="3 per minute",
        TEPAT_KEY_DIR=public.app.config["TEPAT_KEY_DIR"],
    )
    client = limited.test_client()
    statuses = [client.get("/api/v1/public/log/key").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    assert client.get("/publik/", environ_base={"REMOTE_ADDR": "10.0.0.9"}).status_code == 200


def test_proofs_read_stored_nodes_once_the_log_has_them(
    public: Public, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With stored subtrees of 2 leaves (the real size is 256) the same proofs come out."""
    from sqlalchemy import func, select

    from app.extensions import db
    from app.public import nodes, proofs
    from app.public.models import MerkleNode

    code = public.code(public.kit)
    proofs._bundles.clear()
    plain = public.client.get(f"/api/v1/public/items/{code}/proof").get_json()
    monkeypatch.setattr(nodes, "BASE", 1)
    proofs._bundles.clear()
    stored = public.client.get(f"/api/v1/public/items/{code}/proof").get_json()
    assert stored == plain
    size = plain["tree_size"]
    assert (
        db.session.scalar(select(func.count()).select_from(MerkleNode).where(MerkleNode.level == 1))
        == size // 2
    )
    history = public.client.get("/api/v1/public/log/checkpoints").get_json()["checkpoints"]
    first = history[0]["tree_size"]
    response = public.client.get(f"/api/v1/public/log/consistency?first={first}&second={size}")
    assert response.status_code == 200
