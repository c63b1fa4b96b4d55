"""Time helpers: aware UTC instants, the configurable "now", and Indonesian time zones."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

#: Provinces (first two digits of the Kemendagri code) outside WIB.
_WITA_PROVINCES = {"51", "52", "53", "63", "64", "65", "71", "72", "73", "74", "75", "76"}
_WIT_PROVINCES = {"81", "82", "91", "92", "93", "94", "95", "96", "97"}

ZONE_LABELS = {"Asia/Jakarta": "WIB", "Asia/Makassar": "WITA", "Asia/Jayapura": "WIT"}


def utcnow() -> datetime:
    """Return the current instant as an aware UTC datetime."""
    return datetime.now(UTC)


def zone_for_region(code: str) -> str:
    """Return the IANA zone (WIB, WITA or WIT) for a Kemendagri region code or TPS id."""
    province = code.replace(".", "")[:2]
    if province in _WIT_PROVINCES:
        return "Asia/Jayapura"
    if province in _WITA_PROVINCES:
        return "Asia/Makassar"
    return "Asia/Jakarta"


def h_day(election_day: date, day_offset: int, local_time: time, zone: str) -> datetime:
    """Return the UTC instant of ``H±n`` at ``local_time`` in the region's zone."""
    local = datetime.combine(election_day + timedelta(days=day_offset), local_time, ZoneInfo(zone))
    return local.astimezone(UTC)


def h_label(day_offset: int) -> str:
    """Format a day offset the way KPU writes it: H-2, H, H+1."""
    if day_offset == 0:
        return "H"
    return f"H{day_offset:+d}"


def parse_instant(value: str) -> datetime:
    """Parse an ISO-8601 instant; a naive value is taken as UTC."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)
