"""JSON API v1: scan ingestion for devices, plan slices, keys, history, summaries, ledger.

Devices authenticate with ``Authorization: Bearer <token>``; the browser pages use the
session cookie and a CSRF token (``X-CSRFToken``). Both go through the same role and
region checks as the pages.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, jsonify, request
from flask_wtf.csrf import CSRFError

import labels
from app import english
from app.auth import service as auth
from app.auth.access import acting_user, check_scope, require, signed_in_user
from app.clock import now
from app.closing import desk as closing_desk
from app.closing import service as closing
from app.custody import overview, queries
from app.custody import service as custody
from app.custody.names import PlaceNames
from app.custody.service import MAX_BATCH, Ingestor, Rejected, serial_from_label
from app.errors import BadRequest, NotConfigured, PayloadTooLarge, Unauthorized, ValidationFailed
from app.extensions import csrf, db
from app.guard import MAX_INT32, bounded_instant, has_nul, int_in_range
from app.items.keys import KeyStoreError, load_keyring
from app.plan import codes
from app.plan.views import current_election
from scanner import signing

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.before_request
def authenticate_device() -> None:
    """Bearer tokens for devices; otherwise the session, with CSRF on writes."""
    if request.endpoint == "api.openapi":
        return  # the API description is public
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        user, token = auth.user_for_token(db.session, header.removeprefix("Bearer ").strip())
        g.token_user, g.device_token = user, token
        db.session.commit()  # keeps last_used_at
        return
    if acting_user() is None:
        raise Unauthorized(
            "Sertakan token perangkat (Authorization: Bearer ...) atau masuk dahulu."
        )
    if request.method not in ("GET", "HEAD", "OPTIONS") and current_app.config.get(
        "WTF_CSRF_ENABLED", True
    ):
        try:
            csrf.protect()
        except CSRFError as exc:
            raise BadRequest("Token CSRF hilang atau kedaluwarsa; muat ulang halaman.") from exc


@bp.post("/scans")
@require("scan")
def post_scans() -> Any:
    """Ingest a batch of up to 500 scan events; one result per event."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("events"), list):
        raise BadRequest('Kirim JSON {"device_id": ..., "events": [...]}.')
    events = body["events"]
    if len(events) > MAX_BATCH:
        raise PayloadTooLarge(
            f"Paling banyak {MAX_BATCH} event per kiriman (dikirim {len(events)}); bagi kirimannya."
        )
    device_id = body.get("device_id") or ""
    if not isinstance(device_id, str) or len(device_id) > 64 or has_nul(device_id):
        raise ValidationFailed("device_id harus teks, maksimal 64 karakter.")
    device_id = device_id.strip()
    token = getattr(g, "device_token", None)
    if not device_id:
        device_id = f"token-{token.id}" if token is not None else f"web-{signed_in_user().id}"
    try:
        keyring = load_keyring(current_app.config["TEPAT_KEY_DIR"])
    except KeyStoreError as exc:
        raise NotConfigured(str(exc)) from exc
    sent_at = None
    if body.get("sent_at"):
        try:
            if not isinstance(body["sent_at"], str) or len(body["sent_at"]) > 40:
                raise ValueError("not a short string")
            sent_at = bounded_instant(body["sent_at"])
        except ValueError as exc:
            raise ValidationFailed(
                "sent_at harus waktu ISO-8601 antara tahun 2000 dan 2099."
            ) from exc
    ingestor = Ingestor(
        db.session,
        user=signed_in_user(),
        token=token,
        device_id=device_id,
        keyring=keyring,
        now=now,
        election=current_election(),
        sent_at=sent_at,
        label_base=current_app.config["TEPAT_LABEL_BASE_URL"],
    )
    results = ingestor.ingest(events)
    status = 409 if any(r.status == "conflict" for r in results) else 200
    answers = [r.to_dict() for r in results]
    if token is None and english.english_ui():  # the courier page, shown in English
        answers = [english.translate_scan_result(a) for a in answers]
    return jsonify(
        {
            "results": answers,
            "accepted": sum(r.status == "accepted" for r in results),
            "duplicate": sum(r.status == "duplicate" for r in results),
            "rejected": sum(r.status in ("rejected", "conflict") for r in results),
        }
    ), status


