"""Benchmark at real size: a kabupaten of 219, 1,000 or 8,000 TPS on PostgreSQL, end to end.

Builds each plan from the real region codes in ``shared/data/wilayah.csv`` (219 TPS: the
Gunung Mas demo; 1,000 and 8,000 TPS: every desa of Kabupaten Bogor 32.01 with a synthetic
TPS split and DPT from ``penduduk.csv``), issues every label through the services, signs
them, serves the app on loopback (a threaded WSGI server) and plays the whole distribution
through ``POST /api/v1/scans`` with several concurrent clients (one courier per kecamatan:
pack at the gudang, gudang -> PPK -> PPS -> KPPS). It prints one table: plan import,
issuing, ingest scans/s per fifth of the run, desk page and API summary cold and cached,
the findings page, database size, peak RSS, and the raw-insert baseline measured in the
same run. It checks that the desk's counts equal a recomputation from the item table.

``--workers N`` plays the scans through gunicorn with N worker processes
(``app/gunicorn.conf.py``, as production serves Tepat) instead of the in-process threaded
server, whose one interpreter lock the kit moves and the packing scans share; the desk is
measured in process afterwards either way.

Not a test (not timed by pytest): run it by hand; 8,000 TPS takes long, run it in the
background. The databases are kept (``tepat_scale_<size>``): ``--reuse`` measures the desk
on them again, each time in a new server process, without building anything.
``--province N`` builds Jawa Barat (every kabupaten/kota of 32, N TPS shared by
population), issues labels for as many kabupaten as ``--issue-kab``/``--issue-seconds``
allow, and times the province desk in a new process (no scans played).

    .venv/bin/python tests/bench_scale.py --sizes 219,1000 [--clients 4] [--port 8120]
    .venv/bin/python tests/bench_scale.py --sizes 8000 --workers 3
    .venv/bin/python tests/bench_scale.py --sizes 8000 --reuse
    .venv/bin/python tests/bench_scale.py --province 40000 --issue-seconds 1200
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import os
import queue
import resource
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app import create_app  # noqa: E402
from app.auth import service as auth  # noqa: E402
from app.custody.models import CustodyEvent, ItemStateRow  # noqa: E402
from app.extensions import db  # noqa: E402
from app.items import keys  # noqa: E402
from app.items.models import Item  # noqa: E402
from app.items.service import issue_items, label_text  # noqa: E402
from app.plan import codes, demo  # noqa: E402
from app.plan import service as plan_service  # noqa: E402
from app.plan.needs import allocate_largest_remainder  # noqa: E402

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"
ELECTION = "pilkada-2024"
#: The app's clock starts here (H-7); scans carry device times on the same clock.
START = datetime(2024, 11, 20, 0, 0, tzinfo=UTC)
PASSWORD = "bench-rahasia-1"
BATCH = 500


@dataclass
class Region:
    """What a size is built from: a kabupaten, its races and its TPS list (CSV)."""

    kab: str
    name: str
    races: tuple[tuple[str, str, str], ...]
    tps_csv: bytes
    dispatch: dict[str, int]


def _weight(key: str) -> float:
    digest = hashlib.sha256(key.encode()).digest()
    return 0.6 + 0.8 * int.from_bytes(digest[:4], "big") / 2**32


def bogor(target: int, wilayah: Path, penduduk: Path) -> Region:
    """Kabupaten Bogor (32.01): real desa codes, ``target`` TPS spread by a seeded weight."""
    kab = "32.01"
    with wilayah.open(encoding="utf-8") as f:
        desa = sorted(
            r["kode"]
            for r in csv.DictReader(f)
            if r["kode"].startswith(kab + ".") and r["kode"].count(".") == 3
        )
    with penduduk.open(encoding="utf-8") as f:
        population = next(int(r["total"]) for r in csv.DictReader(f) if r["kode"] == kab)
    if target < len(desa):
        desa = desa[:target]
    weights = [_weight(d) for d in desa]
    per_desa = [1 + n for n in allocate_largest_remainder(target - len(desa), weights)]
    # DPT is about 71% of population; at most 600 voters per TPS (Pilkada 2024).
    per_tps = min(560, int(population * 0.71 / target))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["kode desa", "nomor tps", "dpt", "dptb"])
    for code, count in zip(desa, per_desa, strict=True):
        for number in range(1, count + 1):
            dpt = min(600, int(per_tps * (0.85 + 0.3 * (_weight(f"{code}/{number}") - 0.6) / 0.8)))
            writer.writerow([code, number, dpt, 0])
    kecamatan = sorted({d.rsplit(".", 1)[0] for d in desa})
    return Region(
        kab,
        "Kabupaten Bogor",
        (
            ("GUB", "32", "Pemilihan Gubernur dan Wakil Gubernur Jawa Barat"),
            ("BUP", kab, "Pemilihan Bupati dan Wakil Bupati Bogor"),
        ),
        out.getvalue().encode(),
        {k: -2 for k in kecamatan},
    )


def jawa_barat(target: int, wilayah: Path, penduduk: Path) -> list[Region]:
    """Every kabupaten/kota of Jawa Barat (32), ``target`` TPS shared by population, each
    built like :func:`bogor` (real desa codes, seeded split); the governor race over all."""
    with penduduk.open(encoding="utf-8") as f:
        population = {
            r["kode"]: int(r["total"])
            for r in csv.DictReader(f)
            if r["kode"].startswith("32.") and r["kode"].count(".") == 1
        }
    kabs = sorted(population)
    shares = allocate_largest_remainder(target, [population[k] for k in kabs])
    return [_kabupaten(k, n, wilayah, population[k]) for k, n in zip(kabs, shares, strict=True)]


def _kabupaten(kab: str, target: int, wilayah: Path, population: int) -> Region:
    with wilayah.open(encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f) if r["kode"].startswith(kab + ".")]
    desa = sorted(r["kode"] for r in rows if r["kode"].count(".") == 3)
    if target < len(desa):
        desa = desa[:target]
    weights = [_weight(d) for d in desa]
    per_desa = [1 + n for n in allocate_largest_remainder(target - len(desa), weights)]
    per_tps = min(560, int(population * 0.71 / target))
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["kode desa", "nomor tps", "dpt", "dptb"])
    for code, count in zip(desa, per_desa, strict=True):
        for number in range(1, count + 1):
            dpt = min(600, int(per_tps * (0.85 + 0.3 * (_weight(f"{code}/{number}") - 0.6) / 0.8)))
            writer.writerow([code, number, dpt, 0])
    kota = int(kab.split(".")[1]) >= 71
    with wilayah.open(encoding="utf-8") as f:
        name = next((r["nama"] for r in csv.DictReader(f) if r["kode"] == kab), kab)
    return Region(
        kab,
        name,
        (("WAL" if kota else "BUP", kab, f"Pemilihan {'Wali Kota' if kota else 'Bupati'} {name}"),),
        out.getvalue().encode(),
        {k: -1 for k in sorted({d.rsplit(".", 1)[0] for d in desa})},
    )


def gunung_mas() -> Region:
    """The Gunung Mas demo plan (219 TPS)."""
    return Region(
        demo.KABKOTA,
        "Kabupaten Gunung Mas",
        demo.RACES,
        demo.tps_csv(),
        {k.code: k.dispatch_day for k in demo.kecamatan_rows()},
    )


def fresh_postgres(url: str, name: str) -> str:
    """Drop and create a database; return its URL."""
    parsed = make_url(url.replace("postgresql://", "postgresql+psycopg://", 1))
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return parsed.set(database=name).render_as_string(hide_password=False)


def device_now() -> datetime:
    """The scanner's clock: the same instant the app's clock shows (it starts at START)."""
    return START + timedelta(seconds=time.monotonic() - _T0[0])


_T0 = [time.monotonic()]


@dataclass
class Courier:
    """One kecamatan's scans, phase by phase, sent by its gudang and courier devices."""

    kecamatan: str
    phases: list[tuple[str, list[dict[str, Any]]]] = field(default_factory=list)


