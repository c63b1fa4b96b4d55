"""The KPPS's closing page (phone first): the C.Hasil accounting per race, seals, a photo.

The page keeps each record in the browser until the server has answered for it, like the
scan page, and posts to ``POST /api/v1/closings`` (session + CSRF header).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, render_template, request
from flask_babel import gettext as _

from app.auth.access import check_scope, require, signed_in_user
from app.clock import now
from app.closing import desk
from app.custody import queries
from app.custody.names import PlaceNames
from app.desk import exports
from app.desk.service import area_exists
from app.errors import NotFound
from app.extensions import db
from app.plan import codes
from app.plan.models import NodeKind
from app.plan.service import races_at
from app.plan.views import current_election

bp = Blueprint("closing", __name__)


@bp.get("/kurir/tutup")
@require("scan")
def closing_page() -> Any:
    """The closing form for the TPS in the user's scope."""
    user = signed_in_user()
    election = current_election()
    names = PlaceNames(db.session)
    tps = [
        {
            "code": n.code,
            "name": names.node(n.code),
            "races": [r.kind.value for r in races_at(election, n.parent_code or "")],
        }
        for n in queries.nodes_within(db.session, user.scope_code)
        if n.kind is NodeKind.KPPS
    ]
    return render_template(
        "kurir/tutup.html", tps=tps, races={r.kind.value: r.name for r in election.races}
    )


# --- the desk's way back ---------------------------------------------------------------


def _desk_area(code: str | None) -> str:
    """A region or TPS inside the user's scope (else 404)."""
    user = signed_in_user()
    area = (code or "").strip() or user.scope_code
    if not codes.TPS_ID.match(area):
        try:
            codes.region_level(area)
        except ValueError as exc:
            raise NotFound(_("Wilayah tidak ditemukan.")) from exc
    check_scope(user, area)
    if not area_exists(db.session, area):
        raise NotFound(_("Wilayah tidak ditemukan."))
    return area


@bp.get("/desk/kembali")
@require("desk")
def desk_way_back() -> Any:
    """The way back of an area: boxes per stage, per child area, reconciliation per TPS."""
    area = _desk_area(request.args.get("wilayah"))
    view = desk.way_back(db.session, current_election(), area)
    names = PlaceNames(db.session)
    findings = [names.humanize(f, None) for entry in view.tps for f in entry.findings]
    return render_template(
        "desk/kembali.html",
        area=area,
        area_name=desk.area_label(names, area),
        view=view,
        stages=desk.STAGES,
        statuses=desk.STATUSES,
        status_names=desk.status_words(),
        # The PSU reserve is the kabupaten's: shown on its page only.
        psu=desk.psu_reserve(db.session, current_election(), area)
        if not codes.TPS_ID.match(area) and area.count(".") == 1
        else [],
        findings=findings,
        at=now(),
    )


@bp.get("/desk/kembali/rekonsiliasi.<any(csv, xlsx, pdf):fmt>")
@require("desk")
def export_reconciliation(fmt: str) -> Any:
    """The reconciliation table for the recapitulation meeting: per TPS and race, per kecamatan."""
    area = _desk_area(request.args.get("wilayah"))
    names = PlaceNames(db.session)
    view = desk.way_back(db.session, current_election(), area)
    table = desk.reconciliation_table(view, names, now())
    data = exports.write(table, fmt)
    return Response(
        data,
        mimetype=exports.MIMETYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="rekonsiliasi-{area}.{fmt}"'},
    )
