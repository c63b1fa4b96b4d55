"""The public item page checks its proof in the browser: it passes on the real proof and
fails, visibly, on every kind of tampering (a proof hash, an event digest, a checkpoint)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from playwright.sync_api import Page, Route, expect

from app.extensions import db
from app.items.service import label_text
from tests.desk import scenario


def _open_item(demo_app: Flask) -> str:
    """Play the small distribution, integrate the log; return the kit's label path."""
    story = scenario.build(db.session, demo_app.config["TEPAT_KEY_DIR"])
    demo_app.config["TEPAT_NOW"] = scenario.NOW.isoformat()
    text = label_text(story.first(scenario.TPS_A, "KIT"), story.signer, "https://tepat.local")
    return text[text.index("/L/") :]


def test_a_visitor_scans_the_label_and_the_page_verifies_on_this_device(
    demo_app: Flask, page: Page, screenshot: Callable[[Page, str], Any]
) -> None:
    page.goto(_open_item(demo_app))
    assert "/publik/barang/" in page.url
    proof = page.locator("#bukti")
    expect(proof).to_have_attribute("data-state", "ok")
    expect(proof.locator(".status")).to_contain_text("Terverifikasi di perangkat ini")
    expect(page.locator("#timeline li")).to_have_count(6)
    expect(page.locator("#timeline .proof-state").first).to_contain_text("✔")
    screenshot(page, "publik-barang-phone")


def _flip(hex_digest: str) -> str:
    return ("0" if hex_digest[0] != "0" else "1") + hex_digest[1:]


def _tamper_proof(bundle: dict[str, Any]) -> None:
    bundle["events"][2]["proof"][0] = _flip(bundle["events"][2]["proof"][0])


def _tamper_event(bundle: dict[str, Any]) -> None:
    bundle["events"][3]["event_hash"] = _flip(bundle["events"][3]["event_hash"])


def _tamper_checkpoint(bundle: dict[str, Any]) -> None:
    origin, size, root, *rest = bundle["checkpoint"].split("\n")
    bundle["checkpoint"] = "\n".join([origin, str(int(size) + 1), root, *rest])
    bundle["tree_size"] += 1


@pytest.mark.parametrize(
    "tamper", [_tamper_proof, _tamper_event, _tamper_checkpoint], ids=["proof", "event", "note"]
)
def test_a_tampered_proof_fails_on_this_device(
    demo_app: Flask,
    page: Page,
    tamper: Callable[[dict[str, Any]], None],
    screenshot: Callable[[Page, str], Any],
) -> None:
    path = _open_item(demo_app)

    def rewrite(route: Route) -> None:
        response = route.fetch()
        bundle = response.json()
        tamper(bundle)
        route.fulfill(response=response, body=json.dumps(bundle))

    page.route("**/api/v1/public/items/*/proof", rewrite)
    page.goto(path)
    proof = page.locator("#bukti")
    expect(proof).to_have_attribute("data-state", "fail")
    expect(proof.locator(".status")).to_contain_text("GAGAL diverifikasi di perangkat ini")
    if tamper is _tamper_proof:
        expect(page.locator("#timeline .proof-state").nth(2)).to_contain_text("✘")
        screenshot(page, "publik-barang-gagal-phone")
