"""Account use cases: users, passwords, scopes and scanner device tokens."""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from functools import lru_cache
from pathlib import Path

from flask_babel import gettext as _
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from app.auth import sessions
from app.auth.models import DeviceToken, Role, User
from app.errors import Forbidden, NotFound, Unauthorized, ValidationFailed
from app.plan import codes
from app.plan.models import Region, Tps
from app.timeutil import utcnow

TOKEN_PREFIX = "tpt_"
#: NIST SP 800-63B: length, not composition rules; long passphrases allowed.
MIN_PASSWORD = 10
MAX_PASSWORD = 128
USERNAME = re.compile(r"^[A-Za-z0-9._@-]{2,60}$")
MAX_FULL_NAME = 120
MAX_DEVICE_NAME = 80


def hash_token(token: str) -> str:
    """Return the stored form of a device token (tokens are random, so SHA-256 suffices)."""
    return hashlib.sha256(token.encode()).hexdigest()


#: Roles that may watch a whole province (the KPU Provinsi desk, the provincial Bawaslu).
PROVINCE_ROLES = frozenset({"desk", "pengawas"})
#: Roles that may hold the whole country (``codes.NATIONAL``): the KPU RI desk, Bawaslu RI,
#: and the admin who creates their accounts and the provinces'.
NATIONAL_ROLES = frozenset({"desk", "pengawas", "admin"})


def validate_scope(scope: str, role: str | None = None) -> str:
    """Return ``scope`` if it is a kabupaten/kota, kecamatan, desa code or TPS id (a province
    too for the roles that watch one, the whole country for the national roles)."""
    scope = scope.strip()
    if codes.TPS_ID.match(scope):
        return scope
    if scope == codes.NATIONAL:
        if role not in NATIONAL_ROLES:
            raise ValidationFailed(_("Cakupan nasional hanya untuk desk, pengawas dan admin."))
        return scope
    try:
        level = codes.region_level(scope)
    except ValueError as exc:
        raise ValidationFailed(_("Cakupan wilayah tidak sah: %(scope)s", scope=scope)) from exc
    if level.value == "provinsi" and role not in PROVINCE_ROLES:
        raise ValidationFailed(_("Cakupan paling luas adalah kabupaten/kota."))
    return scope


def scope_inside(session: Session, scope: str, outer: str, role: str | None = None) -> str:
    """Return ``scope`` if it is a known region or TPS lying inside ``outer`` (an admin's scope)."""
    scope = validate_scope(scope, role)
    if not codes.within(scope, outer):
        raise ValidationFailed(
            _(
                "Cakupan %(scope)s berada di luar cakupan Anda (%(outer)s).",
                scope=scope,
                outer=outer,
            )
        )
    if scope == codes.NATIONAL:
        return scope
    known = session.get(Tps, scope) if codes.TPS_ID.match(scope) else session.get(Region, scope)
    if known is None:
        raise ValidationFailed(_("Wilayah atau TPS %(scope)s tidak dikenal.", scope=scope))
    return scope