@bp.post("/closings")
@require("scan")
def post_closings() -> Any:
    """Closing records of a KPPS (ballot accounting per race, seals, photo); one result each."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise BadRequest('Kirim JSON {"device_id": ..., "records": [...]}.')
    records = body["records"]
    if len(records) > closing.MAX_BATCH:
        raise PayloadTooLarge(
            f"Paling banyak {closing.MAX_BATCH} catatan per kiriman (dikirim {len(records)})."
        )
    token = getattr(g, "device_token", None)
    device_id = str(body.get("device_id") or "").strip() or (
        f"token-{token.id}" if token is not None else f"web-{signed_in_user().id}"
    )
    if len(device_id) > 64:
        raise ValidationFailed("device_id maksimal 64 karakter.")

    def box_serial(text: str) -> str:
        try:
            keyring = load_keyring(current_app.config["TEPAT_KEY_DIR"])
            return serial_from_label(text, keyring, verified=not labels.is_serial(text))
        except KeyStoreError as exc:
            raise closing.ClosingRejected("not_configured", str(exc)) from exc
        except Rejected as exc:
            raise closing.ClosingRejected(exc.code, exc.message) from exc

    results = closing.record_closings(
        db.session,
        user=signed_in_user(),
        election=current_election(),
        device_id=device_id,
        raw_records=records,
        now=now(),
        box_serial=box_serial,
    )
    status = 409 if any(r.status == "conflict" for r in results) else 200
    return jsonify(
        {
            "results": [r.to_dict() for r in results],
            "accepted": sum(r.status == "accepted" for r in results),
            "duplicate": sum(r.status == "duplicate" for r in results),
            "rejected": sum(r.status in ("rejected", "conflict") for r in results),
        }
    ), status


@bp.get("/tps/<tps>/closings")
@require("view")
def tps_closings(tps: str) -> Any:
    """Every closing record of a TPS (corrections included, oldest first)."""
    check_scope(signed_in_user(), tps)
    if not codes.TPS_ID.match(tps):
        raise ValidationFailed("Nomor TPS harus 13 digit.")
    return jsonify({"records": closing.history(db.session, current_election().code, tps)})


@bp.post("/devices/key")
@require("scan")
def register_device_key() -> Any:
    """Register the Ed25519 key this device signs its events with (once per device_id)."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest('Kirim JSON {"device_id": ..., "public_key": ...}.')
    device_id, public_key = body.get("device_id"), body.get("public_key")
    if not isinstance(device_id, str) or not 0 < len(device_id.strip()) <= 64 or has_nul(device_id):
        raise ValidationFailed("device_id harus teks, 1..64 karakter.")
    try:
        if not isinstance(public_key, str) or len(public_key) > 64:
            raise ValueError("not a key")
        raw = signing.unb64(public_key)
    except ValueError as exc:
        raise ValidationFailed("public_key harus kunci Ed25519 dalam base64url.") from exc
    token = getattr(g, "device_token", None)
    created = custody.register_device_key(
        db.session, signed_in_user(), token, device_id.strip(), raw
    )
    return jsonify({"device_id": device_id.strip(), "registered": True}), (201 if created else 200)


@bp.get("/keys")
@require("view")
def keys() -> Any:
    """The public label keys, for scanners to verify labels offline."""
    try:
        text = load_keyring(current_app.config["TEPAT_KEY_DIR"]).to_json()
    except KeyStoreError as exc:
        raise NotConfigured(str(exc)) from exc
    return Response(text, mimetype="application/json")


@bp.get("/nodes/<node>/plan-slice")
@require("view")
def plan_slice(node: str) -> Any:
    """What may pass through a node: destinations below it, planned lines, voided serials."""
    check_scope(signed_in_user(), node)
    return jsonify(queries.plan_slice(db.session, current_election(), node))


