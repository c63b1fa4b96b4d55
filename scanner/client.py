"""One courier session: debounce repeated sightings, verify, check the plan, queue, report.

Nothing here talks to the network; the outbox is written before the courier is told OK.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from scanner.outbox import NewScan, Outbox, ScanEvent
from scanner.plan import Finding, PlanSlice, Severity, check_scan
from scanner.verify import LabelVerifier, Verdict

BELL = "\a"


@dataclass(frozen=True, slots=True)
class ScanOptions:
    """What the courier declares for every scan of this session."""

    action: str
    node: str
    quantity: int | None = None
    condition: str | None = None
    seals: tuple[str, ...] = ()
    counterpart: str | None = None
    container: str | None = None
    note: str = ""


@dataclass(frozen=True, slots=True)
class ScanOutcome:
    """The result of one new scan, and the line shown for it."""

    payload: str | bytes
    event: ScanEvent | None
    findings: tuple[Finding, ...]
    verdict: Verdict | None

    @property
    def has_error(self) -> bool:
        """True when at least one finding is an error (forged, voided, wrong route...)."""
        return any(f.severity is Severity.ERROR for f in self.findings)

    @property
    def ok(self) -> bool:
        """True when there is nothing to warn about."""
        return not self.findings

    def line(self) -> str:
        """One line in Indonesian (findings follow on indented lines)."""
        item = self.verdict.item if self.verdict else None
        what = (
            f"{item.item_type} {item.race or '-'} x{item.quantity} -> {item.destination} "
            f"[{item.serial}]"
            if item
            else _short(self.payload)
        )
        action = self.event.action if self.event else "-"
        head = "MASALAH" if self.has_error else "PERIKSA" if self.findings else "OK"
        queued = f" (antrean #{self.event.device_seq})" if self.event else " (tidak dicatat)"
        details = "".join(f"\n    - {f.message}" for f in self.findings)
        return f"{head:<8} {action:<7} {what}{queued}{details}"


def _short(payload: str | bytes, limit: int = 40) -> str:
    text = payload if isinstance(payload, str) else payload.hex()
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass
class Debouncer:
    """The same label seen again within ``window`` seconds of its last sighting is one scan."""

    window: float
    clock: Callable[[], float] = time.monotonic
    _last_seen: dict[str | bytes, float] = field(default_factory=dict)

    def is_new(self, payload: str | bytes) -> bool:
        """Record a sighting; True when it starts a new scan."""
        now = self.clock()
        last = self._last_seen.get(payload)
        self._last_seen[payload] = now
        if len(self._last_seen) > 4096:  # forget labels not seen for a while
            cutoff = now - self.window
            self._last_seen = {k: v for k, v in self._last_seen.items() if v >= cutoff}
        return last is None or now - last > self.window


class CourierSession:
    """Turns sightings into queued, checked scans."""

    def __init__(
        self,
        outbox: Outbox,
        verifier: LabelVerifier,
        options: ScanOptions,
        plan: PlanSlice | None = None,
        debouncer: Debouncer | None = None,
    ) -> None:
        self.outbox = outbox
        self.verifier = verifier
        self.options = options
        self.plan = plan
        self.debouncer = debouncer or Debouncer(3.0)

    def see(self, payload: str | bytes) -> ScanOutcome | None:
        """Handle one sighting; None when it repeats a scan inside the debounce window."""
        if not self.debouncer.is_new(payload):
            return None
        if isinstance(payload, bytes):
            finding = Finding(
                "binary_payload", Severity.ERROR, "Kode QR berisi data biner: bukan label Tepat"
            )
            return ScanOutcome(payload, None, (finding,), None)
        verdict = self.verifier.verify(payload)
        if verdict.finding is not None and verdict.finding.code == "malformed":
            # Some other QR (a carton's product code): nothing for the server to record.
            return ScanOutcome(payload, None, (verdict.finding,), verdict)
        findings: list[Finding] = [] if verdict.finding is None else [verdict.finding]
        if self.plan is None:
            findings.append(
                Finding(
                    "no_plan", Severity.WARNING, "Rencana node belum diunduh (tepat-scan fetch)"
                )
            )
        elif verdict.item is not None:
            findings += check_scan(
                self.plan,
                verdict.item,
                self.options.action,
                self.options.quantity,
                self.options.condition,
            )
        opts = self.options
        event = self.outbox.add(
            NewScan(
                label=payload,
                action=opts.action,
                node=opts.node,
                quantity=opts.quantity,
                condition=opts.condition,
                seals=opts.seals,
                counterpart=opts.counterpart,
                container=opts.container,
                note=opts.note,
            )
        )
        return ScanOutcome(payload, event, tuple(findings), verdict)