def plan_scans(items: list[Item], texts: dict[str, str], kab: str) -> list[Courier]:
    """Every scan of a full distribution, grouped per kecamatan and phase (in order)."""
    by_tps: dict[str, list[Item]] = defaultdict(list)
    spares: dict[str, list[Item]] = defaultdict(list)
    for item in items:
        if codes.TPS_ID.match(item.destination):
            by_tps[item.destination].append(item)
        elif codes.node_kind(item.destination).value == "ppk":
            spares[item.destination].append(item)
    per_kec: dict[str, list[str]] = defaultdict(list)
    for tps in sorted(by_tps):
        per_kec[".".join(codes.node_region(tps).split(".")[:3])].append(tps)
    couriers = []

    def event(item: Item, action: str, node: str, **extra: Any) -> dict[str, Any]:
        return {
            "event_id": str(uuid.uuid4()),
            "label": texts[item.serial],
            "action": action,
            "node": node,
            **extra,
        }

    for kec, tps_ids in sorted(per_kec.items()):
        kemas, kirim, at_ppk, to_pps, at_pps, to_tps, at_tps = ([] for _ in range(7))
        for tps in tps_ids:
            kit = next(i for i in by_tps[tps] if i.item_type_code == "KIT")
            gudang, ppk, pps, _ = codes.route(tps)
            for item in by_tps[tps]:
                if item is not kit:
                    kemas.append(event(item, "kemas", gudang, container=texts[kit.serial]))
            kirim.append(event(kit, "kirim", gudang, target=ppk, counterpart="Kurir + Polri"))
            at_ppk.append(event(kit, "terima", ppk, quantity=1, condition="baik"))
            to_pps.append(event(kit, "kirim", ppk, target=pps))
            at_pps.append(event(kit, "terima", pps, quantity=1, condition="baik"))
            to_tps.append(event(kit, "kirim", pps, target=tps))
            at_tps.append(event(kit, "terima", tps, quantity=1, condition="baik"))
        for spare in spares.get(kec, []):
            kirim.append(event(spare, "kirim", kab, target=kec))
            at_ppk.append(event(spare, "terima", kec, quantity=1, condition="baik"))
        courier = Courier(kec)
        courier.phases = [
            ("gudang", kemas),
            ("gudang", kirim),
            ("kurir", at_ppk + to_pps),
            ("kurir", at_pps + to_tps),
            ("kurir", at_tps),
        ]
        couriers.append(courier)
    return couriers


