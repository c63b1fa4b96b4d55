"""Courier pages (phone first): scan at a handover and hear at once whether it is right.

The page posts each scan to the scan API (``POST /api/v1/scans``, session + CSRF header)
and keeps unsent scans in the browser until the server has answered. Where the browser
cannot read QR codes from the camera itself, a photo goes to ``/kurir/foto``.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, render_template, request
from flask_babel import gettext as _

from app.auth.access import check_scope, require, signed_in_user
from app.clock import now
from app.custody import photo, queries
from app.custody.names import PlaceNames
from app.custody.timeline import item_timeline
from app.english import say_what
from app.errors import BadRequest, PayloadTooLarge
from app.extensions import db
from app.plan import codes
from app.words import template_helpers

bp = Blueprint("custody", __name__)
bp.app_context_processor(template_helpers)

#: What a courier records at a handover (the rules also know kemas, batal, koreksi).
ACTIONS = ("terima", "kirim", "buka", "segel", "kembali", "rusak")
CONDITIONS = ("baik", "rusak_ringan", "rusak_berat", "basah")
#: A phone photo is a few MB; the page shrinks big ones before sending.
PHOTO_MAX_BYTES = 8 * 2**20


@bp.get("/kurir/sw.js")
@require("scan")
def service_worker() -> Any:
    """The courier page's service worker, served under /kurir so it may control the page."""
    response = current_app.send_static_file("js/kurir-sw.js")
    response.headers["Service-Worker-Allowed"] = "/kurir"
    response.headers["Cache-Control"] = "no-cache"
    response.mimetype = "text/javascript"
    return response


@bp.get("/kurir")
@require("scan")
def kurir() -> Any:
    """The scan page: node, action, details, camera / photo / typed code, the answer."""
    user = signed_in_user()
    names = PlaceNames(db.session)
    nodes = [
        {
            "code": n.code,
            "kind": n.kind.value,
            "parent": n.parent_code or "",
            "name": names.node(n.code),
        }
        for n in queries.nodes_within(db.session, user.scope_code)
    ]
    chosen = request.args.get("simpul", "").strip()
    if chosen:
        check_scope(user, chosen)
    codes_in_scope = {n["code"] for n in nodes}
    if chosen not in codes_in_scope:
        chosen = (
            user.scope_code
            if user.scope_code in codes_in_scope
            else (nodes[0]["code"] if nodes else "")
        )
    # Returns go up the chain: the node above the scope is a possible target too.
    above = codes.node_parent(nodes[0]["code"]) if nodes else None
    targets = nodes + (
        [
            {
                "code": above,
                "kind": codes.node_kind(above).value,
                "parent": "",
                "name": names.node(above),
                "above": True,
            }
        ]
        if above
        else []
    )
    return render_template(
        "kurir/pindai.html",
        nodes=nodes,
        targets=targets,
        chosen=chosen,
        actions=ACTIONS,
        conditions=CONDITIONS,
        photo_max_mb=PHOTO_MAX_BYTES // 2**20,
        type_names={code: say_what(name) for code, name in names.types().items()},
        # The demo's phones share the demo clock; a real deployment sends device clocks.
        demo_now=now().isoformat() if current_app.config.get("TEPAT_NOW") else "",
    )


@bp.post("/kurir/foto")
@require("scan")
def kurir_photo() -> Any:
    """Read the QR codes in an uploaded photo of a label; answer with their texts."""
    limit = current_app.config.get("TEPAT_PHOTO_MAX_BYTES", PHOTO_MAX_BYTES)
    too_big = PayloadTooLarge(
        _(
            "Foto terlalu besar (paling besar %(mb)s MB); ambil foto lagi "
            "dengan resolusi lebih kecil.",
            mb=limit // 2**20,
        )
    )
    if request.content_length is not None and request.content_length > limit + 2**16:
        raise too_big
    upload = request.files.get("foto")
    if upload is None or not upload.filename:
        raise BadRequest(_("Pilih atau ambil foto label terlebih dahulu."))
    data = upload.read(limit + 1)
    if len(data) > limit:
        raise too_big
    texts = photo.qr_texts(data)
    message = (
        ""
        if texts
        else _(
            "Tidak ada kode QR yang terbaca di foto. Dekatkan kamera, "
            "pastikan terang dan label tidak terlipat, lalu coba lagi."
        )
    )
    return jsonify({"texts": texts, "message": message})


@bp.get("/kurir/barang/<serial>")
@require("scan")
def item(serial: str) -> Any:
    """An item's timeline for the courier (only items inside the courier's scope)."""
    history = item_timeline(db.session, signed_in_user(), serial)
    return render_template("kurir/barang.html", item=history, item_endpoint="custody.item")
