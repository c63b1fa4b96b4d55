"""Elections and their races (gubernur, bupati, wali kota)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.errors import NotFound, ValidationFailed
from app.plan.models import Election, Race, RaceKind, Region, RegionLevel
from app.plan.service.item_types import ensure_item_types

#: Which region level each race covers.
RACE_LEVEL = {
    RaceKind.GUB: RegionLevel.PROVINSI,
    RaceKind.BUP: RegionLevel.KABKOTA,
    RaceKind.WAL: RegionLevel.KABKOTA,
}
RACE_TITLE = {RaceKind.GUB: "Gubernur", RaceKind.BUP: "Bupati", RaceKind.WAL: "Wali Kota"}


def latest_election(session: Session) -> Election | None:
    """Return the election being run: the latest by election day."""
    return session.scalar(select(Election).order_by(Election.election_day.desc()))


def list_elections(session: Session) -> list[Election]:
    """Every election, the latest election day first."""
    return list(session.scalars(select(Election).order_by(Election.election_day.desc())))


def get_election(session: Session, code: str) -> Election:
    """Return an election or raise NotFound."""
    election = session.get(Election, code)
    if election is None:
        raise NotFound(f"Pemilihan {code!r} tidak ditemukan.")
    return election


def races_at(election: Election, region_code: str) -> list[Race]:
    """Return the races held in a region (a race covers its region and everything below)."""
    return [
        r
        for r in election.races
        if region_code == r.region_code or region_code.startswith(r.region_code + ".")
    ]


def create_election(
    session: Session, code: str, name: str, election_day: Any, max_voters_per_tps: int = 600
) -> Election:
    """Create an election (any region: its races are added with :func:`add_race`)."""
    code = code.strip()
    if not code or len(code) > 40 or not all(c.isalnum() or c in "-_." for c in code):
        raise ValidationFailed("Kode pemilihan: 1-40 huruf, angka, '-', '_' atau '.'.")
    if not name.strip() or len(name) > 120:
        raise ValidationFailed("Nama pemilihan wajib diisi (maks. 120 karakter).")
    if not 1 <= max_voters_per_tps <= 1000:
        raise ValidationFailed("Pemilih per TPS: 1..1000.")
    if session.get(Election, code) is not None:
        raise ValidationFailed(f"Pemilihan {code!r} sudah ada.")
    election = Election(
        code=code,
        name=name.strip(),
        election_day=election_day,
        max_voters_per_tps=max_voters_per_tps,
    )
    session.add(election)
    ensure_item_types(session)  # a first election on a fresh database needs the catalogue
    return election


def add_race(
    session: Session, election_code: str, kind: str, region_code: str, name: str | None = None
) -> Race:
    """Add a race (GUB for a province, BUP for a kabupaten, WAL for a kota); idempotent."""
    election = get_election(session, election_code)
    try:
        race_kind = RaceKind(kind.strip().upper())
    except ValueError:
        raise ValidationFailed("Jenis pemilihan harus GUB, BUP atau WAL.") from None
    region = session.get(Region, region_code.strip())
    if region is None:
        raise NotFound(f"Wilayah {region_code!r} tidak dikenal; muat data wilayah dahulu.")
    if region.level is not RACE_LEVEL[race_kind]:
        raise ValidationFailed(
            f"{race_kind.value} berlaku untuk {RACE_LEVEL[race_kind].value}, "
            f"bukan {region.level.value} ({region.code})."
        )
    is_kota = int(region.code.split(".")[1]) >= 71 if race_kind is not RaceKind.GUB else None
    if (race_kind is RaceKind.WAL and not is_kota) or (race_kind is RaceKind.BUP and is_kota):
        raise ValidationFailed(
            f"{region.code} adalah {'kota' if is_kota else 'kabupaten'}: "
            f"gunakan {'WAL' if is_kota else 'BUP'}."
        )
    for race in election.races:
        if race.kind is race_kind and race.region_code == region.code:
            return race
    race = Race(
        kind=race_kind,
        region_code=region.code,
        name=(name or f"{RACE_TITLE[race_kind]} {_bare(region.name)}").strip()[:160],
    )
    election.races.append(race)
    session.commit()
    return race


def _bare(region_name: str) -> str:
    """ "KOTA BOGOR" -> "Bogor", "KABUPATEN GUNUNG MAS" -> "Gunung Mas"."""
    words = region_name.title().split()
    if words and words[0] in ("Kota", "Kabupaten", "Kab."):
        words = words[1:]
    return " ".join(words)


def ensure_election(
    session: Session, code: str, name: str, election_day: Any, races: Iterable[tuple[str, str, str]]
) -> Election:
    """Create or update an election and its races ``(kind, region code, name)``."""
    election = session.get(Election, code)
    if election is None:
        election = Election(code=code, name=name, election_day=election_day)
        session.add(election)
        session.flush()
    else:
        election.name, election.election_day = name, election_day
    have = {(r.kind.value, r.region_code) for r in election.races}
    for kind, region, race_name in races:
        if (kind, region) not in have:
            election.races.append(Race(kind=RaceKind(kind), region_code=region, name=race_name))
    session.commit()
    return election
