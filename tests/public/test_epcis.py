"""EPCIS 2.0 export: every scan kind validates against GS1's JSON schema (vendored in
tests/public/epcis/ with its notice), over the API (role, region, paging) and the CLI."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from app.epcis import document
from app.epcis.service import uris_for
from app.extensions import db
from app.plan import codes
from app.plan.service import get_election
from tests.conftest import login
from tests.desk import scenario
from tests.public.conftest import Public

SCHEMA = json.loads((Path(__file__).parent / "epcis" / "EPCIS-JSON-Schema.json").read_text())
VALIDATOR = jsonschema.Draft7Validator(
    SCHEMA, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
)
URIS = uris_for("https://TEPAT.example.id")
AT = datetime(2024, 11, 26, 3, 0, tzinfo=UTC)


def valid(doc: dict[str, Any]) -> None:
    errors = sorted(VALIDATOR.iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:5])


def row(action: str, **extra: Any) -> document.Row:
    fields: dict[str, Any] = {
        "event_id": "6f1f2c9e-0d0a-4a9b-9a57-3c1a4f2b7e01",
        "serial": "PB361A2CB4M2QQNT",
        "action": action,
        "node": "62.10.03",
        "target": None,
        "device_time": AT,
        "server_time": AT + timedelta(minutes=1),
        "quantity": None,
        "condition": None,
        "seals": (),
        "container": None,
        "ref_event_id": None,
        "item_type": "KOTAK",
        "race": "BUP",
    }
    fields.update(extra)
    return document.Row(**fields)


def test_the_validator_really_checks_formats() -> None:
    """A guard: without the format packages an invalid URI would pass silently."""
    bad = document.document([document.observation(row("kirim"), URIS)], URIS, AT, {})
    bad["epcisBody"]["eventList"][0]["readPoint"]["id"] = "not a uri"
    assert list(VALIDATOR.iter_errors(bad))
    example = Path(__file__).parent / "epcis" / "examples" / "Example_9.6.3-AggregationEvent.jsonld"
    valid(json.loads(example.read_text()))


SCANS = {
    "kemas": {"container": "KT8NZ3Q4M2A7BC01"},
    "keluarkan": {"container": "KT8NZ3Q4M2A7BC01"},
    "kirim": {"target": "62.10.03.1005"},
    "kembali": {"target": "62.10"},
    "terima": {"quantity": 1, "condition": "basah", "seals": ("S-1", "S-2")},
    "buka": {},
    "segel": {"seals": ("S-3",)},
    "rusak": {"condition": "rusak_berat"},
    "hilang": {},
    "tindakan-baru": {},  # an action added later still exports as an observation
}


@pytest.mark.parametrize("action", sorted(SCANS))
def test_every_scan_kind_is_a_valid_epcis_event(action: str) -> None:
    event = document.observation(row(action, **SCANS[action]), URIS)
    valid(document.document([event], URIS, AT, {"62.10.03": "PPK Tewah"}))
    expected = document.MAPPING.get(action, document.FALLBACK)
    assert (event["type"], event["action"], event["bizStep"]) == expected[:3]
    subject = event.get("epcList") or event.get("childEPCs")
    assert subject == ["https://tepat.example.id/epc/barang/PB361A2CB4M2QQNT"]
    assert event["eventTimeZoneOffset"] == "+07:00"  # Gunung Mas is WIB


def test_shipping_names_source_and_destination_receiving_the_place() -> None:
    shipped = document.observation(row("kirim", target="62.10.03.1005"), URIS)
    assert shipped["disposition"] == "in_transit"
    assert shipped["destinationList"] == [
        {"type": "location", "destination": "https://tepat.example.id/epc/lokasi/62.10.03.1005"}
    ]
    received = document.observation(row("terima", condition="basah"), URIS)
    assert received["bizLocation"] == {"id": "https://tepat.example.id/epc/lokasi/62.10.03"}
    assert received["disposition"] == "damaged" and received["tepat:condition"] == "basah"


def test_undo_and_correction_are_error_declarations() -> None:
    original = row("terima", quantity=20)
    undo = row(
        "batal", event_id="0c6b0b8e-5d43-4d36-9e43-0e3f7b9f0001", ref_event_id=original.event_id
    )
    fix = row(
        "koreksi",
        event_id="0c6b0b8e-5d43-4d36-9e43-0e3f7b9f0002",
        ref_event_id=original.event_id,
        quantity=19,
    )
    events = document.events([original, undo, fix], {original.event_id: original}, URIS)
    valid(document.document(events, URIS, AT, {}))
    declared = [e for e in events if "errorDeclaration" in e]
    assert [d["errorDeclaration"]["reason"] for d in declared] == [
        "did_not_occur",
        "incorrect_data",
    ]
    assert all(d["eventID"] == f"urn:uuid:{original.event_id}" for d in declared)
    assert declared[1]["errorDeclaration"]["correctiveEventIDs"] == [f"urn:uuid:{fix.event_id}"]
    assert (
        events[-1]["eventID"] == f"urn:uuid:{fix.event_id}" and events[-1]["tepat:quantity"] == 19
    )


@pytest.fixture(scope="module")
def corrected(public: Public) -> Public:
    """TPS 003's kit is sent, the send undone, sent again and its count corrected."""
    kit = public.story.first(scenario.TPS_B, "KIT")
    gudang, ppk, *_ = codes.route(scenario.TPS_B)
    election = get_election(db.session, scenario.ELECTION)
    keyring = public.story.keyring
    first = scenario._play(
        db.session,
        keyring,
        election,
        "gudang",
        [(kit, "kirim", gudang, datetime(2024, 11, 26, 1, 0, tzinfo=UTC), {"target": ppk})],
    )
    scenario._play(
        db.session,
        keyring,
        election,
        "gudang",
        [
            (
                kit,
                "batal",
                gudang,
                datetime(2024, 11, 26, 1, 5, tzinfo=UTC),
                {"ref_event_id": first[0]},
            )
        ],
    )
    second = scenario._play(
        db.session,
        keyring,
        election,
        "gudang",
        [(kit, "kirim", gudang, datetime(2024, 11, 26, 1, 10, tzinfo=UTC), {"target": ppk})],
    )
    scenario._play(
        db.session,
        keyring,
        election,
        "gudang",
        [
            (
                kit,
                "koreksi",
                gudang,
                datetime(2024, 11, 26, 1, 15, tzinfo=UTC),
                {"ref_event_id": second[0], "quantity": 1},
            )
        ],
    )
    return public


