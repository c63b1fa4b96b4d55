"""Production serving: gunicorn with two workers, label jobs on RQ/Redis, the shared cache.

Redis database 12 on 127.0.0.1 (emptied by each test); servers on ports 8126-8127.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import httpx
import pytest
from flask import Flask
from redis import Redis

from app import cache
from app.auth import service as auth
from app.clock import now
from app.custody import overview
from app.extensions import db
from app.items import jobs, keys
from app.plan.views import current_election
from app.warmup import warm_up

REDIS = "redis://127.0.0.1:6379/12"
ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


@pytest.fixture
def redis_db() -> Iterator[Redis]:
    """Redis database 12, empty before and after."""
    client = Redis.from_url(REDIS)
    client.flushdb()
    yield client
    client.flushdb()


def environment(app: Flask, **more: str) -> dict[str, str]:
    """What a server or worker process needs to be this app (from the environment)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TEPAT_")}
    env.update(
        DATABASE_URL=app.config["SQLALCHEMY_DATABASE_URI"],
        TEPAT_SECRET_KEY="serving-test",
        TEPAT_KEY_DIR=app.config["TEPAT_KEY_DIR"],
        TEPAT_JOB_DIR=str(jobs.JobStore.for_app(app).folder),
        TEPAT_REDIS_URL=REDIS,
        FLASK_APP="app",
        **more,
    )
    return env


def test_gunicorn_with_two_workers_serves_the_api_and_the_desk(demo_app: Flask) -> None:
    keys.create_key(demo_app.config["TEPAT_KEY_DIR"], date(2024, 11, 1))
    desk = auth.find_user(db.session, "desk")
    token, _ = auth.create_token(db.session, desk, "serving test")
    gudang, _ = auth.create_token(db.session, auth.find_user(db.session, "gudang"), "gudang")
    db.session.commit()
    server = subprocess.Popen(
        [str(BIN / "gunicorn"), "-c", "app/gunicorn.conf.py", "-w", "2", "-b", "127.0.0.1:8126"],
        cwd=ROOT,
        env=environment(demo_app, TEPAT_RATELIMIT_STORAGE_URI=REDIS),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        with httpx.Client(base_url="http://127.0.0.1:8126", timeout=30) as http:
            for _ in range(100):
                try:
                    if http.get("/api/v1/openapi.yaml").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.2)
            else:
                pytest.fail("gunicorn did not start")
            bearer = {"Authorization": f"Bearer {token}"}
            for _ in range(12):  # spread over both workers
                summary = http.get("/api/v1/regions/62.10/summary", headers=bearer)
                assert summary.status_code == 200 and summary.json()["tps"] == 219
            scans = http.post(
                "/api/v1/scans",
                headers={"Authorization": f"Bearer {gudang}"},
                json={"device_id": "hp-serve", "events": [{"event_id": str(uuid.uuid4())}]},
            )
            assert scans.status_code == 200 and scans.json()["rejected"] == 1
            assert http.get("/desk").status_code in (302, 401)  # a page needs a session
    finally:
        server.terminate()
        out, _ = server.communicate(timeout=30)
    assert b"Booting worker" in out and out.count(b"Booting worker") >= 2
    # Each worker warmed up before taking traffic (app/warmup.py), templates compiled.
    warmed = re.findall(rb"warmed up: (\d+) templates compiled", out)
    assert len(warmed) >= 2 and all(int(n) > 20 for n in warmed), out[-2000:]


def test_warming_a_worker_compiles_every_template_and_fails_soft(demo_app: Flask) -> None:
    names = demo_app.jinja_env.list_templates(filter_func=lambda n: n.endswith((".html", ".txt")))
    assert warm_up(demo_app) == len(names) > 20
    broken = Flask("broken")  # no database, no routes: warming logs and returns, never raises
    assert warm_up(broken) == 0


def test_a_print_job_waits_in_redis_until_a_worker_runs_it(
    demo_app: Flask, redis_db: Redis
) -> None:
    keys.create_key(demo_app.config["TEPAT_KEY_DIR"], date(2024, 11, 1))
    demo_app.config["TEPAT_REDIS_URL"] = REDIS
    gudang = auth.find_user(db.session, "gudang")
    order = jobs.PrintOrder(
        election_code="pilkada-2024",
        layout="a4-sticker",
        region="6210021001001",
        item_types=["KIT", "KOTAK"],
        user_id=gudang.id,
    )
    status = jobs.start(order, title="Label", download_name="label.pdf", background=True)
    store = jobs.JobStore.for_app(demo_app)
    assert store.load(status.id).state == "queued"  # no worker yet: the job waits in Redis
    # A big job whose worker is killed mid-run: the next worker runs it again, from scratch.
    big = jobs.PrintOrder(
        election_code="pilkada-2024", layout="a4-sticker", region="62.10.02", user_id=gudang.id
    )
    second = jobs.start(big, title="Kurun", download_name="kurun.pdf", background=True)
    db.session.commit()
    flask = [str(BIN / "flask"), "jobs", "worker"]
    # Its own process group: the worker and the work horse it forks die together.
    first_worker = subprocess.Popen(
        flask, cwd=ROOT, env=environment(demo_app), start_new_session=True
    )
    try:
        deadline = time.monotonic() + 120
        while store.load(second.id).state != "running" or store.load(second.id).done < 1:
            assert time.monotonic() < deadline, store.load(second.id)
            time.sleep(0.02)
    finally:
        os.killpg(first_worker.pid, signal.SIGKILL)  # no goodbye: the job stays started
        first_worker.wait(timeout=30)
    assert store.load(status.id).state == "done"  # the small one ran first
    assert store.load(second.id).state == "running"
    worker = subprocess.run(
        [*flask, "--burst"],
        cwd=ROOT,
        env=environment(demo_app),
        capture_output=True,
        timeout=600,
    )
    assert worker.returncode == 0, worker.stderr.decode()[-2000:]
    assert second.id in worker.stdout.decode()  # put back: "dijalankan ulang"
    done = store.load(status.id)
    assert done.count == done.total == 3, done
    assert store.pdf(status.id).read_bytes().startswith(b"%PDF")
    again = store.load(second.id)
    assert again.state == "done" and again.count > 1000, (again, worker.stderr.decode()[-3000:])
    assert store.pdf(second.id).read_bytes().startswith(b"%PDF")


def test_the_desk_cache_is_shared_through_redis(demo_app: Flask, redis_db: Redis) -> None:
    demo_app.config["TEPAT_REDIS_URL"] = REDIS
    election = current_election()
    first = overview.live_findings(db.session, election, "62.10", now())
    assert any(k.startswith(cache.PREFIX.encode()) for k in redis_db.keys())
    overview.clear_caches()  # another worker process: nothing in its memory
    redis_db.set("probe", 1)
    again = overview.live_findings(db.session, election, "62.10", now())
    assert again == first
    demo_app.config["TEPAT_REDIS_URL"] = "redis://127.0.0.1:1/0"  # Redis down: still answers
    overview.clear_caches()
    assert overview.live_findings(db.session, election, "62.10", now()) == first
