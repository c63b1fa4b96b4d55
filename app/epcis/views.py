"""``GET /api/v1/epcis/events`` and ``flask epcis export``: custody events as EPCIS 2.0.

The API answers one page per request (``Link: <...>; rel="next"`` to the next one), to
desk staff and observers inside their region; the command streams a whole region and
window into one document.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

import click
from flask import Blueprint, Flask, current_app, jsonify, request, url_for
from flask.cli import AppGroup

from app.api.views import authenticate_device
from app.auth.access import check_scope, require, signed_in_user
from app.epcis import document, service
from app.errors import ValidationFailed
from app.extensions import csrf, db
from app.plan import codes

bp = Blueprint("epcis", __name__, url_prefix="/api/v1/epcis")
bp.before_request(authenticate_device)

MEDIA_TYPE = "application/ld+json"


def _size() -> int:
    raw = request.args.get("limit", str(service.PAGE_SIZE))
    if not raw.isdigit() or not 0 < int(raw) <= service.MAX_PAGE_SIZE:
        raise ValidationFailed(f"limit harus 1 sampai {service.MAX_PAGE_SIZE}.")
    return int(raw)


@bp.get("/events")
@require("desk")
def events() -> Any:
    """One page of a region's custody events in a time window, as an EPCISDocument."""
    user = signed_in_user()
    region = request.args.get("wilayah") or codes.node_region(user.scope_code)
    window = service.parse_window(region, request.args.get("dari"), request.args.get("sampai"))
    check_scope(user, window.region)
    uris = service.uris_for(current_app.config["TEPAT_LABEL_BASE_URL"])
    page = service.page(db.session, window, uris, request.args.get("after"), _size())
    extra: dict[str, Any] = {}
    next_url = None
    if page.next_cursor:
        args = {k: v for k, v in request.args.items() if k != "after"}
        next_url = url_for("epcis.events", _external=True, after=page.next_cursor, **args)
        extra["tepat:nextPage"] = next_url
    body = document.document(page.events, uris, datetime.now(UTC), page.places, extra)
    response = jsonify(body)
    response.mimetype = MEDIA_TYPE
    response.headers["GS1-EPCIS-Version"] = document.SCHEMA_VERSION
    if next_url:
        response.headers["Link"] = f'<{next_url}>; rel="next"'
    return response


epcis_cli = AppGroup("epcis", help="Ekspor EPCIS 2.0 / EPCIS 2.0 export.")


def write_document(
    out: TextIO, pages: Any, uris: document.Uris, created: datetime
) -> tuple[int, int]:
    """Stream one EPCISDocument from pages of events; return (events, pages) written."""
    head = document.document([], uris, created, {})
    del head["epcisBody"]
    out.write(json.dumps(head, ensure_ascii=False)[:-1])
    out.write(', "epcisBody": {"eventList": [')
    places: dict[str, str] = {}
    count = page_count = 0
    for page in pages:
        page_count += 1
        places.update(page.places)
        for event in page.events:
            out.write(("," if count else "") + "\n" + json.dumps(event, ensure_ascii=False))
            count += 1
    out.write("\n]}")
    if places:
        header = json.dumps(document.master_data(places, uris), ensure_ascii=False)
        out.write(f', "epcisHeader": {header}')
    out.write("}\n")
    return count, page_count


@epcis_cli.command("export")
@click.option("--wilayah", required=True, help="Kode wilayah atau ID TPS, mis. 62.10.")
@click.option("--dari", default=None, help="Diterima sejak (ISO-8601).")
@click.option("--sampai", default=None, help="Diterima sebelum (ISO-8601).")
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None)
@click.option("--page-size", type=click.IntRange(1, service.MAX_PAGE_SIZE), default=1000)
def export(
    wilayah: str, dari: str | None, sampai: str | None, output: str | None, page_size: int
) -> None:
    """Write a region's custody events in a window as one EPCIS 2.0 document (streamed)."""
    try:
        window = service.parse_window(wilayah, dari, sampai)
    except ValidationFailed as exc:
        raise click.UsageError(exc.message) from exc
    uris = service.uris_for(current_app.config["TEPAT_LABEL_BASE_URL"])
    pages = service.pages(db.session, window, uris, page_size)
    created = datetime.now(UTC)
    if output:
        with open(output, "w", encoding="utf-8") as out:
            count, page_count = write_document(out, pages, uris, created)
    else:
        count, page_count = write_document(sys.stdout, pages, uris, created)
    click.echo(f"{count} event EPCIS dari {page_count} halaman.", err=True)


def init_app(app: Flask) -> None:
    """Register the endpoint (bearer tokens, no CSRF: read-only) and the command."""
    csrf.exempt(bp)
    app.register_blueprint(bp)
    app.cli.add_command(epcis_cli)
