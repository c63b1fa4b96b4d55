"""Talking to the Tepat server: the scan upload loop, public keys and the plan slice.

The HTTP client takes an injectable ``httpx`` transport (``httpx.MockTransport`` in
tests). Uploads go in batches of at most 500; 413 splits a batch, network errors, 429
and 5xx are retried with exponential backoff and jitter, 401/403 stop at once.

One scan the server cannot take never holds up the queue: a batch answered 400/422 is
split until the refused scan stands alone, and one answered 500 is split in halves; when
one half goes through and a scan still fails alone, that scan is set aside as a problem
(``tepat-scan status`` shows it) and the rest is sent.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from scanner.errors import AuthError, ProtocolError, ServerUnavailable, SyncError
from scanner.outbox import ACKNOWLEDGED, FINAL_REFUSALS, Outbox, ScanEvent, Settlement, utc_now
from scanner.signing import DeviceKey

MAX_BATCH = 500
_STATUSES = ACKNOWLEDGED | FINAL_REFUSALS


class _Transient(SyncError):
    """One failed attempt that is worth retrying."""


class _TooLarge(SyncError):
    """HTTP 413 for this batch."""


class _ServerFault(_Transient):
    """HTTP 500: the server failed on this batch (perhaps on one scan in it)."""


class _BatchRefused(SyncError):
    """HTTP 400/422: the server cannot read this batch; ``message`` says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class ScanApi:
    """Thin client for the scan API contract."""

    def __init__(
        self,
        server: str,
        token: str,
        device_id: str,
        transport: httpx.BaseTransport | None = None,
        timeout: float = 15.0,
        clock: Callable[[], datetime] = utc_now,
        signer: DeviceKey | None = None,
    ) -> None:
        self.device_id = device_id
        # Events are signed with the device's key, registered once before the first upload.
        self.signer = signer
        self._registered = False
        # The clock that stamps scans: sent with each batch so the server can measure it.
        self.clock = clock
        self._client = httpx.Client(
            base_url=server.rstrip("/"),
            headers={"Authorization": f"Bearer {token}", "User-Agent": "tepat-scan"},
            transport=transport,
            timeout=timeout,
        )

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._client.close()

    def __enter__(self) -> ScanApi:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._client.request(method, path, **kwargs)
        except httpx.TransportError as error:
            raise _Transient(f"jaringan: {type(error).__name__}: {error}") from error
        if response.status_code in (401, 403):
            raise AuthError(
                "Token perangkat tidak sah atau sudah dicabut: jalankan "
                "'tepat-scan config --token TOKEN' dengan token baru",
                response.status_code,
            )
        if response.status_code == 413:
            raise _TooLarge("413 payload too large")
        if response.status_code == 500:
            raise _ServerFault("server menjawab HTTP 500")
        if response.status_code in (408, 429) or response.status_code >= 500:
            raise _Transient(f"server menjawab HTTP {response.status_code}")
        return response

    def post_scans(self, events: Sequence[ScanEvent]) -> list[Settlement]:
        """Send one batch; return the server's per-event results (200 or 409)."""
        self._register()
        body = {
            "device_id": self.device_id,
            "sent_at": self.clock().astimezone(UTC).isoformat(timespec="seconds"),
            "events": [
                self.signer.sign(e.to_json()) if self.signer else e.to_json() for e in events
            ],
        }
        response = self._request("POST", "/api/v1/scans", json=body)
        if response.status_code in (400, 422):
            try:
                message = str(response.json().get("message") or "")
            except (ValueError, AttributeError):
                message = ""
            raise _BatchRefused(response.status_code, message or f"HTTP {response.status_code}")
        if response.status_code not in (200, 409):
            raise ProtocolError(f"POST /api/v1/scans: HTTP {response.status_code}")
        return _parse_results(response)

    def post_closings(self, records: Sequence[dict[str, Any]]) -> Any:
        """Send closing records (``POST /api/v1/closings``); return the JSON answer."""
        body = {"device_id": self.device_id, "records": list(records)}
        response = self._request("POST", "/api/v1/closings", json=body)
        if response.status_code in (400, 422):
            try:
                message = str(response.json().get("message") or "")
            except (ValueError, AttributeError):
                message = ""
            raise _BatchRefused(response.status_code, message or f"HTTP {response.status_code}")
        if response.status_code not in (200, 409):
            raise ProtocolError(f"POST /api/v1/closings: HTTP {response.status_code}")
        return _json(response)

    def _register(self) -> None:
        """Register the device's public key with the token (idempotent; once a process)."""
        if self.signer is None or self._registered:
            return
        response = self._request(
            "POST",
            "/api/v1/devices/key",
            json={"device_id": self.device_id, "public_key": self.signer.public_text},
        )
        if response.status_code == 404:  # a server without device keys: send unsigned
            self.signer = None
        elif response.status_code == 409:
            raise ProtocolError(
                "server menyimpan kunci lain untuk perangkat ini; pakai device_id baru "
                "('tepat-scan config') atau pulihkan berkas device-key.pem"
            )
        elif response.status_code not in (200, 201):
            raise ProtocolError(f"POST /api/v1/devices/key: HTTP {response.status_code}")
        self._registered = True

    def get_keys(self) -> str:
        """The exported public key set (JSON text) from GET /api/v1/keys."""
        response = self._request("GET", "/api/v1/keys")
        if response.status_code != 200:
            raise ProtocolError(f"GET /api/v1/keys: HTTP {response.status_code}")
        return response.text

    def get_plan_slice(self, node: str) -> dict[str, Any]:
        """The plan slice for ``node`` (GET /api/v1/nodes/<node>/plan-slice)."""
        response = self._request("GET", f"/api/v1/nodes/{node}/plan-slice")
        if response.status_code != 200:
            raise ProtocolError(f"GET plan-slice {node}: HTTP {response.status_code}")
        document = _json(response)
        if not isinstance(document, dict):
            raise ProtocolError("plan slice is not a JSON object")
        return document


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError as error:
        raise _Transient(f"jawaban server bukan JSON (HTTP {response.status_code})") from error


