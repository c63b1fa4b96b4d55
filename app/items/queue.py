"""Label print jobs in a real queue: RQ on Redis (``TEPAT_REDIS_URL``), ``flask jobs worker``.

A job is queued in Redis, so it survives a restart of the web server and of the worker:
a worker that starts picks up what is waiting, and first puts back the jobs a dead
worker left half done (their PDFs are written to a temporary file and issuing is
committed only after the file is complete, so running a job again is safe). A failed
job is retried (three times, after 5, 30 and 120 seconds) before it is reported failed.
Progress goes to the job's status file in ``TEPAT_JOB_DIR``, which the page polls.

Without Redis (``make demo``, tests), ``app.items.jobs`` runs big jobs in a thread.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import asdict
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup

log = logging.getLogger(__name__)

QUEUE = "tepat-labels"
#: Seconds a print job may run (a whole kabupaten of thermal labels takes minutes).
JOB_TIMEOUT = 3600
RETRY_INTERVALS = [5, 30, 120]


def redis_url(app: Flask | None = None) -> str | None:
    """The Redis URL the app shares with its workers (None: no queue, run in-process)."""
    import os

    return (app or current_app).config.get("TEPAT_REDIS_URL") or os.environ.get("TEPAT_REDIS_URL")


def connection(url: str) -> Any:
    """A Redis connection for RQ."""
    from redis import Redis

    return Redis.from_url(url)


def queue(url: str) -> Any:
    """The label print queue."""
    from rq import Queue

    return Queue(QUEUE, connection=connection(url), default_timeout=JOB_TIMEOUT)


def enqueue(url: str, job_id: str, order: Any) -> None:
    """Queue a print job (its status file already exists, state ``queued``)."""
    from rq import Retry

    queue(url).enqueue(
        perform,
        job_id,
        _order_dict(order),
        job_id=job_id,
        retry=Retry(max=len(RETRY_INTERVALS), interval=RETRY_INTERVALS),
        job_timeout=JOB_TIMEOUT,
        result_ttl=86400,
        failure_ttl=7 * 86400,
    )


def _order_dict(order: Any) -> dict[str, Any]:
    data = asdict(order)
    if data.get("user_id") is not None:
        data["user_id"] = str(data["user_id"])
    return data


def perform(job_id: str, order: dict[str, Any]) -> None:
    """Run one print job in a worker process (an app of its own, from the environment)."""
    from app import create_app
    from app.extensions import db
    from app.items import jobs

    app = create_app()
    with app.app_context():
        store = jobs.JobStore.for_app(app)
        status = store.load(job_id)
        if status.state == "done":
            return  # a retry of a job that finished before its worker died
        data = dict(order)
        if data.get("user_id"):
            data["user_id"] = uuid.UUID(data["user_id"])
        try:
            jobs._execute(
                db.session, store, status, jobs.PrintOrder(**data), app.config["TEPAT_KEY_DIR"]
            )
        finally:
            db.session.remove()
        if status.state == "failed" and status.message.startswith("Terjadi kesalahan"):
            raise RuntimeError(f"print job {job_id} failed; RQ retries it")


def requeue_abandoned(url: str) -> list[str]:
    """Put back jobs whose worker died mid-run (no live worker holds them); return their ids."""
    from rq import Worker
    from rq.registry import StartedJobRegistry

    q = queue(url)
    registry = StartedJobRegistry(queue=q)
    busy = {w.get_current_job_id() for w in Worker.all(queue=q) if _alive(w)}
    requeued = []
    for job_id in registry.get_job_ids(cleanup=False):
        job = q.fetch_job(job_id)
        if job_id in busy or job is None:
            continue
        registry.remove_executions(job)
        q.enqueue_job(job)
        requeued.append(job_id)
    return requeued


def _alive(worker: Any) -> bool:
    """A worker on this machine is alive if its process is; elsewhere, if it beats."""
    import os
    import socket
    from datetime import UTC, datetime, timedelta

    if worker.hostname == socket.gethostname() and worker.pid:
        try:
            os.kill(worker.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    beat = worker.last_heartbeat
    if beat is None:
        return False
    if beat.tzinfo is None:
        beat = beat.replace(tzinfo=UTC)
    return datetime.now(UTC) - beat < timedelta(seconds=120)


jobs_cli = AppGroup("jobs", help="Label print jobs on Redis (RQ).")


@jobs_cli.command("worker")
@click.option("--burst", is_flag=True, help="Stop when the queue is empty (tests, cron).")
def worker_command(burst: bool) -> None:
    """Run a worker for label print jobs (needs TEPAT_REDIS_URL)."""
    from rq import SimpleWorker

    url = redis_url()
    if not url:
        raise click.ClickException(
            "TEPAT_REDIS_URL belum diisi: tanpa Redis, cetak berjalan di server."
        )
    for job_id in requeue_abandoned(url):
        click.echo(f"dijalankan ulang: {job_id}")
    # Jobs run in the worker's own process (no fork): one database pool, and a worker that
    # dies takes its job with it, which the next worker then runs again.
    SimpleWorker([queue(url)], connection=connection(url)).work(
        burst=burst, with_scheduler=True, logging_level="WARNING"
    )


def init_app(app: Flask) -> None:
    """Register ``flask jobs worker``."""
    app.cli.add_command(jobs_cli)
