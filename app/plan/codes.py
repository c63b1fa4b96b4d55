"""PURE helpers for Kemendagri region codes, TPS ids and custody node codes."""

from __future__ import annotations

import re

from app.plan.models import NodeKind, RegionLevel

REGION_CODE = re.compile(r"^\d{2}(\.\d{2}(\.\d{2}(\.\d{4})?)?)?$")
TPS_ID = re.compile(r"^\d{13}$")
#: The whole country: the scope of a national desk, above every province (Kemendagri
#: codes have no national level, so the ISO country code stands for it).
NATIONAL = "ID"


def region_level(code: str) -> RegionLevel:
    """Return the level of a dotted region code; raise ValueError if it is not one."""
    if not REGION_CODE.match(code):
        raise ValueError(f"bukan kode wilayah Kemendagri: {code!r}")
    return (RegionLevel.PROVINSI, RegionLevel.KABKOTA, RegionLevel.KECAMATAN, RegionLevel.DESA)[
        code.count(".")
    ]


def region_parent(code: str) -> str | None:
    """Return the parent region code, or None for a province."""
    return code.rsplit(".", 1)[0] if "." in code else None


def tps_id(desa_code: str, number: int) -> str:
    """Build a 13-digit TPS id from a desa code and the TPS number."""
    if region_level(desa_code) is not RegionLevel.DESA:
        raise ValueError(f"bukan kode desa/kelurahan: {desa_code!r}")
    if not 1 <= number <= 999:
        raise ValueError("nomor TPS harus 1 sampai 999")
    return desa_code.replace(".", "") + f"{number:03d}"


def desa_of_tps(tps: str) -> str:
    """Return the dotted desa code of a TPS id."""
    if not TPS_ID.match(tps):
        raise ValueError(f"bukan ID TPS 13 digit: {tps!r}")
    return f"{tps[0:2]}.{tps[2:4]}.{tps[4:6]}.{tps[6:10]}"


def node_kind(code: str) -> NodeKind:
    """Return the custody node kind a code names (warehouse, PPK, PPS or KPPS)."""
    if TPS_ID.match(code):
        return NodeKind.KPPS
    level = region_level(code)
    if level is RegionLevel.KABKOTA:
        return NodeKind.GUDANG
    if level is RegionLevel.KECAMATAN:
        return NodeKind.PPK
    if level is RegionLevel.DESA:
        return NodeKind.PPS
    raise ValueError(f"kode provinsi bukan simpul distribusi: {code!r}")


def node_region(code: str) -> str:
    """Return the region code a node sits in (a KPPS sits in its desa)."""
    return desa_of_tps(code) if TPS_ID.match(code) else code


def node_parent(code: str) -> str | None:
    """Return the next node up the chain (KPPS -> PPS -> PPK -> gudang -> None)."""
    if TPS_ID.match(code):
        return desa_of_tps(code)
    if node_kind(code) is NodeKind.GUDANG:
        return None
    return region_parent(code)


def kabkota_of(code: str) -> str:
    """Return the kabupaten/kota code of any region code, node code or TPS id."""
    return ".".join(node_region(code).split(".")[:2])


def province_of(code: str) -> str:
    """Return the two-digit province code of any region code, node code or TPS id."""
    return node_region(code).split(".")[0]


def route(tps: str) -> tuple[str, str, str, str]:
    """Return the forward route of a TPS: gudang, PPK, PPS, KPPS."""
    desa = desa_of_tps(tps)
    kec = desa.rsplit(".", 1)[0]
    kab = kec.rsplit(".", 1)[0]
    return (kab, kec, desa, tps)


def within(code: str, scope: str) -> bool:
    """Return whether a region code, node code or TPS id lies inside ``scope``."""
    if scope == NATIONAL:
        return code == NATIONAL or bool(TPS_ID.match(code) or REGION_CODE.match(code))
    if TPS_ID.match(scope):
        return code == scope
    region = node_region(code) if TPS_ID.match(code) else code
    return region == scope or region.startswith(scope + ".")
