"""Sign in, sign out and the language switch."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from flask_login import login_required, login_user, logout_user

from app.auth import service
from app.errors import Unauthorized
from app.extensions import db, limiter

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str:
    """Only follow local redirects after login."""
    if (
        target
        and not urlsplit(target).netloc
        and target.startswith("/")
        and not target.startswith("//")
    ):
        return target
    return url_for("plan.index")


@bp.route("/masuk", methods=["GET", "POST"])
@limiter.limit(
    lambda: str(__import__("flask").current_app.config["LOGIN_RATE_LIMIT"]), methods=["POST"]
)
def login() -> Any:
    """Show the sign-in form; sign the user in."""
    error = None
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        try:
            user = service.authenticate(db.session, username, request.form.get("password", ""))
        except Unauthorized:
            error = _("Nama pengguna atau kata sandi salah.")
        else:
            session.clear()
            login_user(user)
            return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", error=error), (401 if error else 200)


@bp.post("/keluar")
@login_required
def logout() -> Any:
    """Sign out."""
    logout_user()
    session.clear()
    flash(_("Anda telah keluar."))
    return redirect(url_for("auth.login"))


@bp.get("/bahasa/<lang>")
def set_language(lang: str) -> Any:
    """Switch the interface language (Indonesian or English)."""
    if lang in ("id", "en"):
        session["lang"] = lang
    return redirect(_safe_next(request.referrer and urlsplit(request.referrer).path))