@dataclass
class Sent:
    """One batch as the client saw it."""

    done: float
    scans: int
    accepted: int
    seconds: float
    status: int
    #: "kemas" (one item packed per scan) or "kit" (a kit moved, with what it carries).
    kind: str = "kit"


def play(
    base: str, couriers: list[Courier], tokens: Callable[[str, str], str], clients: int
) -> list[Sent]:
    """Send every kecamatan's phases in order; ``clients`` kecamatan at a time."""
    work: queue.Queue[Courier] = queue.Queue()
    for courier in couriers:
        work.put(courier)
    sent: list[Sent] = []
    lock = threading.Lock()
    errors: list[str] = []

    def client() -> None:
        with httpx.Client(base_url=base, timeout=600) as http:
            while True:
                try:
                    courier = work.get_nowait()
                except queue.Empty:
                    return
                seq: Counter[str] = Counter()
                for role, events in courier.phases:
                    device = f"bench-{role}-{courier.kecamatan}"
                    for start in range(0, len(events), BATCH):
                        chunk = events[start : start + BATCH]
                        for body in chunk:
                            seq[device] += 1
                            body["device_seq"] = seq[device]
                            body["device_time"] = device_now().isoformat()
                        began = time.perf_counter()
                        response = http.post(
                            "/api/v1/scans",
                            json={"device_id": device, "events": chunk},
                            headers={"Authorization": f"Bearer {tokens(role, courier.kecamatan)}"},
                        )
                        took = time.perf_counter() - began
                        accepted = (
                            response.json().get("accepted", 0) if response.status_code == 200 else 0
                        )
                        if accepted != len(chunk):
                            with lock:
                                errors.append(
                                    f"{courier.kecamatan} {role}: {response.status_code} "
                                    f"{accepted}/{len(chunk)} {response.text[:300]}"
                                )
                        with lock:
                            sent.append(
                                Sent(
                                    time.perf_counter(),
                                    len(chunk),
                                    accepted,
                                    took,
                                    response.status_code,
                                    "kemas" if chunk[0]["action"] == "kemas" else "kit",
                                )
                            )

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for line in errors[:5]:
        print("  !", line, file=sys.stderr)
    return sent


def fifths(sent: list[Sent], started: float) -> list[float]:
    """Scans per second in each fifth of the scans, in the order batches finished."""
    sent = sorted(sent, key=lambda s: s.done)
    total = sum(s.scans for s in sent)
    rates, count, mark, edge = [], 0, started, 1
    for s in sent:
        count += s.scans
        while edge <= 5 and count >= total * edge / 5:
            rates.append(total / 5 / max(s.done - mark, 1e-9))
            mark, edge = s.done, edge + 1
    return rates


