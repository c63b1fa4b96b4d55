"""English for the texts the custody layer writes in Indonesian: findings, item names, scan answers.

The pure rules (``app/custody/rules/wording.py``) and the ingest service write their
messages in Indonesian, and findings are stored that way. The English pages translate
them when they are shown: each message is built from a small set of sentence patterns
(one per finding code, with places, times and counts as the variable parts), so a table of
patterns maps them one to one. A message no pattern knows is shown as it was written.
"""

# ruff: noqa: E501  (tables of sentences read best one per line)
from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from flask import g, has_request_context
from sqlalchemy import select

from app.extensions import db
from app.plan.models import ItemType
from app.web import select_locale

_Sub = str | Callable[[re.Match[str]], str]

#: Item types and races, longest first so "surat suara" wins over "surat".
ITEM_WORDS = (
    ("kotak suara", "ballot box"),
    ("bilik suara", "voting booth"),
    ("surat suara", "ballot paper"),
    ("template braille", "braille template"),
    ("kit tps", "TPS kit"),
    ("paket logistik tps", "TPS logistics kit"),
    ("formulir", "forms"),
    ("sampul", "envelope"),
    ("segel", "seals"),
    ("tinta", "ink"),
    ("barang", "item"),
)
RACE_WORDS = {"gubernur": "governor", "bupati": "regent", "wali kota": "mayor"}
CONDITION_WORDS = {
    "rusak ringan": "slightly damaged",
    "rusak berat": "badly damaged",
    "basah": "wet",
    "baik": "in good condition",
}

_RACE = "|".join(re.escape(w) for w in RACE_WORDS)


def _item_names() -> dict[str, str]:
    """Indonesian item names (lower case) -> English: the catalogue's, then the rules' words."""
    names = dict(ITEM_WORDS)
    if has_request_context():
        cached = getattr(g, "tepat_item_names_en", None)
        if cached is None:
            cached = {
                name_id.lower(): name_en
                for name_id, name_en in db.session.execute(
                    select(ItemType.name_id, ItemType.name_en)
                ).all()
                if name_en
            }
            g.tepat_item_names_en = cached
        names = {**names, **cached}
    return names


def what(text: str) -> str:
    """'Kotak suara bupati' -> 'Ballot box (regent)'; other words are left alone."""
    names = _item_names()
    alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    pattern = re.compile(rf"\b({alternatives})(?: ({_RACE}))?\b", re.IGNORECASE)

    def one(match: re.Match[str]) -> str:
        name = names[match.group(1).lower()]
        race = match.group(2)
        return f"{name} ({RACE_WORDS[race.lower()]})" if race else name

    if text.lower() in RACE_WORDS:
        english = RACE_WORDS[text.lower()]
    else:
        english = pattern.sub(one, text)
    return english[:1].upper() + english[1:] if text[:1].isupper() else english


def _place(text: str) -> str:
    return re.sub(r"\bgudang\b", "warehouse", re.sub(r"\bgudang KPU\b", "KPU warehouse", text))


