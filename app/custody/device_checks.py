"""The Ingestor's device and security findings: sequence gaps, clocks, signatures, forgeries."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

import labels
from app.auth.models import User
from app.custody import resolve, rules
from app.custody.clock import ClockEstimate, ClockVerdict
from app.custody.findings import finding_values
from app.custody.intake import ScanInput, ScanResult
from app.custody.models import CustodyEvent, Device
from app.custody.names import PlaceNames
from app.guard import MAX_INT32
from app.plan import codes
from scanner import signing


class DeviceChecks:
    """Mixin of :class:`app.custody.service.Ingestor`: the device and security findings."""

    session: Session
    user: User
    device_id: str
    owner: str
    now: Callable[[], datetime]
    policy: rules.Policy
    clock: ClockEstimate
    label_base: str | None
    names: PlaceNames
    _findings: list[dict[str, Any]]
    _refusals: dict[str, list[ScanInput]]
    _signatures: dict[str, tuple[bytes, str]]
    _bad_signatures: list[ScanInput]

    def _conflict(self, kab: str, scan: ScanInput, previous: CustodyEvent | None) -> ScanResult:
        """Same id, different content: never overwrite; record a security finding."""
        self._security_finding(
            scan.node,
            "event_conflict",
            rules.Severity.CRITICAL,
            "Event dengan ID yang sama dikirim ulang dengan isi berbeda "
            f"oleh perangkat {self.device_id}.",
            event_ids=(scan.event_id,),
            # The stored item is named only to a caller who may see where it was scanned.
            serial=previous.serial
            if previous is not None and self._own_node(previous.node)
            else None,
        )
        return ScanResult(
            scan.event_id,
            "conflict",
            "conflict",
            "ID event sudah dipakai untuk isi yang berbeda; tidak disimpan.",
        )

    def _track_device(self, scans: list[ScanInput]) -> None:
        """Record the device's highest sequence number and clock offset; report gaps."""
        if not scans:
            return
        device = self.session.get(Device, (self.device_id, self.owner))
        if device is None:
            device = Device(
                device_id=self.device_id, owner=self.owner, user_id=self.user.id, max_seq=0, seen=0
            )
            self.session.add(device)
        self._track_clock(device, scans)
        expected = device.max_seq + 1
        for seq in sorted({s.device_seq for s in scans}):
            if device.seen and seq > expected:
                self._device_finding(
                    scans,
                    "device_seq_gap",
                    rules.Principle.AKUNTABILITAS,
                    f"Perangkat {self.device_id} melewatkan nomor urut {expected}–{seq - 1}: "
                    "ada pindaian yang belum terkirim atau hilang.",
                    detail=(
                        ("missing_from", expected),
                        ("missing_to", seq - 1),
                        ("device_id", self.device_id),
                    ),
                )
            expected = max(expected, seq + 1)
        late = [s for s in scans if s.device_seq <= device.max_seq]
        if device.seen and late:
            # A scan that arrives after its successors may fill a gap reported earlier.
            resolve.close_filled_gaps(
                self.session,
                self.device_id,
                late[0].event_id,
                self.now(),
                arriving={s.device_seq for s in scans},
            )
        device.max_seq = max(device.max_seq, expected - 1)
        device.seen += len(scans)
        device.last_seen_at = self.now()

    def _track_clock(self, device: Device, scans: list[ScanInput]) -> None:
        """Keep the device's clock samples; flag a clock that is off, jumped, or never sent."""
        estimate, previous = self.clock, device.clock_offset_s
        device.clock_samples = list(estimate.samples)
        device.clock_offset_s = (
            clamp_int32(estimate.offset.total_seconds()) if estimate.offset is not None else None
        )
        ids = tuple(s.event_id for s in scans[:20])
        jitter = self.policy.max_clock_jitter.total_seconds()
        if estimate.verdict is ClockVerdict.UNSTABLE:
            self._device_finding(
                scans,
                "clock_unstable",
                rules.Principle.WAKTU,
                f"Jam perangkat {self.device_id} berubah dari perkiraan sebelumnya (selisih "
                f"{abs(estimate.sample or 0) // 60} menit dari jam server); waktu pindaian "
                "kiriman ini tidak dipercaya.",
                event_ids=ids,
                detail=(("offset_seconds", estimate.sample or 0),),
            )
        elif estimate.verdict is ClockVerdict.UNKNOWN and not device.seen:
            self._device_finding(
                scans,
                "clock_unknown",
                rules.Principle.WAKTU,
                f"Perangkat {self.device_id} tidak mengirim jamnya (sent_at); keterlambatan "
                "yang ditunjukkan pindaiannya ditandai belum terverifikasi.",
                event_ids=ids,
                severity=rules.Severity.INFO,
            )
        offset = device.clock_offset_s
        if (
            offset is not None
            and abs(offset) > self.policy.max_clock_skew.total_seconds()
            and (previous is None or abs(previous - offset) > jitter)
        ):
            ahead = offset > 0
            self._device_finding(
                scans,
                "clock_skew",
                rules.Principle.WAKTU,
                f"Jam perangkat {self.device_id} {'lebih cepat' if ahead else 'tertinggal'} "
                f"{abs(offset) // 60} menit dari jam server; waktu pindaian dikoreksi.",
                event_ids=ids,
                detail=(("skew_seconds", offset),),
                severity=rules.Severity.INFO,
            )

    def _device_finding(
        self,
        scans: list[ScanInput],
        code: str,
        principle: rules.Principle,
        message: str,
        *,
        event_ids: tuple[str, ...] = (),
        detail: tuple[tuple[str, int | str], ...] = (),
        severity: rules.Severity = rules.Severity.WARNING,
    ) -> None:
        """Record a finding about the device itself, placed where it scanned if that lies in
        the caller's scope, else in the caller's own region (never in another's desk)."""
        node = self._own_node(scans[0].node)
        finding = rules.Finding(
            code=code,
            principle=principle,
            severity=severity,
            message=message,
            node=node,
            event_ids=event_ids,
            detail=detail,
        )
        self._file(finding, node)

    # --- security findings: only ever in the caller's own scope ----------------------------

    def _own_node(self, node: str) -> str | None:
        """The node if it is one and lies in the caller's scope, else None."""
        return node if _valid_node(node) and codes.within(node, self.user.scope_code) else None

    def _check_link_base(self, scan: ScanInput, serial: str) -> None:
        """Flag a link-form label naming another site: its code is signed, its host is not,
        so the scan stands, but such a label sends phone cameras elsewhere (misprint or fake)."""
        base = labels.link_base(scan.label) if scan.label and self.label_base else None
        if base is None or base == self.label_base:
            return
        self._security_finding(
            scan.node,
            "label_other_host",
            rules.Severity.WARNING,
            f"Label berbentuk tautan menunjuk {base.lower()}, bukan "
            f"{(self.label_base or '').lower()}: kamera HP akan membuka situs lain.",
            event_ids=(scan.event_id,),
            serial=serial,
        )

    def _security_finding(
        self,
        node: str,
        code: str,
        severity: rules.Severity,
        message: str,
        *,
        event_ids: tuple[str, ...],
        serial: str | None = None,
        detail: tuple[tuple[str, int | str], ...] = (),
    ) -> None:
        """A finding about what a caller sent, filed where the caller may see it (its desk
        and Bawaslu of its region): at the node when that lies in the caller's scope, else
        at the caller's own region, so no token can write into another kabupaten's desk."""
        own = self._own_node(node)
        finding = rules.Finding(
            code=code,
            principle=rules.Principle.AKUNTABILITAS,
            severity=severity,
            message=message,
            serial=serial if own else None,
            node=own,
            event_ids=event_ids,
            detail=(("security", 1), ("device_id", self.device_id), *detail),
        )
        self._file(finding, own)

    def _file(self, finding: rules.Finding, own: str | None) -> None:
        """Store a finding at ``own`` (a node in the caller's scope), else at the scope."""
        values = finding_values(finding, codes.kabkota_of(own or self.user.scope_code))
        if own is None:
            values["region_code"] = codes.node_region(self.user.scope_code)
        self._findings.append(values)

    def _refused(self, scan: ScanInput, code: str) -> None:
        """Remember a scan refused as a forged or never-issued label (reported per batch)."""
        if code in _SECURITY_REFUSALS:
            self._refusals.setdefault(_SECURITY_REFUSALS[code], []).append(scan)

    def _check_signatures(
        self,
        raw_events: Sequence[Any],
        parsed: list[tuple[int, ScanInput]],
        results: list[ScanResult | None],
    ) -> list[tuple[int, ScanInput]]:
        """A device with a registered key must sign every event: keep those that verify."""
        key = self.session.scalar(
            select(Device.public_key).where(
                Device.device_id == self.device_id, Device.owner == self.owner
            )
        )
        if key is None:
            return parsed
        kept = []
        for index, scan in parsed:
            try:
                raw = raw_events[index]
                self._signatures[scan.event_id] = (
                    signing.verify_event(key, raw),
                    signing.signed_bytes(raw).decode(),
                )
            except signing.SignatureInvalid:
                results[index] = ScanResult(
                    scan.event_id,
                    "rejected",
                    "bad_device_signature",
                    "Tanda tangan perangkat tidak sah: pindaian ini tidak dibuat oleh "
                    "perangkat yang terdaftar.",
                )
                self._bad_signatures.append(scan)
                continue
            kept.append((index, scan))
        return kept

    def _report_refusals(self) -> None:
        """One security finding per kind of refused label per batch, with the count."""
        for scan in self._bad_signatures:
            self._refused(scan, "bad_device_signature")
        for code, scans in sorted(self._refusals.items()):
            severity, words = _SECURITY_WORDS[code]
            self._security_finding(
                scans[0].node,
                code,
                severity,
                f"{len(scans)} pindaian {words} ditolak, dari perangkat {self.device_id}.",
                event_ids=tuple(s.event_id for s in scans[:20]),
                detail=(("count", len(scans)),),
            )
        self._refusals = {}


#: Refusal codes that are security findings, and the finding's code.
_SECURITY_REFUSALS = {
    "bad_signature": "forged_label_scanned",
    "unknown_key": "forged_label_scanned",
    "unknown_label": "unknown_label_scanned",
    "bad_device_signature": "forged_scan",
}
_SECURITY_WORDS = {
    "forged_label_scanned": (
        rules.Severity.CRITICAL,
        "label palsu (tanda tangan tidak sah atau kunci tidak dikenal)",
    ),
    "unknown_label_scanned": (rules.Severity.WARNING, "label yang tidak pernah diterbitkan KPU"),
    "forged_scan": (
        rules.Severity.CRITICAL,
        "bertanda tangan perangkat tidak sah (bukan dari perangkat terdaftar)",
    ),
}


def clamp_int32(seconds: float) -> int:
    """Fit a clock offset into the INTEGER column (devices a century off exist in tests)."""
    return max(-MAX_INT32, min(MAX_INT32, int(seconds)))


def _valid_node(code: str) -> bool:
    try:
        codes.node_kind(code)
    except ValueError:
        return False
    return True
