"""The KPPS's closing page (phone first): the C.Hasil accounting per race, seals, a photo.

The page keeps each record in the browser until the server has answered for it, like the
scan page, and posts to ``POST /api/v1/closings`` (session + CSRF header).
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, render_template

from app.auth.access import require, signed_in_user
from app.closing.service import COUNT_NAMES, COUNTS
from app.custody import queries
from app.custody.names import PlaceNames
from app.extensions import db
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
        "kurir/tutup.html",
        tps=tps,
        counts=COUNTS,
        count_names=COUNT_NAMES,
        races={r.kind.value: r.name for r in election.races},
    )