# Each pattern is tried on the whole message; groups are places, times, counts and item words.
_P = r"(.+?)"
_T = r"(\d\d-\d\d-\d{4} \d\d\.\d\d W\w+)"
SENTENCES: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern + r"\Z", re.DOTALL), english)
    for pattern, english in (
        # waktu
        (
            rf"Tiba di {_P} {_T}, lewat tenggat {_T}(.*)",
            r"Arrived at \1 \2, past the deadline \3\4",
        ),
        (
            rf"Belum sampai di {_P} padahal tenggat {_T} sudah lewat",
            r"Not yet at \1 although the deadline \2 has passed",
        ),
        (
            rf"Dikirim dari {_P} ke {_P} tetapi belum dicatat diterima setelah tenggat {_T}",
            r"Sent from \1 to \2 but not recorded as received after the deadline \3",
        ),
        (
            rf"Belum dikirim dari {_P} ke {_P}; tenggat {_T} tinggal (\d+) jam lagi",
            r"Not yet sent from \1 to \2; the deadline \3 is only \4 hours away",
        ),
        (
            rf"Jam perangkat {_P} lebih cepat (\d+) menit dari jam server; pemindaian tetap dicatat(.*)",
            r"The clock of device \1 is \2 minutes fast; the scan was recorded\3",
        ),
        (
            rf"Jam perangkat {_P} tertinggal (\d+) menit dari jam server; pemindaian tetap dicatat(.*)",
            r"The clock of device \1 is \2 minutes slow; the scan was recorded\3",
        ),
        (
            rf"Perangkat {_P} tidak mengirim jamnya \(sent_at\); keterlambatan yang ditunjukkan pindaiannya ditandai belum terverifikasi\.",
            r"Device \1 did not send its clock (sent_at); lateness shown by its scans is marked unverified.",
        ),
        # sasaran
        (rf"Barang untuk {_P}, bukan TPS {_P}", r"Item for \1, not TPS \2"),
        (rf"{_P} ini untuk {_P}, bukan {_P}", r"This \1 is for \2, not \3"),
        (
            rf"Dipindai di {_P}, di luar rute ke {_P} \(rute: {_P}\)",
            r"Scanned at \1, off the route to \2 (route: \3)",
        ),
        (rf"Dipindai di {_P}, di luar rute ke {_P}", r"Scanned at \1, off the route to \2"),
        (rf"Dikirim ke {_P}, seharusnya ke {_P}", r"Sent to \1, should have gone to \2"),
        (rf"Barang untuk {_P} dikemas ke {_P} untuk {_P}", r"Item for \1 packed into \2 for \3"),
        # jenis
        (
            rf"{_P} ini untuk wilayah {_P}, tetapi dipindai di wilayah {_P} \(tertukar\)",
            r"This \1 is for the region \2 but was scanned in the region \3 (swapped)",
        ),
        (
            rf"Barang untuk pemilihan {_P}, tetapi TPS {_P} tidak menyelenggarakan pemilihan {_P}",
            r"Item for the \1 race, but TPS \2 does not hold the \3 race",
        ),
        (rf"{_P} tidak direncanakan untuk TPS {_P}", r"\1 not planned for TPS \2"),
        # jumlah
        (
            r"Dihitung (\d+) (lembar|buah), label tertulis (\d+) \(selisih (-?\d+)\)",
            r"Counted \1 \2, the label says \3 (difference \4)",
        ),
        (
            rf"{_P} (kurang|lebih) (\d+) (lembar|buah) {_P}: {_P} (\d+) dari rencana (\d+)",
            r"\1 \2 \3 \4 \5: \6 \7 of \8 planned",
        ),
        (
            rf"Belum diterbitkan labelnya: (\d+) tujuan di {_P}",
            r"Labels not yet issued: \1 destinations in \2",
        ),
        (
            rf"{_P} (\S+) dikirim dari {_P} dengan isi kurang dari rencana: kurang {_P}",
            r"\1 \2 sent from \3 with less inside than planned: short \4",
        ),
        (
            rf"Isi {_P} (\S+) di {_P}: {_P} dihitung (\d+), dikemas (\d+) \((kurang|lebih) (\d+)\)",
            r"Contents of \1 \2 at \3: \4 counted \5, packed \6 (\7 \8)",
        ),
        (rf"{_P} dilaporkan hilang di {_P}", r"\1 reported lost at \2"),
        (
            rf"{_P} berlabel (\S+) yang sudah dibatalkan masih ada di dalam (\S+); tidak "
            r"dihitung, keluarkan dan pakai label penggantinya",
            r"\1 labelled \2, voided, is still inside \3; not counted, take it out and use "
            r"its replacement label",
        ),
        # kualitas
        (
            rf"{_P} dilaporkan (rusak ringan|rusak berat|basah|baik) di {_P}",
            r"\1 reported \2 at \3",
        ),
        (
            rf"Nomor segel berbeda: saat disegel {_P}, sekarang {_P}",
            r"Seal numbers differ: \1 when sealed, now \2",
        ),
        (
            rf"Dibuka di {_P}, padahal hanya boleh dibuka di TPS",
            r"Opened at \1, but may only be opened at the TPS",
        ),
        # custody
        (
            rf"Diterima di {_P} tanpa catatan pengiriman ke sana",
            r"Received at \1 with no record of dispatch there",
        ),
        (
            rf"Label yang sama dipindai di {_P} padahal barang tercatat di {_P}: kemungkinan label ganda",
            r"The same label was scanned at \1 while the item is recorded at \2: possibly a cloned label",
        ),
        (
            rf"Dipakai di {_P} tanpa dicatat diterima dari {_P}",
            r"Used at \1 without being recorded as received from \2",
        ),
        (
            rf"Diterima di {_P}, tetapi pengiriman dari {_P} tidak dipindai",
            r"Received at \1, but the dispatch from \2 was not scanned",
        ),
        (rf"Pemindaian {_P} dibatalkan oleh {_P}", r"Scan \1 voided by \2"),
        (rf"Pemindaian {_P} dikoreksi oleh {_P}", r"Scan \1 corrected by \2"),
        (rf"Label yang sudah dibatalkan dipindai di {_P}\.", r"A voided label was scanned at \1."),
        (
            rf"Event dengan ID yang sama dikirim ulang dengan isi berbeda oleh perangkat {_P}\.",
            r"An event with the same ID was resent with different content by device \1.",
        ),
        (
            rf"Perangkat {_P} melewatkan nomor urut {_P}: ada pindaian yang belum terkirim atau hilang\.",
            r"Device \1 skipped sequence numbers \2: scans not yet sent, or lost.",
        ),
        # kembali
        (
            rf"{_P} diterima kembali di {_P} tanpa catatan pengembalian dari {_P}",
            r"\1 received back at \2 with no record of its return from \3",
        ),
        (
            rf"{_P} kembali dari {_P} langsung ke {_P}, melewati {_P}",
            r"\1 came back from \2 straight to \3, skipping \4",
        ),
        (
            rf"{_P} kembali tiba di {_P} {_T}, lewat tenggat pengembalian {_T}",
            r"\1 came back to \2 \3, past the return deadline \4",
        ),
        (
            rf"{_P} dikembalikan dari {_P} ke {_P} tetapi belum dicatat diterima setelah tenggat {_T}",
            r"\1 returned from \2 to \3 but not recorded as received after the deadline \4",
        ),
        (
            rf"{_P} belum dikembalikan dari {_P} ke {_P} padahal tenggat {_T} sudah lewat",
            r"\1 not yet returned from \2 to \3 although the deadline \4 has passed",
        ),
        (
            rf"{_P} belum mencatat penutupan kotak suara \({_P}\) padahal tenggat pengembalian {_T} sudah lewat",
            r"\1 has not recorded the closing of its ballot box (\2) although the return deadline \3 has passed",
        ),
        # biaya
        (
            rf"Biaya {_P} (Rp[\d.]+) tercatat tanpa anggaran",
            r"Cost of \1 \2 recorded without a budget",
        ),
        (
            rf"Biaya {_P} (Rp[\d.]+) melebihi anggaran (Rp[\d.]+) \(lebih (Rp[\d.]+)\)",
            r"Cost of \1 \2 exceeds the budget \3 (over by \4)",
        ),
    )
)

