"""Label print runs: issue or reprint, write the PDF, report progress.

``run`` does the work on a session; the CLI calls it with a click progress bar.
``start`` wraps it in a job whose status is a small JSON file beside its PDF in
``TEPAT_JOB_DIR`` (default ``instance/jobs``), so any server process can answer the
page that polls it. Small orders run inside the request; big ones in the RQ queue on
Redis when ``TEPAT_REDIS_URL`` is set (``app.items.queue``, ``flask jobs worker``), else
in a thread with its own app context and database session.

Issuing is recorded only when its PDF was written: the new items and their log rows are
committed after the file is complete, and reprints are counted after the reprint file is.
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, fields
from datetime import timedelta
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from sqlalchemy.orm import Session

import labels
from app.errors import Conflict, NotFound, TepatError, ValidationFailed
from app.extensions import db
from app.items import documents
from app.items.keys import KeyStoreError, load_signer
from app.items.models import Item
from app.items.service import (
    get_item,
    issue_items,
    issue_replacement,
    issuing_lock,
    items_in_region,
    record_label_event,
    record_reprint,
)
from app.plan import codes
from app.timeutil import utcnow

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]
JOB_ID = re.compile(r"^[0-9a-f]{32}$")
KEEP_JOBS = timedelta(days=2)


@dataclass
class PrintOrder:
    """What to print: new labels of a region, a reprint of a region, or given serials."""

    election_code: str
    layout: str
    region: str | None = None
    item_types: list[str] | None = None
    reprint: bool = False
    serials: list[str] = field(default_factory=list)
    replace: str | None = None  # a voided serial whose unit gets a new label
    user_id: uuid.UUID | None = None
    note: str = ""
    # The https form of the label (a phone camera opens the item page), on this base URL.
    link_base: str | None = None


@dataclass
class PrintResult:
    """How many labels a run printed and whether they were newly issued."""

    count: int
    issued: bool


def layout_named(name: str) -> labels.LabelLayout:
    """Return a label layout by name, or ValidationFailed listing the choices."""
    try:
        return labels.LAYOUTS[name]
    except KeyError:
        raise ValidationFailed(
            f"Tata letak {name!r} tidak dikenal; pilih {', '.join(labels.LAYOUTS)}."
        ) from None


def _write(
    session: Session,
    items: list[Item],
    signer: labels.Signer,
    layout: labels.LabelLayout,
    out: Path,
    progress: Progress | None,
    link_base: str | None = None,
) -> None:
    total = len(items)
    if progress is not None:
        progress(0, total)
    labels.write_labels(
        documents.sheet_items(session, items, signer, link_base),
        layout,
        out,
        progress=(lambda done: progress(done, total)) if progress else None,
    )


def run(
    session: Session,
    order: PrintOrder,
    key_dir: str | Path,
    out: Path,
    progress: Progress | None = None,
) -> PrintResult:
    """Issue (or pick) the items of an order, write their labels to ``out``, record it."""
    layout = layout_named(order.layout)
    signer = load_signer(key_dir)
    part = out.with_name(out.name + ".part")
    try:
        if order.replace:
            voided = get_item(session, order.replace)
            with issuing_lock(session, voided.kabkota_code):
                items = [issue_replacement(session, voided, signer, order.user_id, commit=False)]
                _write(session, items, signer, layout, part, progress, order.link_base)
                # The ganti event commits the new label with it, once its PDF exists.
                note = f"pengganti {labels.format_serial(voided.serial)}"
                record_label_event(session, items[0], order.user_id, "ganti", note)
            issued = True
        elif order.serials:
            items = [get_item(session, serial) for serial in order.serials]
            void = [labels.format_serial(i.serial) for i in items if i.voided_at is not None]
            if void:
                raise Conflict(f"Label {', '.join(void)} sudah dibatalkan; tidak dicetak ulang.")
            _write(session, items, signer, layout, part, progress, order.link_base)
            record_reprint(session, items, order.user_id, note=order.note)
            issued = False
        elif order.reprint:
            assert order.region is not None
            items = items_in_region(session, order.election_code, order.region, order.item_types)
            if not items:
                raise NotFound("Belum ada label terbit untuk wilayah dan jenis barang itu.")
            _write(session, items, signer, layout, part, progress, order.link_base)
            record_reprint(session, items, order.user_id, note=order.note)
            issued = False
        else:
            assert order.region is not None
            with issuing_lock(session, codes.kabkota_of(order.region)):
                items = issue_items(
                    session,
                    order.election_code,
                    order.region,
                    order.item_types,
                    signer,
                    order.user_id,
                    commit=False,
                    note=order.note,
                ).created
                if not items:
                    raise Conflict(
                        "Semua label wilayah dan jenis barang itu sudah diterbitkan; "
                        "pilih cetak ulang untuk mencetaknya lagi."
                    )
                _write(session, items, signer, layout, part, progress, order.link_base)
                session.commit()
            issued = True
        os.replace(part, out)
    except BaseException:
        session.rollback()
        part.unlink(missing_ok=True)
        raise
    return PrintResult(len(items), issued)


# --- jobs ------------------------------------------------------------------------------


@dataclass
class JobStatus:
    """A print job as the page shows it; stored as JSON beside the PDF."""

    id: str
    user_id: str
    title: str
    download_name: str
    state: str = "queued"  # queued, running, done, failed
    done: int = 0
    total: int = 0
    count: int = 0
    message: str = ""
    created_at: str = ""
    finished_at: str = ""

    @property
    def percent(self) -> int:
        """Progress in whole percent."""
        if self.state == "done":
            return 100
        return int(100 * self.done / self.total) if self.total else 0

    def to_dict(self) -> dict[str, Any]:
        """The JSON body of the progress endpoint."""
        return {**asdict(self), "percent": self.percent}


class JobStore:
    """Job status files and PDFs in one folder."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)

    @classmethod
    def for_app(cls, app: Flask | None = None) -> JobStore:
        """The store of the current (or given) app: TEPAT_JOB_DIR or instance/jobs."""
        app = app or current_app
        return cls(app.config.get("TEPAT_JOB_DIR") or Path(app.instance_path) / "jobs")

    def _path(self, job_id: str, suffix: str) -> Path:
        if not JOB_ID.match(job_id):
            raise NotFound("Pekerjaan cetak tidak ditemukan.")
        return self.folder / f"{job_id}{suffix}"

    def pdf(self, job_id: str) -> Path:
        """Where a job's PDF is written."""
        return self._path(job_id, ".pdf")

    def new(self, user_id: uuid.UUID | None, title: str, download_name: str) -> JobStatus:
        """Create a queued job."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self.prune()
        status = JobStatus(
            id=uuid.uuid4().hex,
            user_id=str(user_id or ""),
            title=title,
            download_name=download_name,
            created_at=utcnow().isoformat(),
        )
        self.save(status)
        return status

    def save(self, status: JobStatus) -> None:
        """Write a job's status atomically (a poll never reads half a file)."""
        path = self._path(status.id, ".json")
        part = path.with_name(f"{path.name}.{threading.get_ident()}.part")
        part.write_text(json.dumps(asdict(status)), encoding="utf-8")
        os.replace(part, path)

    def load(self, job_id: str) -> JobStatus:
        """Read a job's status, or NotFound."""
        try:
            data = json.loads(self._path(job_id, ".json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise NotFound("Pekerjaan cetak tidak ditemukan.") from None
        known = {f.name for f in fields(JobStatus)}
        return JobStatus(**{k: v for k, v in data.items() if k in known})

    def recent(self, user_id: uuid.UUID, limit: int = 8) -> list[JobStatus]:
        """A user's latest jobs, newest first."""
        if not self.folder.is_dir():
            return []
        found = []
        for path in self.folder.glob("*.json"):
            try:
                status = self.load(path.stem)
            except NotFound:
                continue
            if status.user_id == str(user_id):
                found.append(status)
        return sorted(found, key=lambda s: s.created_at, reverse=True)[:limit]

    def prune(self, older_than: timedelta = KEEP_JOBS) -> None:
        """Delete jobs and PDFs older than ``older_than``."""
        limit = time.time() - older_than.total_seconds()
        for path in self.folder.glob("*"):
            try:
                if path.stat().st_mtime < limit:
                    path.unlink()
            except OSError:
                pass


class _Reporter:
    """Saves progress at most four times a second (thermal rolls call back per label)."""

    def __init__(self, store: JobStore, status: JobStatus) -> None:
        self.store = store
        self.status = status
        self.last = 0.0

    def __call__(self, done: int, total: int) -> None:
        self.status.done, self.status.total = done, total
        now = time.monotonic()
        if done >= total or now - self.last >= 0.25:
            self.store.save(self.status)
            self.last = now


_threads: dict[str, threading.Thread] = {}


def _execute(
    session: Session, store: JobStore, status: JobStatus, order: PrintOrder, key_dir: str
) -> None:
    status.state = "running"
    store.save(status)
    try:
        result = run(session, order, key_dir, store.pdf(status.id), _Reporter(store, status))
    except TepatError as exc:
        status.state, status.message = "failed", exc.message
    except KeyStoreError as exc:
        status.state, status.message = "failed", str(exc)
    except Exception:
        log.exception("label print job %s failed", status.id)
        status.state = "failed"
        status.message = "Terjadi kesalahan saat mencetak; tidak ada yang dicatat. Coba lagi."
    else:
        status.state, status.count = "done", result.count
        status.done = status.total = result.count
    status.finished_at = utcnow().isoformat()
    store.save(status)


def _in_thread(app: Flask, store: JobStore, status: JobStatus, order: PrintOrder) -> None:
    with app.app_context():
        try:
            _execute(db.session, store, status, order, app.config["TEPAT_KEY_DIR"])
        finally:
            _threads.pop(status.id, None)


def start(order: PrintOrder, *, title: str, download_name: str, background: bool) -> JobStatus:
    """Start a print job; run it now or in a thread with its own app context."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    store = JobStore.for_app(app)
    status = store.new(order.user_id, title, download_name)
    if not background:
        _execute(db.session, store, status, order, app.config["TEPAT_KEY_DIR"])
        return status
    from app.items import queue

    url = queue.redis_url(app)
    if url:  # a worker of the queue runs it; it survives restarts of both sides
        queue.enqueue(url, status.id, order)
        return status
    thread = threading.Thread(
        target=_in_thread,
        args=(app, store, status, order),
        name=f"cetak-label-{status.id[:8]}",
        daemon=True,
    )
    _threads[status.id] = thread
    thread.start()
    return status


def wait(job_id: str, timeout: float | None = None) -> None:
    """Wait for a background job of this process to finish (tests, shutdown)."""
    thread = _threads.get(job_id)
    if thread is not None:
        thread.join(timeout)
