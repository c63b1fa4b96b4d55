"""``flask ledger`` commands: integrate the Merkle log, verify it."""

from __future__ import annotations

import time
from urllib.parse import urlsplit

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from app.custody import ledger
from app.extensions import db

ledger_cli = AppGroup("ledger", help="Log Merkle hak asuh / the custody Merkle log.")


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
def verify() -> None:
    """Recompute chains, leaves and roots; exit 1 naming the first entry that does not match."""
    report = ledger.verify(db.session, current_app.config["TEPAT_KEY_DIR"])
    click.echo(
        f"{report.events} event, {report.items} barang, {report.leaves} daun log, "
        f"{report.checkpoints} checkpoint diperiksa."
    )
    if report.ok:
        click.echo("OK: rantai hash, log Merkle dan checkpoint cocok.")
        return
    for problem in report.problems:
        click.echo(f"GAGAL: {problem}", err=True)
    raise SystemExit(1)


def init_app(app: Flask) -> None:
    """Register the commands."""
    app.cli.add_command(ledger_cli)
