"""Public pages (``/publik``) and their JSON twins (``/api/v1/public``): no sign-in, read-only.

Observers and the public see per kabupaten progress and finding counts, an item's journey
(opened by scanning its https label) with proofs their own browser checks, and the signed
Merkle log at stable URLs. Rates are limited per address; answers are cached.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify, render_template, request
from flask_babel import gettext as _

from app.clock import now
from app.custody.errors import ProofError
from app.errors import NotConfigured, NotFound, ValidationFailed
from app.extensions import db, limiter
from app.items.keys import KeyStoreError, load_keyring
from app.plan.views import current_election
from app.public import proofs, service

bp = Blueprint("public", __name__, url_prefix="/publik")
api_bp = Blueprint("public_api", __name__, url_prefix="/api/v1/public")

DEFAULT_RATE_LIMIT = "120 per minute"
DEFAULT_CACHE_SECONDS = 60


def _rate_limit() -> str:
    return str(current_app.config.get("TEPAT_PUBLIC_RATE_LIMIT") or DEFAULT_RATE_LIMIT)


def _cache_seconds() -> int:
    return int(current_app.config.get("TEPAT_PUBLIC_CACHE_SECONDS", DEFAULT_CACHE_SECONDS))


limiter.limit(_rate_limit)(bp)
limiter.limit(_rate_limit)(api_bp)


@bp.after_request
@api_bp.after_request
def cache_headers(response: Response) -> Response:
    """Let browsers and proxies keep public answers briefly; never store a session."""
    if response.status_code == 200 and "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = f"public, max-age={_cache_seconds()}"
    return response


def _page_number() -> int:
    raw = request.args.get("halaman") or request.args.get("page") or "1"
    if not raw.isdigit() or not 0 < int(raw) < 100_000:
        raise ValidationFailed(_("Nomor halaman tidak sah."))
    return int(raw)


def _label_payload(code: str) -> Any:
    """The verified label behind ``/L/<code>``."""
    if len(code) > 200:
        raise NotFound(_("Label ini tidak sah atau tidak dikenal."))
    try:
        keyring = load_keyring(current_app.config["TEPAT_KEY_DIR"])
    except KeyStoreError as exc:
        raise NotFound(_("Label ini tidak sah atau tidak dikenal.")) from exc
    return service.item_for_code(request.host_url.rstrip("/") + "/L/" + code, keyring)


def _since() -> int | None:
    raw = request.args.get("since")
    if raw is None or raw == "":
        return None
    if not raw.isdigit() or len(raw) > 12:
        raise ValidationFailed(_("since harus ukuran checkpoint (bilangan bulat)."))
    return int(raw)


def _key() -> dict[str, Any]:
    try:
        return proofs.log_key(current_app.config["TEPAT_KEY_DIR"])
    except (OSError, ValueError) as exc:
        raise NotConfigured(_("Kunci log belum tersedia.")) from exc


# --- pages ------------------------------------------------------------------------------


@bp.get("/")
def index() -> Any:
    """Every kabupaten/kota with a distribution plan (paged)."""
    listing = service.kabupaten_page(db.session, current_election(), _page_number())
    return render_template("public/index.html", listing=listing)


@bp.get("/wilayah/<kab>")
def region(kab: str) -> Any:
    """A kabupaten's distribution progress and finding counts per principle."""
    overview = service.kabupaten_overview(
        db.session, current_election(), kab, now(), _cache_seconds()
    )
    return render_template("public/wilayah.html", overview=overview)


@bp.get("/barang/<code>")
def item(code: str) -> Any:
    """An item's journey, opened from its label; the page checks the log's proof itself."""
    payload = _label_payload(code)
    journey = service.journey(db.session, payload.serial)
    return render_template("public/barang.html", item=journey, code=code, key=_key())


@bp.get("/log")
def log() -> Any:
    """Where the signed checkpoints and the log key live, and how to check them."""
    checkpoint = proofs.latest(db.session)
    return render_template("public/log.html", checkpoint=checkpoint, key=_key())


# --- JSON and text at stable URLs --------------------------------------------------------


@api_bp.get("/regions/<kab>")
def region_json(kab: str) -> Any:
    """A kabupaten's progress and finding counts per principle (JSON)."""
    return jsonify(
        service.kabupaten_overview(db.session, current_election(), kab, now(), _cache_seconds())
    )


@api_bp.get("/items/<code>/proof")
def item_proof(code: str) -> Any:
    """The proof bundle of an item's events (``tepat-proof/v1``), for the page and tepat-verify."""
    payload = _label_payload(code)
    journey = service.journey(db.session, payload.serial)
    try:
        bundle = proofs.item_bundle(
            db.session,
            current_app.config["TEPAT_KEY_DIR"],
            payload.serial,
            journey["events"],
            _since(),
        )
    except ProofError as exc:
        raise ValidationFailed(str(exc)) from exc
    return jsonify(bundle)


@api_bp.get("/log/key")
def log_key() -> Any:
    """The Ed25519 key that signs checkpoints (raw base64, PEM, note verifier key)."""
    return jsonify(_key())


@api_bp.get("/labels/keys")
def label_keys() -> Any:
    """The public keys that verify label signatures (the same set ``tepat-scan fetch`` gets)."""
    try:
        text = load_keyring(current_app.config["TEPAT_KEY_DIR"]).to_json()
    except KeyStoreError as exc:
        raise NotConfigured(_("Kunci label belum dibuat.")) from exc
    return Response(text, mimetype="application/json")


@api_bp.get("/log/checkpoint")
def latest_checkpoint() -> Any:
    """The newest signed checkpoint note, exactly as signed (text/plain)."""
    checkpoint = proofs.latest(db.session)
    if checkpoint is None:
        raise NotFound(_("Belum ada checkpoint."))
    return Response(checkpoint.note, mimetype="text/plain")


@api_bp.get("/log/checkpoints/<int:size>")
def checkpoint(size: int) -> Any:
    """The signed checkpoint of one tree size (text/plain); it never changes."""
    note = proofs.checkpoint_at(db.session, size).note
    response = Response(note, mimetype="text/plain")
    response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    return response


@api_bp.get("/log/checkpoints")
def checkpoints() -> Any:
    """Every signed checkpoint, oldest first, 100 per page (``?after=<tree size>``)."""
    after = request.args.get("after", "-1")
    if not after.lstrip("-").isdigit() or len(after) > 12:
        raise ValidationFailed(_("after harus ukuran pohon (bilangan bulat)."))
    return jsonify(proofs.history(db.session, int(after)))


@api_bp.get("/log/consistency")
def consistency() -> Any:
    """An RFC 9162 consistency proof between two published checkpoints."""
    first = request.args.get("first", type=int)
    second = request.args.get("second", type=int)
    if first is None or second is None:
        raise ValidationFailed(_("Isi parameter first dan second (ukuran pohon)."))
    try:
        return jsonify(proofs.consistency(db.session, first, second))
    except ProofError as exc:
        raise ValidationFailed(str(exc)) from exc


def init_app(app: Flask) -> None:
    """Register both blueprints."""
    app.register_blueprint(bp)
    app.register_blueprint(api_bp)
