"""Regions: load the wilayah.csv codes and names, look up a kabupaten's names."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.plan import codes
from app.plan.models import Region


def load_regions(session: Session, source: Path | IO[str], prefixes: Iterable[str] = ()) -> int:
    """Upsert regions from a ``kode,nama`` CSV (wilayah.csv); keep only ``prefixes`` if given."""
    wanted = tuple(prefixes)
    stream = source.open(encoding="utf-8") if isinstance(source, Path) else source
    try:
        rows = []
        for record in csv.DictReader(stream):
            code = (record.get("kode") or "").strip()
            if not code or not codes.REGION_CODE.match(code):
                continue
            if wanted and not any(
                code == p or code.startswith(p + ".") or p.startswith(code + ".") for p in wanted
            ):
                continue
            rows.append((code, (record.get("nama") or "").strip()))
    finally:
        if isinstance(source, Path):
            stream.close()
    existing = (
        {
            r.code: r
            for r in session.scalars(select(Region).where(Region.code.in_([c for c, _ in rows])))
        }
        if len(rows) < 5000
        else {r.code: r for r in session.scalars(select(Region))}
    )
    new = []
    for code, name in rows:
        region = existing.get(code)
        if region is None:
            new.append(
                {
                    "code": code,
                    "name": name,
                    "level": codes.region_level(code),
                    "parent_code": codes.region_parent(code),
                }
            )
        elif region.name != name:
            region.name = name
    if new:
        session.execute(Region.__table__.insert(), new)
    session.commit()
    return len(rows)


def region_names(session: Session, prefix: str) -> dict[str, str]:
    """Return code -> name for a region and everything below it."""
    stmt = select(Region.code, Region.name).where(
        (Region.code == prefix) | Region.code.like(prefix + ".%")
    )
    return {code: name for code, name in session.execute(stmt)}
