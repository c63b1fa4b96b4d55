"""Load the Gunung Mas demo into the database through the same services users call."""

from __future__ import annotations

import io
import secrets
from collections.abc import Iterator

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth import service as auth
from app.auth.models import User
from app.plan import demo, service
from app.plan.needs import totals

#: username, role, scope, full name
DEMO_ACCOUNTS = (
    ("admin", "admin", "62.10", "Admin KPU Gunung Mas"),
    ("gudang", "gudang", "62.10", "Petugas Gudang KPU Gunung Mas"),
    ("kurir.tewah", "kurir", "62.10.03", "Kurir PPK Tewah"),
    ("kurir.kurun", "kurir", "62.10.02", "Kurir PPK Kurun"),
    ("desk", "desk", "62.10", "Desk Pilkada Gunung Mas"),
    ("bawaslu", "pengawas", "62.10", "Pengawas Bawaslu Gunung Mas"),
)


def load(session: Session) -> Iterator[str]:
    """Load regions, election, TPS plan and demo accounts; yield lines for the terminal."""
    service.load_regions(session, io.StringIO(demo.data_text("gunung-mas-wilayah.csv")))
    service.ensure_item_types(session)
    service.ensure_election(
        session, demo.ELECTION_CODE, demo.ELECTION_NAME, demo.ELECTION_DAY, demo.RACES
    )
    dispatch = {k.code: k.dispatch_day for k in demo.kecamatan_rows()}
    result = service.import_tps(
        session,
        demo.ELECTION_CODE,
        demo.KABKOTA,
        "gunung-mas-2024-tps.csv",
        demo.tps_csv(),
        dispatch_days=dispatch,
    )
    yield (
        f"Gunung Mas: {result.created + result.updated + result.unchanged} TPS "
        f"({result.created} baru), {result.plan_lines} baris rencana."
    )
    sums = totals(service.plan_lines(session, demo.ELECTION_CODE, demo.KABKOTA))
    yield (
        f"Bilik suara {sums.get(('BILIK', ''), 0):,}; surat suara gubernur "
        f"{sums.get(('SURAT', 'GUB'), 0) - 2000:,} + cadangan 2.000; bupati "
        f"{sums.get(('SURAT', 'BUP'), 0):,} termasuk cadangan 2.000.".replace(",", ".")
    )
    yield "Pembagian TPS per desa dan DPT per TPS adalah sintetis (data 2024 tidak publik)."
    yield "Akun demo (kata sandi baru setiap kali dimuat):"
    for username, role, scope, full_name in DEMO_ACCOUNTS:
        password = secrets.token_urlsafe(9)
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            auth.create_user(session, username, password, role, scope, full_name)
        else:
            auth.set_password(session, user, password)
        yield f"  {username:<12} {password:<14} {role:<9} {scope}"