def cost_fifths(sent: list[Sent], kind: str) -> list[float]:
    """Milliseconds a batch of one kind took per scan in it, in each fifth of those batches
    as they finished: what one scan costs the server however many clients are still sending
    (the play's tail has fewer kecamatan left than clients, so its scans/s fall on their
    own) and whichever phases the fifth happens to hold."""
    sent = sorted((s for s in sent if s.kind == kind), key=lambda s: s.done)
    size = max(1, -(-len(sent) // 5))
    parts = [sent[i : i + size] for i in range(0, len(sent), size)]
    return [1000 * sum(s.seconds for s in p) / max(1, sum(s.scans for s in p)) for p in parts]


def state_storage(session: Any, province: str) -> dict[str, Any]:
    """How the play left the item states' partition: updates made in place (HOT, no new
    index entries), dead row versions waiting for a vacuum, the server's autovacuum."""
    session.execute(text("SELECT pg_stat_force_next_flush()"))
    stats = session.execute(
        text(
            "SELECT n_tup_upd, n_tup_hot_upd, n_live_tup, n_dead_tup, seq_scan, "
            "pg_total_relation_size(relid) AS size FROM pg_stat_user_tables "
            "WHERE relname = :name"
        ),
        {"name": f"item_state_p{province}"},
    ).one()
    return {
        "hot": stats.n_tup_hot_upd / max(1, stats.n_tup_upd),
        "updates": stats.n_tup_upd,
        "live": stats.n_live_tup,
        "dead": stats.n_dead_tup,
        "seq_scans": stats.seq_scan,
        "state_mb": stats.size / 2**20,
        "autovacuum": session.scalar(text("SHOW autovacuum")),
    }


def serve(app: Any, port: int) -> Any:
    """Serve the app on loopback in a background thread (threaded WSGI server)."""
    import logging

    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def serve_gunicorn(url: str, key_dir: Path, port: int, workers: int) -> subprocess.Popen[bytes]:
    """Serve the app with gunicorn (``app/gunicorn.conf.py``) on loopback; wait until it
    answers. Settings come from the environment, as in production."""
    root = Path(__file__).resolve().parent.parent
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "TEPAT_SECRET_KEY": "bench",
        "TEPAT_KEY_DIR": str(key_dir),
        "TEPAT_NOW": START.isoformat(),
        "TEPAT_WORKERS": str(workers),
        "TEPAT_BIND": f"127.0.0.1:{port}",
        "TEPAT_LOG_LEVEL": "warning",
    }
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "-c", "app/gunicorn.conf.py"],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
    )
    for _ in range(300):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/masuk", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn ended ({proc.returncode})")
        time.sleep(0.2)
    proc.terminate()
    raise SystemExit("gunicorn did not answer")


def timed_get(http: httpx.Client, path: str, **kw: Any) -> tuple[float, int, int]:
    """(seconds, status, bytes) of one GET."""
    began = time.perf_counter()
    response = http.get(path, **kw)
    return time.perf_counter() - began, response.status_code, len(response.content)


def recount(session: Any, kab: str) -> dict[str, Counter[str]]:
    """Stage counts per kecamatan straight from the item and state tables (the check)."""
    states = {
        serial: (
            f"jalan:{codes.node_kind(transit).value}" if stage == "jalan" and transit else stage
        )
        for serial, stage, transit in session.execute(
            select(ItemStateRow.serial, ItemStateRow.stage, ItemStateRow.transit_to).where(
                ItemStateRow.kabkota_code == kab
            )
        )
    }
    result: dict[str, Counter[str]] = defaultdict(Counter)
    for serial, destination, voided in session.execute(
        select(Item.serial, Item.destination, Item.voided_at).where(Item.kabkota_code == kab)
    ):
        if voided is not None:
            continue
        region = codes.node_region(destination)
        if region.count(".") < 2:
            continue  # kept at the gudang (the PSU reserve)
        kec = ".".join(region.split(".")[:3])
        result[kec][states.get(serial, "gudang")] += 1
    return result


def clear_caches(*, process: bool = False) -> None:
    """Forget the desk's cached answers (cold); ``process``: also what a server process
    keeps between requests (the pure plan, parsed tallies), as in a process just started."""
    from app.custody import overview

    overview.clear_caches(everything=process)


