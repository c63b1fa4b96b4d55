"""The KPPS's closing page (phone first): the C.Hasil accounting per race, seals, a photo.

The page keeps each record in the browser until the server has answered for it, like the
scan page, and posts to ``POST /api/v1/closings`` (session + CSRF header).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, render_template, request
from flask_babel import gettext as _

from app.auth.access import require, signed_in_user
from app.clock import now
from app.closing import desk
from app.custody import counts, queries
from app.custody.names import PlaceNames
from app.desk import exports
from app.desk.views import area_in_scope
from app.errors import ValidationFailed
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


@bp.get("/desk/kembali")
@require("desk")
def desk_way_back() -> Any:
    """The way back of an area: boxes per stage, per child area, reconciliation per TPS."""
    area = area_in_scope(request.args.get("wilayah"))
    names = PlaceNames(db.session)
    if not desk.per_tps(area):
        # A kecamatan and above: rolled up from the counters, per child region; the
        # reconciliation per TPS is on each desa's page and in each kecamatan's download.
        return render_template(
            "desk/kembali_wilayah.html",
            area=area,
            area_name=_("Indonesia") if area == codes.NATIONAL else desk.area_label(names, area),
            view=desk.way_back_rollup(db.session, area),
            stages=counts.RETURN_STAGES,
            races={r.kind.value: r.name for r in current_election().races},
            # The PSU reserve is the kabupaten's: shown on its page only.
            psu=desk.psu_reserve(db.session, current_election(), area)
            if area.count(".") == 1
            else [],
            downloadable=desk.downloadable(area),
            child_downloads=area.count(".") == 1,
            at=now(),
        )
    view = desk.way_back(db.session, current_election(), area)
    findings = [names.humanize(f, None) for entry in view.tps for f in entry.findings]
    return render_template(
        "desk/kembali.html",
        area=area,
        area_name=desk.area_label(names, area),
        view=view,
        stages=desk.STAGES,
        statuses=desk.STATUSES,
        status_names=desk.status_words(),
        findings=findings,
        at=now(),
    )


@bp.get("/desk/kembali/rekonsiliasi.<any(csv, xlsx, pdf):fmt>")
@require("desk")
def export_reconciliation(fmt: str) -> Any:
    """The reconciliation table for a kecamatan's recapitulation meeting: per TPS and race.

    It reads every TPS of the area, so it is built for one kecamatan (the PPK's meeting)
    or less; above that the answer is a 422 that says to pick a kecamatan.
    """
    area = area_in_scope(request.args.get("wilayah"))
    if not desk.downloadable(area):
        raise ValidationFailed(_("Pilih satu kecamatan untuk mengunduh rekonsiliasi per TPS."))
    names = PlaceNames(db.session)
    view = desk.way_back(db.session, current_election(), area)
    table = desk.reconciliation_table(view, names, now())
    data = exports.write(table, fmt)
    return Response(
        data,
        mimetype=exports.MIMETYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="rekonsiliasi-{area}.{fmt}"'},
    )