def _parse_results(response: httpx.Response) -> list[Settlement]:
    document = _json(response)
    try:
        results = document["results"]
        settlements = [
            Settlement(
                event_id=str(item["event_id"]),
                status=str(item["status"]),
                code=str(item.get("code") or ""),
                message=str(item.get("message") or ""),
                findings=tuple(dict(f) for f in item.get("findings") or ()),
            )
            for item in results
        ]
    except (KeyError, TypeError, ValueError) as error:
        raise ProtocolError(f"jawaban /api/v1/scans tidak sesuai kontrak: {error!r}") from error
    unknown = {s.status for s in settlements} - _STATUSES
    if unknown:
        raise ProtocolError(f"status tidak dikenal: {sorted(unknown)}")
    return settlements


@dataclass(frozen=True, slots=True)
class SyncReport:
    """What one sync did."""

    sent: int = 0
    acknowledged: int = 0
    refused: int = 0
    remaining: int = 0

    def __add__(self, other: SyncReport) -> SyncReport:
        return SyncReport(
            self.sent + other.sent,
            self.acknowledged + other.acknowledged,
            self.refused + other.refused,
            other.remaining,
        )


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential backoff with equal jitter: attempt n waits in [d/2, d], d = base * 2**n."""

    base: float = 0.5
    cap: float = 60.0

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Seconds to wait before retry number ``attempt`` (0-based)."""
        ceiling = min(self.cap, self.base * 2.0**attempt)
        return ceiling / 2 + float(rng.uniform(0, ceiling / 2))