_INSIDE = re.compile(rf"{_P} (\S+), (\d+) barang di dalamnya: {_P}\Z", re.DOTALL)

#: Words left inside the variable parts after a sentence is translated.
WORDS: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), english)
    for pattern, english in (
        (r" \(jam perangkat belum terverifikasi\)", " (device clock unverified)"),
        (r"\bpemindaian tetap dicatat dengan waktu server\b", "with the server's time"),
        (r"\bkurang\b", "short"),
        (r"\blebih\b", "over"),
        (r"\blembar\b", "sheets"),
        (r"\bbuah\b", "pcs"),
        (r"\btercatat\b", "recorded"),
        (r"\btiba tanpa konfirmasi\b", "arrived unconfirmed"),
        (r"\bwilayah\b", "region"),
        (r"\bini\b", ""),
    )
)

#: Whole answers of the scan API and the packing page.
ANSWERS = {
    "Diterima.": "Accepted.",
    "Masuk paket.": "Packed.",
    "Dikeluarkan dari paket.": "Taken out of the kit.",
    "Sudah diterima sebelumnya.": "Already received before.",
    "Sudah tercatat di paket ini.": "Already recorded in this kit.",
    "Barang ini tidak ada di paket ini.": "This item is not in this kit.",
    "Ini label paket itu sendiri; pindai barang isinya.": "This is the kit's own label; scan the items inside.",
    "Label ini tidak pernah diterbitkan oleh KPU.": "This label was never issued by the KPU.",
    "Label ini sudah dibatalkan dan tidak berlaku.": "This label has been voided and is not valid.",
    "Label wadah (kit/kotak) tidak dikenal.": "Unknown container label (kit/box).",
    "Tanda tangan label tidak sah: label palsu atau rusak.": "The label's signature is not valid: a forged or damaged label.",
    "Label ditandatangani kunci yang tidak dikenal.": "The label is signed with an unknown key.",
    "Versi label tidak didukung.": "Label version not supported.",
    "Label tidak dapat dibaca sebagai label Tepat.": "Not readable as a Tepat label.",
    "ID event sudah dipakai untuk isi yang berbeda; tidak disimpan.": "The event ID was already used for different content; not stored.",
    "Tindakan ini tidak dapat dilakukan pada keadaan barang saat ini.": "This action is not possible in the item's current state.",
    "Isi pindaian tidak lengkap atau tidak sah.": "The scan is incomplete or invalid.",
    "Label ini sudah dibatalkan dan tidak berlaku. Jangan dikemas; minta label pengganti.": "This label has been voided. Do not pack it; ask for a replacement label.",
    "Label ini tidak pernah diterbitkan oleh KPU. Sisihkan barangnya.": "This label was never issued by the KPU. Set the item aside.",
    "Tanda tangan label tidak sah: label palsu atau rusak. Sisihkan barangnya dan laporkan.": "The label's signature is not valid: forged or damaged. Set the item aside and report it.",
    "Label tidak terbaca sebagai label Tepat. Pindai ulang atau ketik nomor serinya.": "Not readable as a Tepat label. Scan again or type its serial.",
}
_PACKING = (
    (
        re.compile(
            rf"Barang ini untuk {_P}, bukan untuk {_P}\. Keluarkan dari paket ini dan kemas ke paket yang benar\.\Z"
        ),
        r"This item is for \1, not for \2. Take it out of this kit and pack it into the right one.",
    ),
    (
        re.compile(
            rf"Ini label paket lain \({_P}\)\. Untuk mengemas paket itu, pindai labelnya di kolom paket\.\Z"
        ),
        r"This is another kit's label (\1). To pack that kit, scan its label in the kit field.",
    ),
    (re.compile(rf"{_P} di luar wilayah tugas Anda\.\Z"), r"\1 is outside your area."),
    (re.compile(rf"untuk {_P}\Z"), r"for \1"),
    (re.compile(rf"{_P}: (\d+) label belum terbit\Z"), r"\1: \2 labels not issued yet"),
    (re.compile(rf"Simpul {_P} tidak ada dalam rencana\.\Z"), r"Node \1 is not in the plan."),
    (
        re.compile(rf"Tujuan {_P} tidak ada dalam rencana\.\Z"),
        r"Destination \1 is not in the plan.",
    ),
)


