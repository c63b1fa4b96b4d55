"""The interface speaks Indonesian first and English on request, with every text translated."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from flask import Flask

from tests.conftest import login
from tests.web.helpers import TRANSLATIONS

ROOT = Path(__file__).resolve().parents[2]


def test_plan_page_in_indonesian_then_english(web_app: Flask) -> None:
    client = web_app.test_client()
    login(client, "desk")
    indonesian = client.get("/rencana").get_data(as_text=True)
    assert '<html lang="id">' in indonesian
    assert "Rencana kebutuhan logistik" in indonesian and "Keluar" in indonesian
    assert "89.540" in indonesian and "27 November 2024" in indonesian  # Indonesian formats

    switched = client.get("/bahasa/en", headers={"Referer": "http://localhost/rencana"})
    assert switched.status_code == 302 and switched.location == "/rencana"
    english = client.get("/rencana").get_data(as_text=True)
    assert '<html lang="en">' in english
    assert "Logistics needs plan" in english and "Sign out" in english
    assert "Rencana kebutuhan logistik" not in english
    assert "89,540" in english and "November 27, 2024" in english

    client.get("/bahasa/id")
    assert "Rencana kebutuhan logistik" in client.get("/rencana").get_data(as_text=True)


def test_login_and_error_pages_follow_the_language(web_app: Flask) -> None:
    client = web_app.test_client()
    assert "Masuk ke Tepat" in client.get("/masuk").get_data(as_text=True)
    assert "Halaman atau data tidak ditemukan." in client.get("/tidak-ada").get_data(as_text=True)
    client.get("/bahasa/en")
    assert "Sign in to Tepat" in client.get("/masuk").get_data(as_text=True)
    assert "Page or data not found." in client.get("/tidak-ada").get_data(as_text=True)
    wrong = client.post("/masuk", data={"username": "desk", "password": "salah-sekali"})
    assert "Wrong username or password." in wrong.get_data(as_text=True)


def test_browser_preference_picks_english_without_a_choice(web_app: Flask) -> None:
    client = web_app.test_client()
    page = client.get("/masuk", headers={"Accept-Language": "en-US,en;q=0.9"})
    assert "Sign in to Tepat" in page.get_data(as_text=True)
    page = client.get("/masuk", headers={"Accept-Language": "fr, de"})
    assert "Masuk ke Tepat" in page.get_data(as_text=True)


def test_every_interface_text_has_an_english_translation() -> None:
    """Run ``make catalog`` and translate the new msgids when this fails."""
    with (ROOT / "app" / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    in_code = {
        message[2] for message in extract_from_dir(str(ROOT / "app"), method_map, options_map)
    }
    in_code = {m if isinstance(m, str) else m[0] for m in in_code}
    with (TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po").open("rb") as po:
        catalog = read_po(po)
    translated = {m.id for m in catalog if m.id and m.string and not m.fuzzy}
    assert sorted(in_code - translated) == []
