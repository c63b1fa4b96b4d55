"""Every page of every role speaks one language: no Indonesian on an English page, no English
on an Indonesian one (issue 13). Findings, item names and scan answers included.

The pages are walked on the demo with the small distribution of tests/desk/scenario.py
(a late kit, an overdue TPS, a box at the wrong TPS), so findings are on the desk pages.
Place names, people's names, serials and codes are data, not interface: they are skipped
by looking only at words from two short lists of everyday words of each language.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest
from flask import Flask

from app.extensions import db
from tests.conftest import login
from tests.desk import scenario
from tests.desk.conftest import wrong_tps_scan

pytestmark = pytest.mark.db

#: Everyday Indonesian words that never appear in English interface text.
INDONESIAN = frozenset(
    "dan untuk tidak belum sudah dengan yang dari ke di ini atau pada barang tiba lewat "
    "tenggat dipindai kurang lebih rencana jumlah kotak surat suara paket masuk keluar kirim "
    "terima semua halaman simpan pilih unduh cetak temuan pengguna sandi tujuan dalam "
    "perjalanan lengkap oleh diterima dikirim belum sesuai wilayah gudang".split()
)
#: Everyday English words that never appear in Indonesian interface text.
ENGLISH = frozenset(
    "the and of with not for from items item box ballot ballots page search print download "
    "warehouse deadline late missing sign users findings received sent arrived region".split()
)
SKIPPED_TAGS = frozenset({"script", "style", "code", "noscript"})
#: A word: letters not touching a digit (sent_at is a field name, not English; "7KE9" is a
#: piece of a random serial, not the Indonesian "ke").
WORD = re.compile(r"(?<![A-Za-z0-9])[A-Za-z_]+(?![A-Za-z0-9])")


class _Text(HTMLParser):
    """The visible text of a page (and its title), without code, scripts and hidden data."""

    def __init__(self) -> None:
        super().__init__()
        self.skip = 0
        self.stack: list[bool] = []
        self.words: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("br", "img", "input", "meta", "link", "hr", "source", "wbr"):
            return
        names = dict(attrs)
        skipped = tag in SKIPPED_TAGS or names.get("translate") == "no"
        self.stack.append(skipped)
        self.skip += skipped

    def handle_endtag(self, tag: str) -> None:
        if tag in ("br", "img", "input", "meta", "link", "hr", "source", "wbr") or not self.stack:
            return
        self.skip -= self.stack.pop()

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.words += WORD.findall(data)


def words_of(html: str) -> list[str]:
    parser = _Text()
    parser.feed(html)
    return parser.words


def pages(story: scenario.Scenario) -> dict[str, list[str]]:
    """The pages each demo account can open, with the data of the story in them."""
    kit = story.first(scenario.TPS_A, "KIT")
    box = story.misdelivered
    courier = [
        "/kurir",
        "/kurir/tutup",
        f"/kurir/barang/{kit.serial}",
        "/gudang/kemas",
        f"/gudang/kemas?paket={story.first(scenario.TPS_B, 'KIT').serial}",
    ]
    desk = [
        "/desk",
        "/desk/temuan",
        "/desk/wilayah/62.10",
        "/desk/wilayah/62.10.03",
        f"/desk/wilayah/{scenario.TPS_A}",
        f"/desk/barang/{kit.serial}",
        f"/desk/barang/{box.serial}",
        "/desk/kembali",
    ]
    common = ["/", "/rencana", "/rencana/biaya", "/publik/", "/publik/wilayah/62.10", "/publik/log"]
    warehouse = ["/gudang/", "/gudang/label", "/gudang/kirim", f"/gudang/seri?q={box.serial}"]
    return {
        "admin": common + desk + warehouse + courier + ["/admin/pengguna", "/admin/pengguna/baru"],
        "gudang": common + warehouse + courier,
        "kurir.tewah": common + courier,
        "desk": common + desk,
        "bawaslu": common + desk,
    }


@pytest.mark.parametrize("username", ["admin", "gudang", "kurir.tewah", "desk", "bawaslu"])
def test_every_page_speaks_only_the_chosen_language(demo_app: Flask, username: str) -> None:
    demo_app.config["TEPAT_NOW"] = scenario.NOW.isoformat()
    story = scenario.build(db.session, demo_app.config["TEPAT_KEY_DIR"])
    setup = demo_app.test_client()
    login(setup, "kurir.tewah")
    assert wrong_tps_scan(setup, story).status_code == 200
    client = demo_app.test_client()
    login(client, username)
    wrong: list[str] = []
    for lang, foreign in (("id", ENGLISH), ("en", INDONESIAN)):
        client.get(f"/bahasa/{lang}")
        for url in pages(story)[username]:
            response = client.get(url)
            if 300 <= response.status_code < 400:
                continue  # a role's landing redirect
            if response.status_code >= 500 or "text/html" not in response.content_type:
                wrong.append(f"{lang} {url}: {response.status_code} {response.content_type}")
                continue
            text = words_of(response.get_data(as_text=True))
            for at, word in enumerate(text):
                if word.lower() in foreign:  # with the words around it, to find the text
                    wrong.append(f"{lang} {url}: {word!r} in {' '.join(text[at - 6 : at + 6])!r}")
                    break
    assert wrong == [], "\n".join(wrong)