_WITH_INSIDE = re.compile(r"(.+) \(beserta (\d+) barang di dalamnya\)\Z", re.DOTALL)


def english(message: str) -> str:
    """The English of a finding message or scan answer written by the custody layer."""
    if not message:
        return message
    carried = _WITH_INSIDE.match(message)
    if carried:  # a container's finding that holds for what is inside it too
        return f"{english(carried.group(1))} (with the {carried.group(2)} items inside)"
    if message in ANSWERS:
        return ANSWERS[message]
    for pattern, replacement in _PACKING:
        if pattern.match(message):
            return _tidy(pattern.sub(replacement, message))
    inside = _INSIDE.match(message)
    if inside:  # a container's grouped finding: the cause is itself a finding message
        cause = english(inside.group(4)[:1].upper() + inside.group(4)[1:])
        head = _tidy(f"{inside.group(1)} {inside.group(2)}")
        return f"{head}, {inside.group(3)} items inside: {cause[:1].lower()}{cause[1:]}"
    for pattern, replacement in SENTENCES:
        match = pattern.match(message)
        if match:
            return _tidy(pattern.sub(replacement, message))
    return message


def _tidy(text: str) -> str:
    text = _place(what(text))
    for pattern, replacement in WORDS:
        text = pattern.sub(replacement, text)
    for indonesian, word in CONDITION_WORDS.items():
        text = re.sub(rf"\breported {indonesian}\b", f"reported {word}", text)
    text = re.sub(r"\s{2,}", " ", text).strip()
    text = re.sub(r"\bThis ([A-Z])(?=[a-z])", lambda m: "This " + m.group(1).lower(), text)
    return text[:1].upper() + text[1:]


