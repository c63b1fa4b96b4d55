"""``flask ledger`` commands: integrate the Merkle log, verify it; ``flask counts recount``."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import urlsplit

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from app.custody import ledger
from app.extensions import db

ledger_cli = AppGroup("ledger", help="Log Merkle hak asuh / the custody Merkle log.")
counts_cli = AppGroup("counts", help="Penghitung desk / the desk's counters.")


def origin() -> str:
    """The log's name in its checkpoints: the label host plus /ledger."""
    host = urlsplit(current_app.config["TEPAT_LABEL_BASE_URL"]).netloc or "tepat.local"
    return f"{host}/ledger"


@ledger_cli.command("integrate")
@click.option("--every", type=float, default=0.0, help="Keep running, integrating every N seconds.")
def integrate(every: float) -> None:
    """Append new events to the Merkle log and sign a checkpoint (off the request path)."""
    while True:
        checkpoint = ledger.integrate(db.session, current_app.config["TEPAT_KEY_DIR"], origin())
        if checkpoint is None:
            if every <= 0:
                click.echo("Tidak ada event baru.")
        else:
            click.echo(f"Checkpoint {checkpoint.tree_size} ditandatangani: {checkpoint.root.hex()}")
        if every <= 0:
            return
        time.sleep(every)


@ledger_cli.command("verify")
@click.option(
    "--pinned",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A checkpoint note kept outside the database (from /api/v1/ledger/checkpoint).",
)
def verify(pinned: Path | None) -> None:
    """Recompute chains, leaves, roots, item state, tallies and findings; exit 1 naming
    the first entry that does not match."""
    report = ledger.verify(
        db.session,
        current_app.config["TEPAT_KEY_DIR"],
        pinned.read_text(encoding="utf-8") if pinned else None,
    )
    click.echo(
        f"{report.events} event, {report.items} barang, {report.leaves} daun log, "
        f"{report.checkpoints} checkpoint diperiksa."
    )
    if report.ok:
        click.echo(
            "OK: rantai hash, tanda tangan perangkat, log Merkle, checkpoint, status barang, "
            "tally TPS, temuan dan baris rencana cocok dengan log."
        )
        return
    for problem in report.problems:
        click.echo(f"GAGAL: {problem}", err=True)
    raise SystemExit(1)


@ledger_cli.command("app-role")
@click.argument("role")
def app_role(role: str) -> None:
    """Print the PostgreSQL grants for the app's role: no UPDATE/DELETE/TRUNCATE on the log."""
    for statement in ledger.app_role_sql(role):
        click.echo(statement + ";")


@counts_cli.command("recount")
@click.argument("kabupaten", nargs=-1)
@click.option("--all", "everything", is_flag=True, help="Recount even kabupaten counted now.")
def recount(kabupaten: tuple[str, ...], everything: bool) -> None:
    """Recount the desk's counters of kabupaten counted by older code (after an upgrade,
    before serving: else the first desk request of each pays it, ~1 min at 8,000 TPS)."""
    from sqlalchemy import select, text

    from app.custody import counts, quantities
    from app.items.models import Item
    from app.plan.models import Election

    session = db.session
    wanted = list(kabupaten) or sorted(set(session.scalars(select(Item.kabkota_code).distinct())))
    for kab in wanted:
        began = time.perf_counter()
        if everything or not counts.is_counted(session, kab):
            counts.rebuild(session, kab)
        for election in session.scalars(select(Election)):
            quantities.rebuild(session, election, kab)
        session.commit()
        click.echo(f"{kab}: {time.perf_counter() - began:.1f} s")
    if wanted and session.get_bind().dialect.name == "postgresql":
        # Fresh statistics: a table rewritten this much is otherwise planned as it was
        # (a sequential scan of every counter for the desk's key reads until autovacuum).
        session.execute(text("ANALYZE region_count"))
        session.commit()


def init_app(app: Flask) -> None:
    """Register the commands."""
    app.cli.add_command(ledger_cli)
    app.cli.add_command(counts_cli)
