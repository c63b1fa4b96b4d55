"""Words the desk and courier pages show for codes: principles, severities, legs, actions.

Marked with ``N_`` for the catalogue and translated where shown (``_(WORD[key])``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask_babel import format_datetime

from app.timeutil import ZONE_LABELS, parse_instant, zone_for_region
from app.web import N_

PRINCIPLES = {
    "jenis": N_("Tepat jenis"),
    "jumlah": N_("Tepat jumlah"),
    "kualitas": N_("Tepat kualitas"),
    "waktu": N_("Tepat waktu"),
    "sasaran": N_("Tepat sasaran"),
    "akuntabilitas": N_("Akuntabilitas"),
    "biaya": N_("Tepat biaya"),
}
SEVERITIES = {"critical": N_("Kritis"), "warning": N_("Peringatan"), "info": N_("Info")}
LEGS = {
    "gudang": N_("Di gudang"),
    "ppk": N_("Gudang → PPK"),
    "pps": N_("PPK → PPS"),
    "kpps": N_("PPS → TPS"),
}
STAGES = {
    "gudang": N_("Di gudang"),
    "ppk": N_("Di PPK"),
    "pps": N_("Di PPS"),
    "kpps": N_("Di TPS"),
    "transit": N_("Dalam perjalanan"),
    "jalan": N_("Dalam perjalanan"),
    "jalan:ppk": N_("Menuju PPK"),
    "jalan:pps": N_("Menuju PPS"),
    "jalan:kpps": N_("Menuju TPS"),
    "dibuka": N_("Dibuka di TPS"),
    "kembali_jalan": N_("Dalam perjalanan kembali"),
    "kembali": N_("Sudah kembali"),
}
ACTIONS = {
    "terima": N_("Terima"),
    "kirim": N_("Kirim"),
    "buka": N_("Buka"),
    "segel": N_("Segel"),
    "kembali": N_("Kembali"),
    "rusak": N_("Rusak"),
    "kemas": N_("Kemas"),
    "keluarkan": N_("Keluarkan"),
    "batal": N_("Batal"),
    "koreksi": N_("Koreksi"),
    "cabut": N_("Label dibatalkan"),
    "ganti": N_("Label pengganti terbit"),
}
#: How a scan identified its item (custody_event.identified_by).
IDENTIFIED = {
    "qr_signed": N_("QR bertanda tangan"),
    "qr_link": N_("QR tautan https"),
    "typed": N_("Nomor seri diketik"),
}
CONDITIONS = {
    "baik": N_("Baik"),
    "rusak_ringan": N_("Rusak ringan"),
    "rusak_berat": N_("Rusak berat"),
    "basah": N_("Basah"),
}
CODES = {
    "region_mismatch": N_("Tertukar wilayah"),
    "race_not_held": N_("Pemilihan tidak diadakan di sana"),
    "type_not_planned": N_("Jenis tidak direncanakan"),
    "shortage": N_("Kurang dari rencana"),
    "surplus": N_("Lebih dari rencana"),
    "count_mismatch": N_("Hitungan berbeda dari label"),
    "late": N_("Terlambat"),
    "overdue": N_("Lewat tenggat"),
    "at_risk": N_("Terancam terlambat"),
    "clock_skew": N_("Jam perangkat menyimpang"),
    "off_route": N_("Di luar rute"),
    "wrong_tps": N_("Salah TPS"),
    "wrong_dispatch_target": N_("Dikirim ke tujuan salah"),
    "packed_for_other_destination": N_("Dikemas untuk tujuan lain"),
    "damaged": N_("Rusak"),
    "seal_changed": N_("Nomor segel berubah"),
    "opened_outside_tps": N_("Dibuka di luar TPS"),
    "received_without_dispatch": N_("Diterima tanpa catatan kirim"),
    "cloned_label": N_("Label ganda"),
    "not_received": N_("Belum dicatat diterima"),
    "scan_voided": N_("Pindaian dibatalkan"),
    "scan_corrected": N_("Pindaian dikoreksi"),
    "event_conflict": N_("Event bentrok"),
    "device_seq_gap": N_("Pindaian perangkat hilang"),
    "voided_label_scanned": N_("Label batal dipindai"),
    "label_other_host": N_("Label tautan ke situs lain"),
    "over_budget": N_("Melebihi anggaran"),
    "cost_without_budget": N_("Biaya tanpa anggaran"),
    "packed_short": N_("Dikemas kurang"),
    "contents_short": N_("Isi kurang"),
    "contents_surplus": N_("Isi lebih"),
    "reported_lost": N_("Dilaporkan hilang"),
    "not_issued": N_("Label belum terbit"),
    "dispatch_not_recorded": N_("Pengiriman tidak dipindai"),
    "clock_unknown": N_("Jam perangkat tidak diketahui"),
    "clock_unstable": N_("Jam perangkat tidak stabil"),
    "arrived_mismatch": N_("Tiba tidak sesuai"),
    "closing_missing": N_("Penutupan belum dicatat"),
    "opened_before_recap": N_("Dibuka sebelum rekapitulasi"),
    "reserve_unexplained": N_("Cadangan tidak terjelaskan"),
    "return_seal_changed": N_("Segel pengembalian berubah"),
    "return_seal_unchecked": N_("Segel pengembalian tidak diperiksa"),
    "sheets_unbalanced": N_("Lembar tidak seimbang"),
    "used_over_voters": N_("Terpakai melebihi pemilih"),
    "voided_label_carried": N_("Label batal terbawa dalam paket"),
}

#: Races as the desk names them (the governor race rolls up over a province).
RACES = {
    "GUB": N_("Pemilihan gubernur"),
    "BUP": N_("Pemilihan bupati"),
    "WAL": N_("Pemilihan wali kota"),
}

WORDS = {
    "races": RACES,
    "principles": PRINCIPLES,
    "severities": SEVERITIES,
    "legs": LEGS,
    "stages": STAGES,
    "actions": ACTIONS,
    "conditions": CONDITIONS,
    "codes": CODES,
    "identified": IDENTIFIED,
}


def local_time(value: datetime | str | None, region: str, pattern: str = "d MMM yyyy HH.mm") -> str:
    """An instant in the zone of ``region`` (WIB, WITA or WIT), in the reader's language."""
    if not value:
        return ""
    moment = parse_instant(value) if isinstance(value, str) else value
    zone = zone_for_region(region)
    local = moment.astimezone(ZoneInfo(zone))
    return f"{format_datetime(local, pattern, rebase=False)} {ZONE_LABELS.get(zone, zone)}"


def template_helpers() -> dict[str, Any]:
    """What the desk and courier templates use beside the app's filters."""
    return {"words": WORDS, "local_time": local_time}