@bp.get("/items/<serial>")
@require("view")
def item_history(serial: str) -> Any:
    """One item: what it is, where it is, its events with their hash chain."""
    return jsonify(queries.item_history(db.session, signed_in_user(), serial))


@bp.get("/regions/<code>/summary")
@require("desk")
def region_summary(code: str) -> Any:
    """Status of a region per principle and per child region."""
    check_scope(signed_in_user(), code)
    return jsonify(queries.region_summary(db.session, current_election(), code, now()))


@bp.get("/regions/<code>/reconciliation")
@require("desk")
def region_reconciliation(code: str) -> Any:
    """The way back of a region: boxes per return stage, reconciliation per TPS with evidence
    (a desa or TPS); above a desa rolled up from the counters per child region."""
    check_scope(signed_in_user(), code)
    if not codes.TPS_ID.match(code):
        try:
            codes.region_level(code)
        except ValueError as exc:
            raise ValidationFailed("Kode wilayah atau nomor TPS tidak sah.") from exc
    if not closing_desk.per_tps(code):
        rollup = closing_desk.way_back_rollup(db.session, code)
        return jsonify(closing_desk.rollup_as_json(rollup))
    view = closing_desk.way_back(db.session, current_election(), code)
    return jsonify(closing_desk.as_json(view, PlaceNames(db.session)))


@bp.get("/findings")
@require("desk")
def findings() -> Any:
    """A page of findings in the user's scope (filters: principle, severity, region, code).

    ``count`` and ``groups`` cover the whole area; ``next`` is the cursor of the next page.
    """
    user = signed_in_user()
    region = request.args.get("wilayah") or codes.node_region(user.scope_code)
    check_scope(user, region)
    limit = request.args.get("limit", type=int) or overview.PAGE
    page = overview.findings_page(
        db.session,
        current_election(),
        region,
        now(),
        principle=request.args.get("prinsip"),
        severity=request.args.get("tingkat"),
        code=request.args.get("kode"),
        cursor=request.args.get("cursor"),
        limit=limit,
        live_limit=limit,
    )
    return jsonify(page)


@bp.get("/ledger/checkpoint")
@require("view")
def checkpoint() -> Any:
    """The latest signed checkpoint of the Merkle log (C2SP note), and the verifier key."""
    return jsonify(queries.latest_checkpoint(db.session, current_app.config["TEPAT_KEY_DIR"]))


@bp.get("/ledger/inclusion/<event_id>")
@require("view")
def inclusion(event_id: str) -> Any:
    """An RFC 9162 inclusion proof of one event in a checkpointed tree."""
    size = _size_arg("tree_size")
    return jsonify(queries.inclusion(db.session, signed_in_user(), event_id, size))


@bp.get("/ledger/consistency")
@require("view")
def consistency() -> Any:
    """An RFC 9162 consistency proof between two checkpointed tree sizes."""
    first, second = _size_arg("first"), _size_arg("second")
    if first is None or second is None:
        raise ValidationFailed("Isi parameter first dan second (ukuran pohon).")
    return jsonify(queries.consistency(db.session, first, second))


def _size_arg(name: str) -> int | None:
    """A tree size from the query: absent is None, anything but 1..2^31-1 is a 422."""
    text = request.args.get(name)
    if text is None:
        return None
    if not (text.isascii() and text.isdigit() and len(text) <= 10) or not int_in_range(
        int(text), 1, MAX_INT32
    ):
        raise ValidationFailed(f"{name} harus bilangan bulat 1..{MAX_INT32}.")
    return int(text)


@bp.get("/openapi.yaml")
def openapi() -> Any:
    """The API description (OpenAPI 3.1)."""
    path = Path(current_app.root_path) / "openapi.yaml"
    return Response(path.read_text(encoding="utf-8"), mimetype="application/yaml")


def init_app(app: Flask) -> None:
    """Register the blueprint; devices post without CSRF tokens (they use bearer tokens)."""
    csrf.exempt(bp)
    app.register_blueprint(bp)
