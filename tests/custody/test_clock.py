"""Device clocks: the offset each batch carries is measured, applied and, when odd, flagged."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from app.custody.clock import ClockVerdict, estimate
from app.custody.models import CustodyEvent, Device, FindingRow
from app.extensions import db
from tests.custody.conftest import SERVER_NOW, Env

T = datetime(2024, 11, 26, 8, 0, tzinfo=UTC)
JITTER = timedelta(minutes=5)


@pytest.mark.parametrize(
    ("samples", "lead", "offset", "verdict"),
    [
        ((), None, None, ClockVerdict.UNKNOWN),  # never sent its clock
        ((), timedelta(hours=3), timedelta(hours=3), ClockVerdict.MEASURED),  # 3 h fast
        ((-25200,), -timedelta(hours=7), -timedelta(hours=7), ClockVerdict.MEASURED),
        ((10, 12, 9), timedelta(seconds=11), timedelta(seconds=10, microseconds=500000), None),
        ((0, 0, 0), timedelta(hours=2), None, ClockVerdict.UNSTABLE),  # the clock jumped
        ((0, 0), None, timedelta(0), ClockVerdict.MEASURED),  # no clock now: the estimate holds
    ],
)
def test_offset_is_the_median_of_recent_batches_and_a_jump_is_not_trusted(
    samples: tuple[int, ...],
    lead: timedelta | None,
    offset: timedelta | None,
    verdict: ClockVerdict | None,
) -> None:
    sent = None if lead is None else T + lead
    result = estimate(samples, sent, T, JITTER)
    if verdict is not None:
        assert result.verdict is verdict
    if offset is None:
        assert result.offset is None
    else:
        assert abs(result.offset - offset) <= timedelta(seconds=1)  # type: ignore[operator]


def test_one_odd_batch_never_moves_the_estimate_but_a_reset_clock_is_learnt() -> None:
    kept: tuple[int, ...] = (0, 0, 0)
    odd = estimate(kept, T + timedelta(hours=2), T, JITTER)
    assert odd.verdict is ClockVerdict.UNSTABLE
    back = estimate(odd.samples, T, T, JITTER)
    assert back.verdict is ClockVerdict.MEASURED and back.offset == timedelta(0)
    samples = back.samples
    for _ in range(5):  # the phone's clock was really set 1 h ahead
        result = estimate(samples, T + timedelta(hours=1), T, JITTER)
        samples = result.samples
    assert result.verdict is ClockVerdict.MEASURED and result.offset == timedelta(hours=1)


def test_a_phone_on_real_time_scans_cleanly_against_the_demo_clock(env: Env) -> None:
    """The demo server stands in 2024; a phone's clock says 2026. A correct scan is OK."""
    phone_lead = datetime(2026, 12, 4, 12, 0, tzinfo=UTC) - SERVER_NOW
    kit = env.first(env.tps, "KIT")
    event = env.event(kit, "terima", "62.10", quantity=1, condition="baik")
    event["device_time"] = (SERVER_NOW - timedelta(minutes=2) + phone_lead).isoformat()
    response = env.post([event], sent_at=(SERVER_NOW + phone_lead).isoformat())
    (result,) = response.get_json()["results"]
    assert result["status"] == "accepted" and result["findings"] == [], result
    with env.app.app_context():
        stored = db.session.get(CustodyEvent, uuid.UUID(event["event_id"]))
        assert stored is not None
        assert abs(stored.clock_offset_s - phone_lead.total_seconds()) < 5
        device = db.session.scalar(select(Device).where(Device.device_id == "hp-1"))
        assert device is not None and device.clock_offset_s is not None
        skew = db.session.scalar(select(FindingRow).where(FindingRow.code == "clock_skew"))
        assert skew is not None and skew.severity == "info" and "dikoreksi" in skew.message


def test_a_clock_that_jumps_between_batches_is_flagged_and_not_trusted(env: Env) -> None:
    items = [i for i in env.items[env.tps] if i.item_type_code == "KOTAK"]
    first = env.event(items[0], "terima", "62.10", quantity=1)
    first["device_time"] = (SERVER_NOW - timedelta(minutes=1)).isoformat()
    env.post([first], sent_at=SERVER_NOW.isoformat())
    second = env.event(items[1], "terima", "62.10", quantity=1)
    second["device_time"] = (SERVER_NOW + timedelta(hours=2)).isoformat()
    env.post([second], sent_at=(SERVER_NOW + timedelta(hours=2)).isoformat())
    with env.app.app_context():
        flagged = db.session.scalar(select(FindingRow).where(FindingRow.code == "clock_unstable"))
        assert flagged is not None and flagged.principle == "waktu"
        stored = db.session.scalar(
            select(CustodyEvent).where(CustodyEvent.serial == items[1].serial)
        )
        assert stored.clock_offset_s is None  # not corrected, and its lateness not trusted