def run(
    size: int,
    url: str,
    workdir: Path,
    port: int,
    clients: int,
    play_kecamatan: int = 0,
    workers: int = 0,
) -> dict[str, Any]:
    """Build, issue, play and read one size; return the row of the table."""
    row: dict[str, Any] = {"size": size}
    region = (
        gunung_mas()
        if size == 219
        else bogor(size, SHARED / "wilayah.csv", SHARED / "penduduk.csv")
    )
    key_dir = workdir / f"keys-{size}"
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "SECRET_KEY": "bench",
            "TEPAT_KEY_DIR": str(key_dir),
            "TEPAT_JOB_DIR": str(workdir / "jobs"),
            "WTF_CSRF_ENABLED": False,
            "RATELIMIT_ENABLED": False,
            "TEPAT_NOW": START.isoformat(),
            "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": clients + 4, "max_overflow": 4},
        }
    )
    _T0[0] = time.monotonic()
    with app.app_context():
        from flask_migrate import upgrade

        upgrade(revision="heads")
        session = db.session
        began = time.perf_counter()
        prefix = region.kab.split(".")[0]
        plan_service.load_regions(session, SHARED / "wilayah.csv", [region.kab, prefix])
        plan_service.ensure_item_types(session)
        plan_service.ensure_election(
            session, ELECTION, "Pilkada 2024", date(2024, 11, 27), region.races
        )
        result = plan_service.import_tps(
            session,
            ELECTION,
            region.kab,
            "tps.csv",
            region.tps_csv,
            dispatch_days=region.dispatch,
        )
        row["tps"] = result.created
        row["plan_s"] = time.perf_counter() - began
        keys.create_key(key_dir, date(2024, 11, 1))
        signer = keys.load_signer(key_dir)
        began = time.perf_counter()
        issue_items(session, ELECTION, region.kab, None, signer, None)
        row["issue_s"] = time.perf_counter() - began
        items = list(session.scalars(select(Item).where(Item.kabkota_code == region.kab)))
        row["items"] = len(items)
        began = time.perf_counter()
        texts = {i.serial: label_text(i, signer) for i in items}
        row["sign_s"] = time.perf_counter() - began
        couriers = plan_scans(items, texts, region.kab)
        if play_kecamatan and size >= 8000:
            couriers = couriers[:play_kecamatan]  # the full plan and labels, part of the play
        row["played"] = len(couriers)
        del texts
        session.expunge_all()
        users: dict[tuple[str, str], str] = {}
        gudang = auth.create_user(session, "b.gudang", PASSWORD, "gudang", region.kab, "Gudang")
        users[("gudang", "")] = auth.create_token(session, gudang, "bench")[0]
        for courier in couriers:
            user = auth.create_user(
                session,
                f"b.kurir.{courier.kecamatan}",
                PASSWORD,
                "kurir",
                courier.kecamatan,
                "Kurir",
            )
            users[("kurir", courier.kecamatan)] = auth.create_token(session, user, "bench")[0]
        auth.create_user(session, "b.desk", PASSWORD, "desk", region.kab, "Desk")
        session.commit()
        session.remove()

    server = serve(app, port)
    base = f"http://127.0.0.1:{port}"
    try:
        desk = httpx.Client(base_url=base, timeout=600)
        desk.post("/masuk", data={"username": "b.desk", "password": PASSWORD})
        clear_caches()
        row["desk_before"] = timed_get(desk, "/desk")[1]

        total = sum(len(e) for c in couriers for _, e in c.phases)
        production = serve_gunicorn(url, key_dir, port + 2, workers) if workers else None
        started = time.perf_counter()
        try:
            sent = play(
                f"http://127.0.0.1:{port + 2}" if production else base,
                couriers,
                lambda role, kec: users[(role, "" if role == "gudang" else kec)],
                clients,
            )
        finally:
            if production is not None:
                production.terminate()
                production.wait(60)
        row["ingest_s"] = time.perf_counter() - started
        row["workers"] = workers
        row["scans"] = total
        row["accepted"] = sum(s.accepted for s in sent)
        row["fifths"] = fifths(sent, started)
        row["costs"] = {kind: cost_fifths(sent, kind) for kind in ("kemas", "kit")}
        batch_times = sorted(s.seconds for s in sent)
        row["batch_p95"] = batch_times[int(0.95 * (len(batch_times) - 1))]
        row["batch_max"] = batch_times[-1]

        # A server process that just started: a new Python process on the same database.
        row["desk_first"] = tuple(desk_in_new_process(url, "b.desk", region.kab, port + 1)["first"])
        clear_caches()
        row["desk_cold"] = timed_get(desk, "/desk")
        row["desk_cached"] = timed_get(desk, "/desk")
        clear_caches()
        row["api_cold"] = timed_get(desk, f"/api/v1/regions/{region.kab}/summary")
        row["api_cached"] = timed_get(desk, f"/api/v1/regions/{region.kab}/summary")
        row["findings_api"] = timed_get(desk, "/api/v1/findings")
        row["findings_page"] = timed_get(desk, "/desk/temuan")
        summary = desk.get(f"/api/v1/regions/{region.kab}/summary").json()
        desk.close()
    finally:
        server.shutdown()

    with app.app_context():
        session = db.session
        expected = recount(session, region.kab)
        got = {
            c["code"]: Counter({k: v for k, v in c["stages"].items() if v})
            for c in summary["children"]
            if c["items"]
        }
        want = {k: Counter({s: n for s, n in v.items() if n}) for k, v in expected.items()}
        row["correct"] = got == want
        if not row["correct"]:
            for code in sorted(set(got) | set(want)):
                if got.get(code) != want.get(code):
                    print(
                        f"  ! {code}: desk {dict(got.get(code, {}))} != {dict(want.get(code, {}))}",
                        file=sys.stderr,
                    )
                    break
        row["db_mb"] = session.scalar(text("SELECT pg_database_size(current_database())")) / 2**20
        row.update(state_storage(session, codes.province_of(region.kab)))
        # Baseline: the same event rows inserted raw (no verification, no rules, no state).
        sample = [
            {c.name: getattr(r, c.key) for c in CustodyEvent.__table__.columns}
            for r in session.scalars(select(CustodyEvent).limit(min(total, 50_000)))
        ]
        for event in sample:
            event["event_id"] = uuid.uuid4()
            event["item_seq"] += 1_000_000
        began = time.perf_counter()
        with db.engine.begin() as conn:
            for start in range(0, len(sample), 5000):
                conn.execute(CustodyEvent.__table__.insert(), sample[start : start + 5000])
        row["raw_eps"] = len(sample) / (time.perf_counter() - began)
        session.rollback()
        session.remove()
        db.engine.dispose()
    row["rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    return row


def _config(url: str, workdir: Path, key_dir: Path, pool: int = 8) -> dict[str, Any]:
    return {
        "SQLALCHEMY_DATABASE_URI": url,
        "SECRET_KEY": "bench",
        "TEPAT_KEY_DIR": str(key_dir),
        "TEPAT_JOB_DIR": str(workdir / "jobs"),
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "TEPAT_NOW": START.isoformat(),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_size": pool, "max_overflow": 4},
    }


def desk_probe(url: str, user: str, area: str, port: int) -> None:
    """In this (new) process: serve the app and time the desk as ``user`` sees it; print
    one JSON line. The first request is the one a freshly started server answers."""
    began = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(_config(url, Path(tmp), Path(tmp) / "keys"))
        server = serve(app, port)
        started = time.perf_counter() - began
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=600) as desk:
                desk.post("/masuk", data={"username": user, "password": PASSWORD})
                page = f"/desk/wilayah/{area}"
                first = timed_get(desk, page)
                clear_caches()
                cold = timed_get(desk, page)
                cached = timed_get(desk, page)
                clear_caches()
                api = timed_get(desk, f"/api/v1/regions/{area}/summary")
                findings = timed_get(desk, f"/desk/temuan?wilayah={area}")
                way_back = timed_get(desk, f"/desk/kembali?wilayah={area}")
        finally:
            server.shutdown()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(
        json.dumps(
            {
                "startup_s": started,
                "first": first,
                "cold": cold,
                "cached": cached,
                "api_cold": api,
                "findings_page": findings,
                "way_back": way_back,
                "rss_gb": rss,
            }
        )
    )


