"""``flask users`` and ``flask tokens`` commands."""

from __future__ import annotations

import uuid

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select

from app.auth import service
from app.auth.models import DeviceToken, Role
from app.errors import TepatError
from app.extensions import db

users_cli = AppGroup("users", help="Kelola pengguna / manage users.")
tokens_cli = AppGroup("tokens", help="Kelola token perangkat pemindai / scanner device tokens.")


@users_cli.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option(
    "--scope",
    required=True,
    help="Region code (62.10, 62.10.05 ...), TPS id, or ID: the whole country (desk, "
    "pengawas, admin).",
)
@click.option("--name", "full_name", default="")
@click.password_option(help="Prompted when not given.")
def create_user(username: str, role: str, scope: str, full_name: str, password: str) -> None:
    """Create a user with a role and a region scope."""
    try:
        user = service.create_user(db.session, username, password, role, scope, full_name)
    except TepatError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"Pengguna {user.username} ({user.role.value}, {user.scope_code}) dibuat.")


@users_cli.command("password")
@click.argument("username")
@click.password_option()
def set_password(username: str, password: str) -> None:
    """Set a user's password."""
    try:
        service.set_password(db.session, service.find_user(db.session, username), password)
    except TepatError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo("Kata sandi diperbarui.")


@tokens_cli.command("create")
@click.argument("username")
@click.option("--name", required=True, help="Device name, e.g. 'HP kurir PPK Tewah'.")
def create_token(username: str, name: str) -> None:
    """Create a device token and show it once."""
    try:
        plain, token = service.create_token(
            db.session, service.find_user(db.session, username), name
        )
    except TepatError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(
        f"Token {token.id} untuk {username} ({name}). Simpan sekarang; tidak ditampilkan lagi:"
    )
    click.echo(plain)


@tokens_cli.command("list")
def list_tokens() -> None:
    """List device tokens (never the secrets)."""
    for token in db.session.scalars(select(DeviceToken).order_by(DeviceToken.created_at)):
        state = "dicabut" if token.revoked_at else "aktif"
        click.echo(f"{token.id}  {token.prefix}…  {token.user.username:<20} {token.name}  {state}")


@tokens_cli.command("revoke")
@click.argument("token_id")
def revoke_token(token_id: str) -> None:
    """Revoke a device token."""
    try:
        service.revoke_token(db.session, uuid.UUID(token_id))
    except (ValueError, TepatError) as exc:
        raise click.ClickException(getattr(exc, "message", "ID token tidak sah.")) from exc
    click.echo("Token dicabut.")


def init_app(app: Flask) -> None:
    """Register the commands."""
    app.cli.add_command(users_cli)
    app.cli.add_command(tokens_cli)
