"""``/L/<code>``: a label's https form opens its item; ``/BAST/<dari>/<ke>``: a BAST's QR
opens the handover as the custody log recorded it."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_babel import gettext as _

import labels
from app.auth.access import acting_user, can, require, scope_overlaps, signed_in_user
from app.custody.names import PlaceNames
from app.errors import NotFound
from app.extensions import db
from app.items import documents
from app.items.keys import KeyStoreError, load_keyring
from app.plan import codes
from app.plan.views import current_election
from app.timeutil import ZONE_LABELS, zone_for_region

bp = Blueprint("label_link", __name__)


@bp.get("/L/<code>")
@bp.get("/l/<code>")
def open_label(code: str) -> Any:
    """Verify the label in the URL and show its item: staff pages, else the public page."""
    try:
        text = request.host_url.rstrip("/") + "/L/" + code
        payload = labels.decode(text, load_keyring(current_app.config["TEPAT_KEY_DIR"]))
    except (labels.LabelError, KeyStoreError) as exc:
        raise NotFound("Label ini tidak sah atau tidak dikenal.") from exc
    user = acting_user()
    if user is None:
        # Anyone holding the label (an observer, a voter) sees its public journey.
        return redirect(url_for("public.item", code=code.upper()))
    if can(user, "desk"):
        return redirect(url_for("desk.item", serial=payload.serial))
    return redirect(url_for("custody.item", serial=payload.serial))


@bp.get("/BAST/<dari>/<ke>")
@bp.get("/bast/<dari>/<ke>")
@require("view")
def handover(dari: str, ke: str) -> Any:
    """A BAST's QR: the handover of one leg as the custody log recorded it."""
    user = signed_in_user()
    try:
        # The leg is the user's when its lower end (the receiver going down) is theirs.
        lower = ke if codes.within(ke, dari) else dari
        visible = scope_overlaps(user, lower)
    except ValueError:
        visible = False
    if not visible:
        raise NotFound(_("Data tidak ditemukan."))
    election = current_election()
    leg = documents.get_leg(db.session, election, dari, ke)
    record = documents.recorded_handover(db.session, leg)
    names = PlaceNames(db.session)
    zone = ZONE_LABELS[zone_for_region(dari)]
    events = sorted(record.dispatched + record.received, key=lambda e: e.server_time)
    return render_template(
        "items/bast.html",
        leg=leg,
        sender=names.node(dari),
        receiver=names.node(ke),
        events=events,
        record=record,
        occurred=documents.occurred,
        when=lambda moment: labels.format_local_time(moment, zone),  # type: ignore[arg-type]
        serial=labels.format_serial,
        can_print=can(user, "labels.issue"),
    )