def english_ui() -> bool:
    """Whether the page is being shown in English."""
    return has_request_context() and select_locale() == "en"


def say(message: Any) -> Any:
    """A custody message in the reader's language (Jinja filter ``say``)."""
    if not isinstance(message, str) or not english_ui():
        return message
    return english(message)


def say_place(text: Any) -> Any:
    """A place's name in the reader's language (Jinja filter ``say_place``)."""
    if not isinstance(text, str) or not english_ui():
        return text
    return _place(text)


def say_what(text: Any) -> Any:
    """An item's name in the reader's language (Jinja filter ``say_what``)."""
    if not isinstance(text, str) or not english_ui():
        return text
    return what(text)


def translate_scan_result(result: dict[str, Any]) -> dict[str, Any]:
    """A scan API result with its message, findings and item name in English."""
    out = dict(result)
    out["message"] = english(str(result.get("message") or ""))
    out["findings"] = [
        {**f, "message": english(str(f.get("message") or ""))} for f in result.get("findings") or []
    ]
    if "groups" in result and isinstance(result["groups"], list):
        out["groups"] = [
            {**g, "message": english(str(g.get("message") or ""))} for g in result["groups"]
        ]
    if isinstance(result.get("item"), dict):
        out["item"] = {**result["item"], "what": what(str(result["item"].get("what") or ""))}
    return out


def translate_pack(answer: dict[str, Any]) -> dict[str, Any]:
    """A packing page answer (message, problems, the kit's lines) in English."""
    out = dict(answer)
    out["message"] = english(str(answer.get("message") or ""))
    out["problems"] = [english(str(p)) for p in answer.get("problems") or []]
    kit = answer.get("kit")
    if isinstance(kit, dict):

        def line(row: dict[str, Any]) -> dict[str, Any]:
            return {
                **row,
                "type_name": what(str(row.get("type_name") or "")),
                "race": what(str(row["race"])) if row.get("race") else row.get("race"),
                "note": english(str(row.get("note") or "")),
            }

        out["kit"] = {
            **kit,
            "lines": [line(r) for r in kit.get("lines") or []],
            "extra": [line(r) for r in kit.get("extra") or []],
        }
    return out
