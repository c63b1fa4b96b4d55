"""What the writers print: label sheet items, kit manifests and handover forms.

Plain frozen dataclasses filled by the caller (the app reads them from its database);
names are in English, the printed words are Indonesian.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Literal

from labels.errors import LayoutError
from labels.payload import DestinationKind, LabelPayload, format_serial


@dataclass(frozen=True, slots=True)
class RaceMarker:
    """How a race is named and coloured on ballots and labels."""

    name: str
    colour: str  # "#RRGGBB"


# Ballot marker colours set for Pilkada 2024.
RACE_MARKERS: dict[str, RaceMarker] = {
    "GUB": RaceMarker("Gubernur", "#800000"),  # maroon
    "BUP": RaceMarker("Bupati", "#87CEEB"),  # light blue
    "WAL": RaceMarker("Wali Kota", "#40E0D0"),  # tosca
}


@dataclass(frozen=True, slots=True)
class ItemKind:
    """The printed name of an item type and the unit its quantity is counted in."""

    name: str
    unit: str


ITEM_KINDS: dict[str, ItemKind] = {
    "KOTAK": ItemKind("Kotak Suara", "buah"),
    "BILIK": ItemKind("Bilik Suara", "buah"),
    "TINTA": ItemKind("Tinta", "botol"),
    "SURAT": ItemKind("Surat Suara", "lembar"),
    "FORM": ItemKind("Formulir", "set"),
    "SAMPUL": ItemKind("Sampul", "lembar"),
    "BRAILLE": ItemKind("Template Braille", "lembar"),
    "SEGEL": ItemKind("Segel", "lembar"),
    "KIT": ItemKind("Paket Logistik TPS", "paket"),
}

_HEX_COLOUR = re.compile(r"#[0-9A-Fa-f]{6}\Z")


@dataclass(frozen=True, slots=True)
class LabelSheetItem:
    """One label to print: its QR text and the words people read on it."""

    qr_text: str
    serial: str  # human form, e.g. 7F3K-9QZ2-AB4C-D5EF
    item_type_name: str  # "Surat Suara"
    destination_code: str  # TPS id or region code
    quantity_text: str = ""  # "20 lembar"
    race_name: str | None = None  # "Gubernur"
    race_colour: str | None = None  # "#800000"
    tps_number: str | None = None  # "001"
    desa: str = ""  # PPS
    kecamatan: str = ""  # PPK
    kabupaten: str = ""  # kab/kota
    provinsi: str = ""

    def __post_init__(self) -> None:
        if self.race_colour is not None and not _HEX_COLOUR.match(self.race_colour):
            raise LayoutError(f"race colour must be #RRGGBB, got {self.race_colour!r}")

    @classmethod
    def from_payload(
        cls,
        payload: LabelPayload,
        qr_text: str,
        *,
        desa: str = "",
        kecamatan: str = "",
        kabupaten: str = "",
        provinsi: str = "",
    ) -> LabelSheetItem:
        """Fill the printed words from a payload and the region names of its route."""
        kind = ITEM_KINDS.get(payload.item_type, ItemKind(payload.item_type.title(), "buah"))
        marker = RACE_MARKERS.get(payload.race) if payload.race else None
        tps = payload.destination[-3:] if payload.destination_kind is DestinationKind.TPS else None
        return cls(
            qr_text=qr_text,
            serial=format_serial(payload.serial),
            item_type_name=kind.name,
            destination_code=payload.destination,
            quantity_text=f"{payload.quantity} {kind.unit}",
            race_name=marker.name if marker else None,
            race_colour=marker.colour if marker else None,
            tps_number=tps,
            desa=desa,
            kecamatan=kecamatan,
            kabupaten=kabupaten,
            provinsi=provinsi,
        )


@dataclass(frozen=True, slots=True)
class KitLine:
    """One item packed in a TPS kit."""

    item_type_name: str
    serial: str
    quantity_text: str = ""
    race_name: str | None = None


@dataclass(frozen=True, slots=True)
class KitManifest:
    """The packing list of one TPS kit, printed with the kit's own QR code."""

    qr_text: str
    serial: str
    tps_number: str
    desa: str
    kecamatan: str
    kabupaten: str
    provinsi: str
    destination_code: str
    lines: tuple[KitLine, ...]
    election_name: str = "Pemilihan Serentak Tahun 2024"


@dataclass(frozen=True, slots=True)
class CustodyParty:
    """A node in the chain of custody as it is named on a form."""

    name: str  # "PPK Kecamatan Kurun"
    code: str = ""  # "62.10.05"
    person: str = ""  # who signs for it, when known from the recorded scans


@dataclass(frozen=True, slots=True)
class HandoverLine:
    """One row of a handover table: what should be handed over, and what was recorded."""

    item_type_name: str
    planned_quantity: str  # "420 lembar"
    race_name: str | None = None
    received_quantity: str = ""  # from the recorded receipt; blank to fill in by hand
    condition: str = ""
    seals: str = ""  # seal numbers recorded at the handover, comma-separated


Zone = Literal["WIB", "WITA", "WIT"]
ZONE_OFFSETS: dict[str, timezone] = {
    "WIB": timezone(timedelta(hours=7), "WIB"),
    "WITA": timezone(timedelta(hours=8), "WITA"),
    "WIT": timezone(timedelta(hours=9), "WIT"),
}


@dataclass(frozen=True, slots=True)
class HandoverForm:
    """A berita acara serah terima (BAST) for one leg of the chain of custody."""

    document_number: str
    sender: CustodyParty  # Pihak Pertama
    receiver: CustodyParty  # Pihak Kedua
    handed_over_at: datetime | None  # timezone-aware; None: printed before, filled in by hand
    place: str
    lines: tuple[HandoverLine, ...]
    election_name: str = "Pemilihan Serentak Tahun 2024"
    zone: Zone = "WIB"
    qr_text: str | None = None
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if self.handed_over_at is not None and self.handed_over_at.tzinfo is None:
            raise LayoutError("handed_over_at must be timezone-aware")
        if self.zone not in ZONE_OFFSETS:
            raise LayoutError(f"zone must be WIB, WITA or WIT, got {self.zone!r}")


_DAYS = ("Senin", "Selasa", "Rabu", "Kamis", "Jumat", "Sabtu", "Minggu")
_MONTHS = (
    "Januari",
    "Februari",
    "Maret",
    "April",
    "Mei",
    "Juni",
    "Juli",
    "Agustus",
    "September",
    "Oktober",
    "November",
    "Desember",
)


def format_local_time(moment: datetime, zone: Zone) -> str:
    """Indonesian date and time in a zone: 'Selasa, 26 November 2024 pukul 14.30 WIB'."""
    local = moment.astimezone(ZONE_OFFSETS[zone])
    return (
        f"{_DAYS[local.weekday()]}, {local.day} {_MONTHS[local.month - 1]} {local.year} "
        f"pukul {local.hour:02d}.{local.minute:02d} {zone}"
    )
