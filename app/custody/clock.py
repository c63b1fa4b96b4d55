"""Device clocks: estimate each device's offset from the clock its batches carry.

Every batch says when the device sent it (``sent_at``, the device's clock); the server
knows when it arrived. Their difference is the device's lead over the server (plus a
network delay of seconds). One sample can be a fluke, so the estimate is the median of
the device's recent samples; a sample far from that median means the clock was changed
or drifts: that batch is *unstable* and its times are not corrected (nor trusted). A
device that never sent its clock is *unknown*. Pure: no session, no clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from statistics import median

#: How many recent batch offsets a device keeps.
KEEP = 7


class ClockVerdict(StrEnum):
    """How far the server trusts a device's clock for one batch."""

    MEASURED = "measured"  # corrected by a stable estimate
    UNKNOWN = "unknown"  # the device never sent its clock
    UNSTABLE = "unstable"  # this batch's offset is far from the recent ones


@dataclass(frozen=True)
class ClockEstimate:
    """The offset applied to a batch's event times, and the samples to keep."""

    offset: timedelta | None
    verdict: ClockVerdict
    samples: tuple[int, ...]
    sample: int | None = None  # this batch's own offset, in seconds


def estimate(
    samples: tuple[int, ...] | list[int] | None,
    sent_at: datetime | None,
    received_at: datetime,
    jitter: timedelta,
) -> ClockEstimate:
    """Estimate a device's offset for one batch from its kept samples and the batch's clock."""
    kept = tuple(samples or ())
    if sent_at is None:
        if not kept:
            return ClockEstimate(None, ClockVerdict.UNKNOWN, kept)
        # No clock this time: the recent estimate still describes the device.
        return ClockEstimate(_seconds(median(kept)), ClockVerdict.MEASURED, kept)
    sample = int((sent_at - received_at).total_seconds())
    jumped = bool(kept) and abs(sample - median(kept)) > jitter.total_seconds()
    kept = (kept + (sample,))[-KEEP:]
    if jumped:
        # Far from the recent ones: trust nothing in this batch. The sample is kept, so a
        # clock that was really reset becomes the estimate once most recent batches agree,
        # while one odd batch never moves the median.
        return ClockEstimate(None, ClockVerdict.UNSTABLE, kept, sample)
    return ClockEstimate(_seconds(median(kept)), ClockVerdict.MEASURED, kept, sample)


def _seconds(value: float) -> timedelta:
    return timedelta(seconds=int(value))