def test_the_api_exports_the_region_as_a_valid_document(corrected: Public) -> None:
    client = corrected.app.test_client()
    login(client, "desk")
    response = client.get("/api/v1/epcis/events?wilayah=62.10")
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/ld+json"
    doc = response.get_json()
    valid(doc)
    events = doc["epcisBody"]["eventList"]
    kinds = {(e["type"], e.get("bizStep")) for e in events}
    assert ("AggregationEvent", "packing") in kinds
    assert ("ObjectEvent", "shipping") in kinds and ("ObjectEvent", "receiving") in kinds
    reasons = [e["errorDeclaration"]["reason"] for e in events if "errorDeclaration" in e]
    assert reasons == ["did_not_occur", "incorrect_data"]
    names = doc["epcisHeader"]["epcisMasterData"]["vocabularyList"][0]["vocabularyElementList"]
    assert any(n["attributes"][0]["attribute"] == "PPK Tewah" for n in names)
    text = response.get_data(as_text=True)
    assert "Ketua PPK" not in text and "hp-" not in text  # no people, no devices


def test_pages_follow_the_link_header_and_cover_everything_once(corrected: Public) -> None:
    client = corrected.app.test_client()
    login(client, "desk")
    whole = client.get("/api/v1/epcis/events?wilayah=62.10.03&limit=2000").get_json()
    url: str | None = "/api/v1/epcis/events?wilayah=62.10.03&limit=2"
    seen: list[str] = []
    pages = 0
    while url:
        response = client.get(url)
        assert response.status_code == 200
        valid(response.get_json())
        seen += [e["eventID"] for e in response.get_json()["epcisBody"]["eventList"]]
        link = response.headers.get("Link")
        url = link[1 : link.index(">")] if link else None
        pages += 1
    assert pages >= 3
    assert seen == [e["eventID"] for e in whole["epcisBody"]["eventList"]]


def test_role_region_and_bad_input(corrected: Public) -> None:
    client = corrected.app.test_client()
    assert client.get("/api/v1/epcis/events").status_code == 401
    login(client, "kurir.tewah")
    assert client.get("/api/v1/epcis/events?wilayah=62.10.03").status_code == 403
    observer = corrected.app.test_client()
    login(observer, "bawaslu")
    assert observer.get("/api/v1/epcis/events?wilayah=62.10").status_code == 200
    assert observer.get("/api/v1/epcis/events?wilayah=63.01").status_code == 404
    desk = corrected.app.test_client()
    login(desk, "desk")
    for query in (
        "wilayah=zz",
        "wilayah=62.10&dari=kemarin",
        "wilayah=62.10&after=%%%",
        "wilayah=62.10&limit=0",
        "wilayah=62.10&dari=2024-11-27&sampai=2024-11-26",
    ):
        response = desk.get(f"/api/v1/epcis/events?{query}")
        assert response.status_code == 422 and response.is_json, query
    window = desk.get(
        "/api/v1/epcis/events?wilayah=62.10&dari=2024-11-26T01:00:00Z&sampai=2024-11-26T01:12:00Z"
    ).get_json()
    # Received 01:01, 01:06 and 01:11: the first send, its undo (declared), the second send.
    listed = window["epcisBody"]["eventList"]
    assert [e.get("errorDeclaration", {}).get("reason") for e in listed] == [
        None,
        "did_not_occur",
        None,
    ]


def test_the_cli_streams_one_valid_document(corrected: Public, tmp_path: Path) -> None:
    out = tmp_path / "epcis.jsonld"
    result = corrected.app.test_cli_runner().invoke(
        args=["epcis", "export", "--wilayah", "62.10", "--page-size", "2", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    doc = json.loads(out.read_text())
    valid(doc)
    assert f"{len(doc['epcisBody']['eventList'])} event EPCIS" in result.output
    bad = corrected.app.test_cli_runner().invoke(args=["epcis", "export", "--wilayah", "x"])
    assert bad.exit_code == 2 and "wilayah" in bad.output
