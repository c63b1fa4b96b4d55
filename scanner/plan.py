"""Offline checks of a scanned label against the node's slice of the distribution plan.

Pure: frozen dataclasses in, findings out, no IO, so the rules are table-tested and the
courier sees a warning before the server would reject the scan.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from scanner.errors import PlanSliceError

ACTIONS: tuple[str, ...] = (
    "kemas",
    "kirim",
    "terima",
    "buka",
    "segel",
    "kembali",
    "rusak",
    "hilang",
)
CONDITIONS: tuple[str, ...] = ("baik", "rusak_ringan", "rusak_berat", "basah")


class Severity(StrEnum):
    """How loudly the courier is told: errors beep, warnings do not."""

    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem with a scan; ``message`` is shown to the courier (Indonesian)."""

    code: str
    severity: Severity
    message: str


@dataclass(frozen=True, slots=True)
class Allowed:
    """One plan row: this many of item_type for race go to destination."""

    destination: str
    item_type: str
    race: str | None
    quantity: int


@dataclass(frozen=True, slots=True)
class PlanSlice:
    """What the server says may pass through one node (GET /api/v1/nodes/<node>/plan-slice)."""

    node: str
    kind: str
    parent: str | None
    children: tuple[str, ...]
    destinations: frozenset[str]
    allowed: tuple[Allowed, ...]
    voided: frozenset[str]
    races: tuple[str, ...]

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> PlanSlice:
        """Build from the server's JSON; raise PlanSliceError on a malformed document."""
        try:
            allowed = tuple(
                Allowed(
                    destination=str(row["destination"]),
                    item_type=str(row["item_type"]),
                    race=None if row.get("race") is None else str(row["race"]),
                    quantity=int(row["quantity"]),
                )
                for row in document.get("allowed", ())
            )
            parent = document.get("parent")
            return cls(
                node=str(document["node"]),
                kind=str(document.get("kind", "")),
                parent=None if parent is None else str(parent),
                children=tuple(str(c) for c in document.get("children", ())),
                destinations=frozenset(str(d) for d in document.get("destinations", ())),
                allowed=allowed,
                voided=frozenset(_serial_key(str(s)) for s in document.get("voided", ())),
                races=tuple(str(r) for r in document.get("races", ())),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise PlanSliceError(f"plan slice tidak valid: {error!r}") from error


@dataclass(frozen=True, slots=True)
class ScannedItem:
    """The label fields the rules need (a subset of labels.LabelPayload)."""

    serial: str
    item_type: str
    destination: str
    race: str | None
    quantity: int


def _serial_key(serial: str) -> str:
    """Serials as printed for people (7F3K-9QZ2-...) compare equal to the canonical form."""
    return serial.replace("-", "").replace(" ", "").upper()


def _digits(code: str) -> str:
    return code.replace(".", "")


def is_under(destination: str, node: str) -> bool:
    """True when ``destination`` is ``node`` itself or a region/TPS inside it."""
    return _digits(destination).startswith(_digits(node))


def check_scan(
    plan: PlanSlice,
    item: ScannedItem,
    action: str,
    counted: int | None = None,
    condition: str | None = None,
) -> list[Finding]:
    """Findings for scanning ``item`` at ``plan.node`` with ``action``; [] means all good."""
    findings: list[Finding] = []

    def add(code: str, severity: Severity, message: str) -> None:
        findings.append(Finding(code, severity, message))

    if _serial_key(item.serial) in plan.voided:
        add("voided", Severity.ERROR, "Label sudah dibatalkan (void): jangan diterima")

    on_route = item.destination in plan.destinations or item.destination == plan.node
    if not on_route:
        if is_under(item.destination, plan.node):
            add(
                "unknown_destination",
                Severity.WARNING,
                f"Tujuan {item.destination} tidak ada di rencana node ini",
            )
        else:
            add(
                "wrong_route",
                Severity.ERROR,
                f"Salah alamat: tujuan {item.destination} tidak melalui {plan.node}",
            )

    if item.race is not None and plan.races and item.race not in plan.races:
        add(
            "race_not_held",
            Severity.ERROR,
            f"Pemilihan {item.race} tidak diselenggarakan di wilayah ini",
        )

    rows = [r for r in plan.allowed if r.destination == item.destination]
    if on_route and rows:
        same_type = [r for r in rows if r.item_type == item.item_type]
        match = next((r for r in same_type if r.race == item.race), None)
        if not same_type:
            add(
                "wrong_type",
                Severity.ERROR,
                f"Jenis {item.item_type} tidak direncanakan untuk {item.destination}",
            )
        elif match is None:
            planned = ", ".join(sorted({r.race or "-" for r in same_type}))
            add(
                "wrong_race",
                Severity.ERROR,
                f"Pemilihan {item.race or '-'} salah untuk {item.destination} (rencana: {planned})",
            )
        elif match.quantity != item.quantity:
            add(
                "quantity_plan_mismatch",
                Severity.WARNING,
                f"Label berisi {item.quantity}, rencana untuk {item.destination}: {match.quantity}",
            )

    if counted is not None and counted != item.quantity:
        add(
            "count_mismatch",
            Severity.ERROR,
            f"Jumlah dihitung {counted}, label {item.quantity} (selisih "
            f"{counted - item.quantity:+d})",
        )

    if condition is not None and condition != "baik":
        add("condition", Severity.WARNING, f"Kondisi dilaporkan: {condition.replace('_', ' ')}")

    if action == "buka" and plan.kind and plan.kind.lower() not in ("tps", "kpps"):
        add("open_outside_tps", Severity.ERROR, "Kotak hanya boleh dibuka di TPS")

    return findings
