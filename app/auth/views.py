"""Sign in, sign out and the language switch."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_limiter.util import get_remote_address
from flask_login import login_required, login_user, logout_user

from app.auth import service, sessions
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


def _failed(response: Response) -> bool:
    """Only failed sign-ins count toward the limits (a success answers with a redirect)."""
    return response.status_code != 302


def _account_key() -> str:
    """The account a sign-in tries, whoever tries it (case-folded, bounded)."""
    return "akun:" + request.form.get("username", "").strip().lower()[:60]


# Per address and per account, in the limiter's storage: Redis when TEPAT_REDIS_URL is set,
# so every worker counts together (memory otherwise, as in ``make demo``).
@bp.route("/masuk", methods=["GET", "POST"])
@limiter.limit(
    lambda: str(current_app.config["LOGIN_RATE_LIMIT"]),
    methods=["POST"],
    key_func=get_remote_address,
    deduct_when=_failed,
)
@limiter.limit(
    lambda: str(current_app.config["LOGIN_ACCOUNT_RATE_LIMIT"]),
    methods=["POST"],
    key_func=_account_key,
    deduct_when=_failed,
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
            session[sessions.SESSION_KEY] = sessions.start(db.session, user)
            return redirect(_safe_next(request.args.get("next")))
    return render_template("auth/login.html", error=error), (401 if error else 200)


@bp.post("/keluar")
@login_required
def logout() -> Any:
    """Sign out: this session ends on the server too, so a copied cookie is worthless."""
    sessions.end(db.session, session.get(sessions.SESSION_KEY))
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
