"""The progress chart, drawn on the server as a small SVG (no chart library, no script).

Bars are scans of receipt per hour (darker: receipts at a TPS); the line is the share of
items delivered to their TPS, on its own 0-100 % axis. Colours come from CSS classes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from xml.sax.saxutils import escape

from markupsafe import Markup

WIDTH, HEIGHT = 720, 240
LEFT, RIGHT, TOP, BOTTOM = 44, 48, 14, 34


def _tick_step(hours: int) -> int:
    """Hours between axis labels: at most about eight labels."""
    for step in (1, 2, 3, 6, 12, 24, 48):
        if hours / step <= 8:
            return step
    return 96


def _nice_top(value: int) -> int:
    """The top of the left axis: four equal steps of 1, 2 or 5 times a power of ten."""
    magnitude = 1
    while True:
        for step in (1, 2, 5):
            if step * magnitude * 4 >= value:
                return step * magnitude * 4
        magnitude *= 10


def progress_svg(
    points: Sequence[dict[str, Any]],
    total: int,
    *,
    title: str,
    receipts_label: str,
    delivered_label: str,
    hour_format: Any = lambda h: h.strftime("%d/%m %H.%M"),
) -> Markup:
    """Return the chart as SVG markup; ``points`` are hourly, oldest first."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    n = max(len(points), 1)
    slot = plot_w / n
    peak = _nice_top(max([p["receipts"] for p in points] + [1]))
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-labelledby="chart-title" xmlns="http://www.w3.org/2000/svg">',
        f'<title id="chart-title">{escape(title)}</title>',
    ]
    for fraction in (0, 0.25, 0.5, 0.75, 1):
        y = TOP + plot_h * (1 - fraction)
        parts.append(
            f'<line class="grid" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}"/>'
        )
        parts.append(
            f'<text class="axis" x="{WIDTH - RIGHT + 6}" y="{y + 4:.1f}">'
            f"{int(fraction * 100)}%</text>"
        )
        parts.append(
            f'<text class="axis end" x="{LEFT - 6}" y="{y + 4:.1f}">{round(peak * fraction)}</text>'
        )
    for i, point in enumerate(points):
        x = LEFT + i * slot
        width = max(slot * 0.8, 0.8)
        for cls, value in (("bar", point["receipts"]), ("bar tps", point["at_tps"])):
            if value:
                h = plot_h * value / peak
                parts.append(
                    f'<rect class="{cls}" x="{x:.1f}" y="{TOP + plot_h - h:.1f}" '
                    f'width="{width:.1f}" height="{h:.1f}"><title>'
                    f"{escape(hour_format(point['hour']))}: {value}</title></rect>"
                )
    if total and points:
        line = " ".join(
            f"{LEFT + (i + 0.5) * slot:.1f},{TOP + plot_h * (1 - p['delivered'] / total):.1f}"
            for i, p in enumerate(points)
        )
        parts.append(f'<polyline class="line" points="{line}"/>')
        last = points[-1]
        share = 100 * last["delivered"] / total
        parts.append(
            f'<text class="axis end strong" x="{WIDTH - RIGHT - 4}" '
            f'y="{TOP + plot_h * (1 - last["delivered"] / total) - 6:.1f}">'
            f"{share:.0f}%</text>"
        )
    step = _tick_step(len(points))
    for i, point in enumerate(points):
        hour: datetime = point["hour"]
        if hour.hour % step == 0 if step < 24 else (hour.hour == 0 and i % (step // 24 or 1) == 0):
            x = LEFT + (i + 0.5) * slot
            parts.append(
                f'<line class="tick" x1="{x:.1f}" x2="{x:.1f}" y1="{TOP + plot_h}" '
                f'y2="{TOP + plot_h + 4}"/>'
            )
            parts.append(
                f'<text class="axis mid" x="{x:.1f}" y="{HEIGHT - BOTTOM + 18}">'
                f"{escape(hour_format(hour))}</text>"
            )
    parts.append(f"<desc>{escape(receipts_label)}; {escape(delivered_label)}</desc></svg>")
    return Markup("".join(parts))