def desk_in_new_process(url: str, user: str, area: str, port: int) -> dict[str, Any]:
    """Run :func:`desk_probe` in a new Python process (nothing cached, nothing imported)."""
    done = subprocess.run(
        [
            sys.executable,
            __file__,
            "--probe",
            url,
            "--user",
            user,
            "--area",
            area,
            "--port",
            str(port),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr[-2000:])
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def province(
    target: int, url: str, workdir: Path, port: int, issue_kab: int, deadline_s: float
) -> dict[str, Any]:
    """Jawa Barat with ``target`` TPS: plan import of every kabupaten/kota, labels issued
    for the first ``issue_kab`` of them (or until ``deadline_s``), then the province desk
    page in a new process. No scans are played."""
    row: dict[str, Any] = {"size": target}
    regions = jawa_barat(target, SHARED / "wilayah.csv", SHARED / "penduduk.csv")
    key_dir = workdir / "keys-province"
    app = create_app(_config(url, workdir, key_dir))
    with app.app_context():
        from flask_migrate import upgrade

        upgrade(revision="heads")
        session = db.session
        began = time.perf_counter()
        plan_service.load_regions(session, SHARED / "wilayah.csv", ["32"])
        plan_service.ensure_item_types(session)
        races = [("GUB", "32", "Pemilihan Gubernur dan Wakil Gubernur Jawa Barat")]
        races += [race for r in regions for race in r.races]
        plan_service.ensure_election(session, ELECTION, "Pilkada 2024", date(2024, 11, 27), races)
        row["tps"] = 0
        for region in regions:
            result = plan_service.import_tps(
                session,
                ELECTION,
                region.kab,
                "tps.csv",
                region.tps_csv,
                dispatch_days=region.dispatch,
            )
            row["tps"] += result.created
        row["plan_s"] = time.perf_counter() - began
        row["kabupaten"] = len(regions)
        keys.create_key(key_dir, date(2024, 11, 1))
        signer = keys.load_signer(key_dir)
        began = time.perf_counter()
        issued = []
        for region in regions[:issue_kab]:
            if time.perf_counter() - began > deadline_s:
                break
            issue_items(session, ELECTION, region.kab, None, signer, None)
            issued.append(region.kab)
            print(f"  issued {region.kab} at {time.perf_counter() - began:.0f} s", flush=True)
        row["issue_s"] = time.perf_counter() - began
        row["issued_kab"] = issued
        row["items"] = session.scalar(select(func.count(Item.serial)))
        auth.create_user(session, "b.desk.32", PASSWORD, "desk", "32", "Desk Jawa Barat")
        session.commit()
        row["db_mb"] = session.scalar(text("SELECT pg_database_size(current_database())")) / 2**20
        session.remove()
        db.engine.dispose()
    row["desk"] = desk_in_new_process(url, "b.desk.32", "32", port + 1)
    row["desk_kab"] = desk_in_new_process(
        url, "b.desk.32", issued[0] if issued else "32.01", port + 2
    )
    return row


def ms(measure: tuple[float, int, int]) -> str:
    seconds, status, size = measure
    text_ = f"{seconds * 1000:,.0f} ms"
    return text_ if status == 200 else f"{text_} ({status})"


def report(rows: list[dict[str, Any]], clients: int) -> None:
    """Print the table."""
    workers = rows[0].get("workers", 0) if rows else 0
    server = f"gunicorn, {workers} workers" if workers else "threaded WSGI server"
    print(
        f"\n{clients} concurrent clients over HTTP on loopback, {server}, "
        "PostgreSQL 15; batches of up to 500\n"
    )
    print(
        "| TPS | items | scans (accepted) | plan import | issue / sign | ingest scans/s by fifth "
        "| batch p95 / max | raw insert/s | desk before ingest "
        "| desk page: new process / cold / cached "
        "| API summary cold / cached | findings API (bytes) | findings page | DB | peak RSS "
        "| counts == recount |"
    )
    print("|" + "---|" * 17)
    for r in rows:
        fifth = " / ".join(f"{x:,.0f}" for x in r["fifths"])
        print(
            f"| {r['tps']:,} | {r['items']:,} | {r['scans']:,} ({r['accepted']:,}; "
            f"{r['played']} kec.) "
            f"| {r['plan_s']:.1f} s | {r['issue_s']:.1f} s / {r['sign_s']:.1f} s | {fifth} "
            f"| {r['batch_p95']:.2f} s / {r['batch_max']:.2f} s | {r['raw_eps']:,.0f} "
            f"| {r['desk_before']} | {ms(r['desk_first'])} / {ms(r['desk_cold'])} "
            f"/ {ms(r['desk_cached'])} "
            f"| {ms(r['api_cold'])} / {ms(r['api_cached'])} "
            f"| {ms(r['findings_api'])} ({r['findings_api'][2]:,}) | {ms(r['findings_page'])} "
            f"| {r['db_mb']:,.0f} MB | {r['rss_gb']:.2f} GB | {'yes' if r['correct'] else 'NO'} |"
        )
    print(
        "\n| TPS | ms per scan by fifth: packing an item | ms per scan by fifth: a kit moved "
        "| item_state updates (in place) | live / dead rows after the play | item_state "
        "| its sequential scans | server autovacuum |"
    )
    print("|" + "---|" * 8)
    for r in rows:
        cost = " | ".join(
            " / ".join(f"{x:.2f}" for x in r["costs"][kind]) for kind in ("kemas", "kit")
        )
        print(
            f"| {r['tps']:,} | {cost} | {r['updates']:,} ({r['hot']:.0%}) "
            f"| {r['live']:,} / {r['dead']:,} | {r['state_mb']:,.0f} MB | {r['seq_scans']:,} "
            f"| {r['autovacuum']} |"
        )


def report_reuse(
    size: int, once: dict[str, Any], again: list[dict[str, Any]], area: str = ""
) -> None:
    """The desk of a kept database, each run a new server process."""
    print(
        f"\n{size:,} TPS{' (' + area + ')' if area else ''}, kept database, desk in a new "
        "process each run (the first run also counts what older code did not keep)\n"
    )
    print(
        "| run | process start | desk page: first request / cold / cached | API summary cold "
        "| findings page | way back | peak RSS |"
    )
    print("|---|---|---|---|---|---|---|")
    for n, r in enumerate([once, *again]):
        print(
            f"| {'first (counts once)' if n == 0 else n} | {r['startup_s'] * 1000:,.0f} ms "
            f"| {ms(r['first'])} / {ms(r['cold'])} / {ms(r['cached'])} | {ms(r['api_cold'])} "
            f"| {ms(r['findings_page'])} | {ms(r['way_back'])} | {r['rss_gb']:.2f} GB |"
        )


def report_province(row: dict[str, Any]) -> None:
    """The province row: what was built and the desk pages in a new process."""
    print(
        f"\nJawa Barat (32): {row['tps']:,} TPS in {row['kabupaten']} kabupaten/kota, plan "
        f"import {row['plan_s']:.0f} s; labels issued for {len(row['issued_kab'])} of them "
        f"({row['items']:,} items, {row['issue_s']:.0f} s); DB {row['db_mb']:,.0f} MB; no scans\n"
    )
    print(
        "| page | first request (new process) / cold / cached | API summary cold | findings page |"
    )
    print("|---|---|---|---|")
    for name, r in (
        ("province 32", row["desk"]),
        (f"kabupaten {row['issued_kab'][:1]}", row["desk_kab"]),
    ):
        print(
            f"| {name} | {ms(r['first'])} / {ms(r['cold'])} / {ms(r['cached'])} "
            f"| {ms(r['api_cold'])} | {ms(r['findings_page'])} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="219,1000", help="comma-separated: 219, 1000, 8000")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/test")
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--port", type=int, default=8120)
    parser.add_argument(
        "--workers",
        type=int,
        default=0,
        help="play the scans through gunicorn with this many worker processes "
        "(0: the in-process threaded server)",
    )
    parser.add_argument(
        "--play-kecamatan",
        type=int,
        default=0,
        help="at 8,000 TPS play only this many kecamatan (plan, labels and desk stay full size)",
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="measure the desk on the databases a previous run left (tepat_scale_<size>), "
        "each in a new process, without building anything",
    )
    parser.add_argument("--province", type=int, default=0, help="Jawa Barat with this many TPS")
    parser.add_argument("--issue-kab", type=int, default=99, help="province: issue this many kab")
    parser.add_argument("--issue-seconds", type=float, default=1800, help="province: stop issuing")
    parser.add_argument("--probe", help=argparse.SUPPRESS)
    parser.add_argument("--user", default="b.desk", help=argparse.SUPPRESS)
    parser.add_argument("--area", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.probe:
        desk_probe(args.probe, args.user, args.area, args.port)
        return
    if args.province and args.reuse:  # the province a previous run left
        url = make_url(args.postgres.replace("postgresql://", "postgresql+psycopg://", 1))
        url = url.set(database="tepat_scale_province").render_as_string(hide_password=False)
        for user, area in (("b.desk.32", "32"), ("b.desk.32", "32.01")):
            runs = [desk_in_new_process(url, user, area, args.port) for _ in range(3)]
            report_reuse(args.province, runs[0], runs[1:], area)
        return
    if args.province:
        url = fresh_postgres(args.postgres, "tepat_scale_province")
        with tempfile.TemporaryDirectory() as tmp:
            row = province(
                args.province, url, Path(tmp), args.port, args.issue_kab, args.issue_seconds
            )
        report_province(row)
        return
    if args.reuse:
        for size in [int(s) for s in args.sizes.split(",")]:
            url = make_url(args.postgres.replace("postgresql://", "postgresql+psycopg://", 1))
            url = url.set(database=f"tepat_scale_{size}").render_as_string(hide_password=False)
            kab = demo.KABKOTA if size == 219 else "32.01"
            once = desk_in_new_process(url, "b.desk", kab, args.port)  # older data: counted once
            again = [desk_in_new_process(url, "b.desk", kab, args.port) for _ in range(3)]
            report_reuse(size, once, again)
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in [int(s) for s in args.sizes.split(",")]:
            url = fresh_postgres(args.postgres, f"tepat_scale_{size}")
            rows.append(
                run(
                    size,
                    url,
                    Path(tmp),
                    args.port,
                    args.clients,
                    args.play_kecamatan,
                    args.workers,
                )
            )
            report(rows[-1:], args.clients)
            sys.stdout.flush()
    report(rows, args.clients)
    if not all(r["correct"] for r in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