def _role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError as exc:
        raise ValidationFailed(
            _(
                "Peran tidak dikenal: %(role)s (pilih %(roles)s)",
                role=role,
                roles=", ".join(r.value for r in Role),
            )
        ) from exc


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """The blocklist shipped in app/data/common-passwords.txt (lower case)."""
    text = (Path(__file__).resolve().parent.parent / "data" / "common-passwords.txt").read_text(
        encoding="utf-8"
    )
    return frozenset(
        line.strip() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


def _check_password(password: str, username: str = "") -> None:
    """NIST SP 800-63B: at least MIN_PASSWORD characters (any kind, spaces too), at most
    MAX_PASSWORD, not a common password, not one repeated character, not the user name."""
    if len(password) < MIN_PASSWORD:
        raise ValidationFailed(_("Kata sandi minimal %(n)d karakter.", n=MIN_PASSWORD))
    if len(password) > MAX_PASSWORD:
        raise ValidationFailed(_("Kata sandi paling panjang %(n)d karakter.", n=MAX_PASSWORD))
    folded = password.strip().lower()
    if (
        folded in common_passwords()
        or len(set(folded)) <= 2
        or (username and username.strip().lower() in folded)
    ):
        raise ValidationFailed(
            _("Kata sandi ini terlalu umum atau mudah ditebak; pilih kalimat sandi lain.")
        )


def _check_full_name(full_name: str) -> None:
    if len(full_name.strip()) > MAX_FULL_NAME:
        raise ValidationFailed(_("Nama lengkap paling panjang %(n)d karakter.", n=MAX_FULL_NAME))


def create_user(
    session: Session,
    username: str,
    password: str,
    role: str,
    scope: str,
    full_name: str = "",
    *,
    inside: str | None = None,
) -> User:
    """Create a user with a hashed password, a role and a region scope (within ``inside``)."""
    username = username.strip()
    if not USERNAME.match(username):
        raise ValidationFailed(
            _("Nama pengguna 2-60 karakter: huruf, angka, titik, @, garis bawah atau tanda hubung.")
        )
    _check_full_name(full_name)
    _check_password(password, username)
    role_value = _role(role)
    scope = (
        validate_scope(scope, role_value.value)
        if inside is None
        else scope_inside(session, scope, inside, role_value.value)
    )
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise ValidationFailed(_("Nama pengguna %(name)s sudah dipakai.", name=username))
    user = User(username=username, role=role_value, scope_code=scope, full_name=full_name.strip())
    user.set_password(password)
    session.add(user)
    session.commit()
    return user


def users_in_scope(session: Session, scope: str) -> list[User]:
    """Return the users whose scope lies inside ``scope``, by username."""
    if scope == codes.NATIONAL:
        return list(session.scalars(select(User).order_by(User.username)))
    digits = scope.replace(".", "")
    tps_inside = User.scope_code.startswith(digits) & (func.length(User.scope_code) == 13)
    query = select(User).where(
        or_(User.scope_code == scope, User.scope_code.startswith(scope + "."), tps_inside)
    )
    return list(session.scalars(query.order_by(User.username)))


def user_in_scope(session: Session, user_id: uuid.UUID, scope: str) -> User:
    """Return a user whose scope lies inside ``scope``; anyone else is NotFound."""
    user = session.get(User, user_id)
    if user is None or not codes.within(user.scope_code, scope):
        raise NotFound(_("Pengguna tidak ditemukan."))
    return user


def update_user(
    session: Session, user: User, *, role: str, scope: str, full_name: str, by: User
) -> User:
    """Change a user's role, scope and name as admin ``by``: the scope stays inside theirs."""
    _check_full_name(full_name)
    new_role = _role(role)
    new_scope = scope_inside(session, scope, by.scope_code, new_role.value)
    if user.id == by.id and (new_role, new_scope) != (user.role, user.scope_code):
        # An admin who narrows their own rights may lock the whole kabupaten out.
        raise ValidationFailed(_("Anda tidak dapat mengubah peran atau cakupan Anda sendiri."))
    user.role, user.scope_code, user.full_name = new_role, new_scope, full_name.strip()
    session.commit()
    return user


def set_active(session: Session, user: User, active: bool, *, by: User | None = None) -> User:
    """Deactivate (no sign-in, no token use) or reactivate a user; nobody deactivates themself."""
    if by is not None and user.id == by.id and not active:
        raise ValidationFailed(_("Anda tidak dapat menonaktifkan akun Anda sendiri."))
    user.active = active
    if not active:
        sessions.end_all(session, user)  # open browser sessions end now, not at expiry
    session.commit()
    return user


def tokens_of(session: Session, user: User) -> list[DeviceToken]:
    """Return a user's device tokens, newest first (hashes only, never the secrets)."""
    query = select(DeviceToken).where(DeviceToken.user_id == user.id)
    return list(session.scalars(query.order_by(DeviceToken.created_at.desc())))


def set_password(session: Session, user: User, password: str) -> None:
    """Replace a user's password and end every session opened with the old one."""
    _check_password(password, user.username)
    user.set_password(password)
    sessions.end_all(session, user)
    session.commit()


def find_user(session: Session, username: str) -> User:
    """Return a user by name or raise NotFound."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(_("Pengguna %(name)s tidak ditemukan.", name=username))
    return user


def authenticate(session: Session, username: str, password: str) -> User:
    """Return the active user with these credentials or raise Unauthorized."""
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        # Hash anyway, so an unknown name takes as long as a wrong password.
        check_password_hash(_dummy_hash(), password)
        raise Unauthorized(_("Nama pengguna atau kata sandi salah."))
    if not user.check_password(password) or not user.active:
        raise Unauthorized(_("Nama pengguna atau kata sandi salah."))
    return user


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """A hash made the same way as real ones, to compare unknown users' passwords with."""
    return generate_password_hash(secrets.token_urlsafe(16))


def create_token(session: Session, user: User, name: str) -> tuple[str, DeviceToken]:
    """Create a device token for a user; the plain token is returned once and never stored."""
    if not name.strip():
        raise ValidationFailed(_("Nama perangkat wajib diisi."))
    if len(name.strip()) > MAX_DEVICE_NAME:
        raise ValidationFailed(
            _("Nama perangkat paling panjang %(n)d karakter.", n=MAX_DEVICE_NAME)
        )
    plain = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = DeviceToken(
        user_id=user.id, name=name.strip(), token_hash=hash_token(plain), prefix=plain[:12]
    )
    session.add(token)
    session.commit()
    return plain, token


def revoke_token(session: Session, token_id: uuid.UUID, owner: User | None = None) -> DeviceToken:
    """Revoke a device token for good (only one of ``owner``'s when given)."""
    token = session.get(DeviceToken, token_id)
    if token is None or (owner is not None and token.user_id != owner.id):
        raise NotFound(_("Token perangkat tidak ditemukan."))
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.commit()
    return token


def user_for_token(session: Session, plain: str) -> tuple[User, DeviceToken]:
    """Return the user and token behind a bearer token, or raise Unauthorized/Forbidden."""
    token = session.scalar(select(DeviceToken).where(DeviceToken.token_hash == hash_token(plain)))
    if token is None:
        raise Unauthorized(_("Token perangkat tidak dikenal."))
    if token.revoked_at is not None:
        raise Unauthorized(_("Token perangkat sudah dicabut."))
    if not token.user.active:
        raise Forbidden(_("Akun pemilik token dinonaktifkan."))
    token.last_used_at = utcnow()
    return token.user, token