class Syncer:
    """Moves scans from the outbox to the server until it is empty or the server is gone."""

    def __init__(
        self,
        outbox: Outbox,
        api: ScanApi,
        *,
        batch_size: int = MAX_BATCH,
        max_attempts: int = 6,
        backoff: Backoff | None = None,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.outbox = outbox
        self.api = api
        self.batch_size = max(1, min(batch_size, MAX_BATCH))
        self.max_attempts = max(1, max_attempts)
        self.backoff = backoff or Backoff()
        self._sleep = sleep
        self._rng = rng or random.Random()

    def push_once(self) -> SyncReport:
        """One pass over everything queued now; raises _Transient on a retryable failure."""
        report = SyncReport()
        after = 0
        while True:
            batch = self.outbox.pending(self.batch_size, after_seq=after)
            if not batch:
                break
            after = batch[-1].device_seq
            report = report + self._send(batch)
        return report + SyncReport(remaining=self.outbox.count())

    def _set_aside(self, scan: ScanEvent, code: str, message: str) -> SyncReport:
        """Move one scan the server will not take to the problems, so the queue moves on."""
        _, refused = self.outbox.settle([Settlement(scan.event_id, "rejected", code, message)])
        return SyncReport(sent=1, refused=refused)

    def _halves(self, batch: Sequence[ScanEvent], isolate: bool) -> SyncReport:
        """Send both halves of a batch the server failed on; find the scan that fails it.

        When every half fails too and no half went through, the server is failing on
        everything: the error goes up (retry later) and nothing is set aside.
        """
        half = len(batch) // 2
        report, failed, last = SyncReport(), [], None
        for part in (batch[:half], batch[half:]):
            try:
                report = report + self._send(part, isolate=isolate)
            except _ServerFault as error:
                failed.append(part)
                last = error
        if last is not None and len(failed) == 2 and not isolate:
            raise last
        for part in failed:
            report = report + self._send(part, isolate=True)
        return report

    def _send(self, batch: Sequence[ScanEvent], isolate: bool = False) -> SyncReport:
        try:
            settlements = self.api.post_scans(batch)
        except _TooLarge:
            if len(batch) == 1:
                refusal = Settlement(
                    batch[0].event_id,
                    "rejected",
                    "too_large",
                    "Server menolak: data scan terlalu besar (413)",
                )
                _, refused = self.outbox.settle([refusal])
                return SyncReport(sent=1, refused=refused)
            half = len(batch) // 2
            return self._send(batch[:half]) + self._send(batch[half:])
        except _BatchRefused as refusal:
            if len(batch) == 1:
                return self._set_aside(
                    batch[0], f"http_{refusal.status}", f"Server menolak: {refusal.message}"
                )
            half = len(batch) // 2
            return self._send(batch[:half]) + self._send(batch[half:])
        except _ServerFault as error:
            self.outbox.note_failure((e.event_id for e in batch), str(error))
            if len(batch) > 1:
                return self._halves(batch, isolate)
            if not isolate:
                raise
            return self._set_aside(
                batch[0],
                "server_error",
                "Server gagal memproses scan ini (HTTP 500) sementara scan lain diterima; "
                "disisihkan agar antrean tetap jalan. Laporkan ke admin.",
            )
        except _Transient as error:
            self.outbox.note_failure((e.event_id for e in batch), str(error))
            raise
        sent_ids = {e.event_id for e in batch}
        acknowledged, refused = self.outbox.settle(
            [s for s in settlements if s.event_id in sent_ids]
        )
        return SyncReport(sent=len(batch), acknowledged=acknowledged, refused=refused)

    def sync(self) -> SyncReport:
        """Push with retries; raise ServerUnavailable after ``max_attempts`` failures and
        AuthError at once on 401/403. Scans stay queued on any failure."""
        for attempt in range(self.max_attempts):
            try:
                return self.push_once()
            except _Transient as error:
                last = error
                if attempt + 1 < self.max_attempts:
                    self._sleep(self.backoff.delay(attempt, self._rng))
        raise ServerUnavailable(
            f"Server tidak dapat dihubungi setelah {self.max_attempts} percobaan ({last}); "
            "scan tetap tersimpan dan akan dikirim nanti",
            self.max_attempts,
        )

    def run_forever(
        self,
        stop: threading.Event,
        interval: float = 5.0,
        on_report: Callable[[SyncReport], None] | None = None,
    ) -> None:
        """Background loop for ``tepat-scan run``: push every ``interval`` seconds while
        scans wait, back off on failures, return when ``stop`` is set. AuthError and
        ProtocolError propagate (retrying cannot fix them)."""
        attempt = 0
        while not stop.is_set():
            if self.outbox.count() == 0:
                stop.wait(interval)
                continue
            try:
                report = self.push_once()
            except _Transient:
                stop.wait(self.backoff.delay(attempt, self._rng))
                attempt += 1
                continue
            attempt = 0
            if on_report is not None and report.sent:
                on_report(report)
            stop.wait(interval)
