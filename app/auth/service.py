"""Account use cases: users, passwords, scopes and scanner device tokens."""

from __future__ import annotations

import hashlib
import secrets
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.auth.models import DeviceToken, Role, User
from app.errors import Forbidden, NotFound, Unauthorized, ValidationFailed
from app.plan import codes
from app.timeutil import utcnow

TOKEN_PREFIX = "tpt_"
MIN_PASSWORD = 10


def hash_token(token: str) -> str:
    """Return the stored form of a device token (tokens are random, so SHA-256 suffices)."""
    return hashlib.sha256(token.encode()).hexdigest()


def validate_scope(scope: str) -> str:
    """Return ``scope`` if it is a kabupaten/kota, kecamatan, desa code or TPS id."""
    scope = scope.strip()
    if codes.TPS_ID.match(scope):
        return scope
    try:
        level = codes.region_level(scope)
    except ValueError as exc:
        raise ValidationFailed(f"Cakupan wilayah tidak sah: {scope!r}") from exc
    if level.value == "provinsi":
        raise ValidationFailed("Cakupan paling luas adalah kabupaten/kota.")
    return scope


def create_user(session: Session, username: str, password: str, role: str, scope: str,
                full_name: str = "") -> User:
    """Create a user with a hashed password, a role and a region scope."""
    if len(password) < MIN_PASSWORD:
        raise ValidationFailed(f"Kata sandi minimal {MIN_PASSWORD} karakter.")
    try:
        role_value = Role(role)
    except ValueError as exc:
        raise ValidationFailed(
            f"Peran tidak dikenal: {role!r} (pilih {', '.join(r.value for r in Role)})"
        ) from exc
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise ValidationFailed(f"Nama pengguna {username!r} sudah dipakai.")
    user = User(username=username, role=role_value, scope_code=validate_scope(scope),
                full_name=full_name)
    user.set_password(password)
    session.add(user)
    session.commit()
    return user


def set_password(session: Session, user: User, password: str) -> None:
    """Replace a user's password."""
    if len(password) < MIN_PASSWORD:
        raise ValidationFailed(f"Kata sandi minimal {MIN_PASSWORD} karakter.")
    user.set_password(password)
    session.commit()


def find_user(session: Session, username: str) -> User:
    """Return a user by name or raise NotFound."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"Pengguna {username!r} tidak ditemukan.")
    return user


def authenticate(session: Session, username: str, password: str) -> User:
    """Return the active user with these credentials or raise Unauthorized."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None or not user.active or not user.check_password(password):
        raise Unauthorized("Nama pengguna atau kata sandi salah.")
    return user


def create_token(session: Session, user: User, name: str) -> tuple[str, DeviceToken]:
    """Create a device token for a user; the plain token is returned once and never stored."""
    if not name.strip():
        raise ValidationFailed("Nama perangkat wajib diisi.")
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = DeviceToken(user_id=user.id, name=name.strip(), token_hash=hash_token(plain),
                        prefix=plain[:12])
    session.add(token)
    session.commit()
    return plain, token


def revoke_token(session: Session, token_id: uuid.UUID) -> DeviceToken:
    """Revoke a device token for good."""
    token = session.get(DeviceToken, token_id)
    if token is None:
        raise NotFound("Token perangkat tidak ditemukan.")
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.commit()
    return token


def user_for_token(session: Session, plain: str) -> tuple[User, DeviceToken]:
    """Return the user and token behind a bearer token, or raise Unauthorized/Forbidden."""
    token = session.scalar(select(DeviceToken).where(DeviceToken.token_hash == hash_token(plain)))
    if token is None:
        raise Unauthorized("Token perangkat tidak dikenal.")
    if token.revoked_at is not None:
        raise Unauthorized("Token perangkat sudah dicabut.")
    if not token.user.active:
        raise Forbidden("Akun pemilik token dinonaktifkan.")
    token.last_used_at = utcnow()
    return token.user, token
