"""``flask keys`` (label-signing keys) commands."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from app.items import keys
from app.timeutil import utcnow

keys_cli = AppGroup("keys", help="Kunci tanda tangan label / label-signing keys.")


def _key_dir() -> Path:
    return Path(current_app.config["TEPAT_KEY_DIR"])


@keys_cli.command("init")
@click.option("--if-missing", is_flag=True, help="Do nothing when a key already exists.")
def init_keys(if_missing: bool) -> None:
    """Create the first signing key (outside the database and the repository)."""
    folder = _key_dir()
    if (folder / keys.KEYRING_FILE).exists():
        if if_missing:
            click.echo(f"Kunci sudah ada di {folder}.")
            return
        raise click.ClickException(f"Kunci sudah ada di {folder}; pakai 'flask keys rotate'.")
    key_id = keys.create_key(folder, utcnow().date())
    click.echo(f"Kunci {key_id} dibuat di {folder}.")


@keys_cli.command("rotate")
@click.option("--retire-old", is_flag=True, help="Retire every earlier key at once.")
def rotate_keys(retire_old: bool) -> None:
    """Add a new active key; old labels keep verifying."""
    folder = _key_dir()
    old = keys.load_keyring(folder).active_key_ids if (folder / keys.KEYRING_FILE).exists() else ()
    key_id = keys.create_key(folder, utcnow().date())
    if retire_old:
        for previous in old:
            keys.retire_key(folder, previous)
    click.echo(f"Kunci baru {key_id} aktif." + (f" Dipensiunkan: {', '.join(old)}." if retire_old and old else ""))


@keys_cli.command("retire")
@click.argument("key_id")
def retire(key_id: str) -> None:
    """Retire a key: it still verifies, it no longer signs."""
    try:
        keys.retire_key(_key_dir(), key_id)
    except Exception as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"Kunci {key_id} dipensiunkan.")


@keys_cli.command("export")
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path))
def export(output: Path | None) -> None:
    """Export the public keys (JSON) for scanners to verify labels offline."""
    try:
        text = keys.load_keyring(_key_dir()).to_json()
    except keys.KeyStoreError as exc:
        raise click.ClickException(str(exc)) from exc
    if output is None:
        sys.stdout.write(text + "\n")
    else:
        output.write_text(text)
        click.echo(f"Kunci publik ditulis ke {output}.")


def init_app(app: Flask) -> None:
    """Register the commands."""
    app.cli.add_command(keys_cli)
