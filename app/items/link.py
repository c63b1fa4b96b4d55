"""``/L/<code>``: the https form of a label opens the item's page in a phone's camera app."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, redirect, request, url_for

import labels
from app.auth.access import acting_user, can
from app.errors import NotFound
from app.items.keys import KeyStoreError, load_keyring

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
