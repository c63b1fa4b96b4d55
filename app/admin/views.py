"""Admin pages: users inside the admin's scope, their role, scope, status and device tokens."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _

from app.auth import service
from app.auth.access import require, signed_in_user
from app.auth.models import Role, User
from app.errors import TepatError, ValidationFailed
from app.extensions import db
from app.plan import codes
from app.plan import service as plan_service
from app.plan.service import region_names

bp = Blueprint("admin", __name__, url_prefix="/admin", template_folder="templates")


def role_labels() -> dict[str, str]:
    """Role value -> its name in the reader's language."""
    return {
        Role.ADMIN.value: _("Admin"),
        Role.GUDANG.value: _("Petugas gudang"),
        Role.KURIR.value: _("Kurir / panitia"),
        Role.DESK.value: _("Desk Pilkada"),
        Role.PENGAWAS.value: _("Pengawas"),
    }


def _target(user_id: uuid.UUID) -> User:
    return service.user_in_scope(db.session, user_id, signed_in_user().scope_code)


def _form(name: str) -> str:
    return request.form.get(name, "").strip()


def _render(template: str, status: int = 200, **context: Any) -> Any:
    """Render an admin page; every admin page may carry a secret, so none is cached."""
    return (
        render_template(template, roles=role_labels(), **context),
        status,
        {"Cache-Control": "no-store"},
    )


def _regions() -> dict[str, str]:
    """Regions the admin may give as a scope (for the scope field's suggestions)."""
    return region_names(db.session, signed_in_user().scope_code)


def _user_page(
    user: User, *, error: str | None = None, new_token: str | None = None, status: int = 200
) -> Any:
    return _render(
        "admin/user.html",
        status,
        user=user,
        error=error,
        new_token=new_token,
        tokens=service.tokens_of(db.session, user),
        is_me=user.id == signed_in_user().id,
        regions=_regions(),
    )


@bp.get("/")
@require("admin")
def index() -> Any:
    """The admin home is the user list."""
    return redirect(url_for("admin.users"))


@bp.get("/pengguna")
@require("admin")
def users() -> Any:
    """Users whose scope lies inside the admin's scope."""
    return _render(
        "admin/users.html", users=service.users_in_scope(db.session, signed_in_user().scope_code)
    )


@bp.route("/pengguna/baru", methods=["GET", "POST"])
@require("admin")
def new_user() -> Any:
    """Create a user with a role and a scope inside the admin's own."""
    error = None
    if request.method == "POST":
        try:
            user = service.create_user(
                db.session,
                _form("username"),
                request.form.get("password", ""),
                _form("role"),
                _form("scope"),
                _form("full_name"),
                inside=signed_in_user().scope_code,
            )
        except ValidationFailed as exc:
            error = exc.message
        else:
            flash(_("Pengguna %(name)s dibuat.", name=user.username))
            return redirect(url_for("admin.user", user_id=user.id))
    return _render(
        "admin/new_user.html",
        422 if error else 200,
        error=error,
        form=request.form,
        regions=_regions(),
    )


@bp.get("/pengguna/<uuid:user_id>")
@require("admin")
def user(user_id: uuid.UUID) -> Any:
    """One user: role, scope, status and device tokens."""
    return _user_page(_target(user_id))


@bp.post("/pengguna/<uuid:user_id>")
@require("admin")
def update_user(user_id: uuid.UUID) -> Any:
    """Change a user's role, scope and full name."""
    target = _target(user_id)
    try:
        service.update_user(
            db.session,
            target,
            role=_form("role"),
            scope=_form("scope"),
            full_name=_form("full_name"),
            by=signed_in_user(),
        )
    except ValidationFailed as exc:
        return _user_page(target, error=exc.message, status=422)
    flash(_("Perubahan disimpan."))
    return redirect(url_for("admin.user", user_id=target.id))


@bp.post("/pengguna/<uuid:user_id>/status")
@require("admin")
def set_active(user_id: uuid.UUID) -> Any:
    """Deactivate or reactivate a user."""
    target = _target(user_id)
    active = request.form.get("active") == "1"
    try:
        service.set_active(db.session, target, active, by=signed_in_user())
    except ValidationFailed as exc:
        return _user_page(target, error=exc.message, status=422)
    flash(_("Akun diaktifkan kembali.") if active else _("Akun dinonaktifkan."))
    return redirect(url_for("admin.user", user_id=target.id))


@bp.post("/pengguna/<uuid:user_id>/token")
@require("admin")
def create_token(user_id: uuid.UUID) -> Any:
    """Create a device token and show it on this response only (it is never stored)."""
    target = _target(user_id)
    try:
        plain, _token = service.create_token(db.session, target, _form("name"))
    except ValidationFailed as exc:
        return _user_page(target, error=exc.message, status=422)
    return _user_page(target, new_token=plain)


@bp.post("/pengguna/<uuid:user_id>/token/<uuid:token_id>/cabut")
@require("admin")
def revoke_token(user_id: uuid.UUID, token_id: uuid.UUID) -> Any:
    """Revoke one of the user's device tokens."""
    target = _target(user_id)
    token = service.revoke_token(db.session, token_id, owner=target)
    flash(_("Token %(name)s dicabut.", name=token.name))
    return redirect(url_for("admin.user", user_id=target.id))


# --- elections and races (any region) ---------------------------------------------------


def _elections_page(*, error: str | None = None, status: int = 200) -> Any:
    return _render(
        "admin/elections.html",
        status,
        elections=plan_service.list_elections(db.session),
        error=error,
        form=request.form,
        kinds=plan_service.RACE_TITLE,
    )


@bp.get("/pemilihan")
@require("admin")
def elections() -> Any:
    """Elections and their races: any region, not only the demo."""
    return _elections_page()


@bp.post("/pemilihan")
@require("admin")
def create_election() -> Any:
    """Create an election (code, name, election day)."""
    try:
        day = date.fromisoformat(_form("day"))
    except ValueError:
        return _elections_page(error=_("Hari H harus tanggal (TTTT-BB-HH)."), status=422)
    try:
        election = plan_service.create_election(db.session, _form("code"), _form("name"), day)
    except TepatError as exc:
        return _elections_page(error=exc.message, status=422)
    flash(_("Pemilihan %(code)s dibuat.", code=election.code))
    return redirect(url_for("admin.elections"))


@bp.post("/pemilihan/<code>/pemilihan-daerah")
@require("admin")
def add_race(code: str) -> Any:
    """Add a race for a region inside the admin's scope."""
    try:
        plan_service.get_election(db.session, code)
    except TepatError as exc:
        return _elections_page(error=exc.message, status=exc.status)
    region = _form("region")
    if not region or not codes.within(region, signed_in_user().scope_code):
        return _elections_page(
            error=_("Wilayah %(code)s di luar cakupan Anda.", code=region or "-"), status=422
        )
    try:
        race = plan_service.add_race(db.session, code, _form("kind"), region, _form("name") or None)
    except TepatError as exc:
        return _elections_page(error=exc.message, status=exc.status)
    flash(_("%(name)s ditambahkan.", name=race.name))
    return redirect(url_for("admin.elections"))
