"""HTTP wiring: blueprints, the one exception-to-response mapping, headers, locale."""

from __future__ import annotations

import importlib
import importlib.util
import logging
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Flask,
    Response,
    has_request_context,
    jsonify,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import format_date, format_datetime, format_decimal
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.middleware.proxy_fix import ProxyFix

from app.auth.access import acting_user, wants_json
from app.errors import TepatError
from app.extensions import db, login_manager
from app.timeutil import ZONE_LABELS, zone_for_region

log = logging.getLogger(__name__)

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'self'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def N_(message: str) -> str:  # the gettext name for "mark now, translate where shown"
    """Mark a message for the catalogue; it is translated where it is shown."""
    return message


HTTP_MESSAGES = {
    400: N_("Permintaan tidak dapat dibaca."),
    401: N_("Silakan masuk terlebih dahulu."),
    403: N_("Anda tidak berwenang."),
    404: N_("Halaman atau data tidak ditemukan."),
    405: N_("Metode tidak diizinkan."),
    409: N_("Bertentangan dengan data yang tersimpan."),
    413: N_("Berkas atau permintaan terlalu besar (paling besar %(size)s MB)."),
    422: N_("Data tidak sah."),
    429: N_("Terlalu banyak percobaan; tunggu sebentar lalu coba lagi."),
}


def select_locale() -> str:
    """Indonesian first; English when chosen (cookie/session) or preferred by the browser."""
    if not has_request_context():  # CLI and background work speak Indonesian
        return "id"
    chosen = request.args.get("lang") or session.get("lang")
    if chosen in ("id", "en"):
        return str(chosen)
    return request.accept_languages.best_match(["id", "en"], default="id") or "id"


def select_timezone() -> str:
    """Show times in the zone of the user's region (WIB, WITA or WIT)."""
    user = acting_user() if has_request_context() else None
    return zone_for_region(user.scope_code) if user is not None else "Asia/Jakarta"


def _error_response(
    status: int, code: str, message: str, details: list[dict[str, Any]] | None = None
) -> tuple[Any, int]:
    if wants_json():
        body: dict[str, Any] = {"error": code, "message": message}
        if details:
            body["details"] = details
        return jsonify(body), status
    return render_template(
        "error.html", status=status, message=message, details=details or []
    ), status


def init_app(app: Flask) -> None:
    """Register blueprints, error handlers, the user loader and security headers."""
    from app.admin.views import bp as admin_bp
    from app.auth.views import bp as auth_bp
    from app.items.link import bp as label_link_bp
    from app.plan.views import bp as plan_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(label_link_bp)
    app.register_blueprint(plan_bp)
    app.register_blueprint(admin_bp)
    hops = int(app.config.get("TEPAT_PROXY_FIX") or 0)
    if hops:
        # Behind N reverse proxies: trust their X-Forwarded-For/-Proto/-Host, so is_secure,
        # the client address (rate limits) and external URLs are right.
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops
        )
    for name in ("items", "custody", "desk", "api", "public", "epcis", "closing"):
        if importlib.util.find_spec(f"app.{name}.views") is None:
            continue
        module = importlib.import_module(f"app.{name}.views")
        if hasattr(module, "init_app"):
            module.init_app(app)
        else:
            app.register_blueprint(module.bp)

    @login_manager.user_loader
    def load_user(user_id: str) -> Any:
        from app.auth import sessions

        # Only a session open on the server counts: sign-out, a password change and
        # deactivation end it at once, whatever copy of the cookie is still around.
        return sessions.user_for(db.session, user_id, session.get(sessions.SESSION_KEY))

    login_manager.login_view = "auth.login"
    login_manager.login_message = ""

    @app.errorhandler(TepatError)
    def handle_tepat_error(exc: TepatError) -> Any:
        db.session.rollback()
        if exc.status == 401 and not wants_json():
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        return _error_response(exc.status, exc.code, exc.message, exc.details)

    @app.errorhandler(CSRFError)
    def handle_csrf(exc: CSRFError) -> Any:
        return _error_response(
            400, "csrf", _("Formulir kedaluwarsa; muat ulang halaman lalu coba lagi.")
        )

    @app.errorhandler(HTTPException)
    def handle_http(exc: HTTPException) -> Any:
        status = exc.code or 500
        if status == 401 and not wants_json():
            return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
        message = HTTP_MESSAGES.get(status)
        megabytes = "{:g}".format((app.config.get("MAX_CONTENT_LENGTH") or 0) / 2**20)
        return _error_response(
            status,
            exc.name.lower().replace(" ", "_"),
            _(message, size=megabytes) if message else exc.description or exc.name,
        )

    @app.errorhandler(Exception)
    def handle_unexpected(exc: Exception) -> Any:
        db.session.rollback()
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _error_response(
            500, "internal", _("Terjadi kesalahan pada server; data Anda tidak hilang, coba lagi.")
        )

    @app.after_request
    def security_headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", CSP)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        response.headers.setdefault("X-Frame-Options", "DENY")
        if request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        return response

    @app.template_filter("angka")
    def angka(value: Any) -> str:
        """Numbers in the reader's format (Indonesian: 91.882)."""
        return format_decimal(value or 0)

    @app.template_filter("tanggal")
    def tanggal(value: Any) -> str:
        """A date in the reader's language."""
        return format_date(value, "long") if value else ""

    @app.template_filter("waktu")
    def waktu(value: Any) -> str:
        """An instant in the user's zone with its WIB/WITA/WIT label."""
        if not value:
            return ""
        zone = select_timezone()
        local = value.astimezone(ZoneInfo(zone))
        stamp = format_datetime(local, "d MMM yyyy HH:mm", rebase=False)
        return f"{stamp} {ZONE_LABELS.get(zone, zone)}"

    @app.context_processor
    def inject() -> dict[str, Any]:
        from app.auth.access import can

        user = acting_user()
        return {
            "me": user,
            "can": (lambda ability: user is not None and can(user, ability)),
            "lang": select_locale(),
        }
