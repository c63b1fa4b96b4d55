"""Desk pages: the kabupaten at a glance, drill-down to the TPS, findings, proofs, exports.

Desk staff and observers (pengawas) read everything inside their scope; nothing here
writes. Every page reads the counters of its area (``DeskView``), never every item: a
province, a kabupaten of 8,000 TPS and a desa cost about the same. Findings come a page at
a time (cursor ``setelah``), with the counts per kind for the whole area.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, render_template, request, url_for
from flask_babel import gettext as _

import labels
from app import english
from app.auth.access import check_scope, require, signed_in_user
from app.clock import now
from app.custody import queries
from app.custody.timeline import item_timeline
from app.desk import exports
from app.desk.chart import progress_svg
from app.desk.service import (
    LEGS,
    PRINCIPLES,
    SEVERITIES,
    DeskView,
    area_exists,
    leg_of,
    stage_line,
)
from app.errors import NotFound
from app.extensions import db
from app.plan import codes
from app.plan.views import current_election
from app.timeutil import zone_for_region
from app.words import WORDS, local_time, template_helpers

bp = Blueprint("desk", __name__, url_prefix="/desk")
bp.app_context_processor(template_helpers)
# Findings and item names are written in Indonesian; English pages translate them here.
bp.add_app_template_filter(english.say, "say")
bp.add_app_template_filter(english.say_what, "say_what")
bp.add_app_template_filter(english.say_place, "say_place")

#: Finding groups shown on a page; the downloads hold all of them.
PAGE_ROWS = 200


def area_in_scope(code: str | None) -> str:
    """The country, a province, kabupaten, kecamatan, desa or TPS inside the user's scope
    (else 404)."""
    user = signed_in_user()
    area = (code or "").strip() or user.scope_code
    if area == codes.NATIONAL:
        check_scope(user, area)
        return area
    if not codes.TPS_ID.match(area):
        try:
            codes.region_level(area)
        except ValueError as exc:
            raise NotFound(_("Wilayah tidak ditemukan.")) from exc
    check_scope(user, area)
    if not area_exists(db.session, area):
        raise NotFound(_("Wilayah tidak ditemukan."))
    return area


def _crumbs(view: DeskView, area: str) -> list[dict[str, str]]:
    """The way down from the top of the user's scope to ``area``."""
    scope = signed_in_user().scope_code
    chain = []
    code: str | None = area
    while code:
        chain.append(code)
        if code == scope:
            break
        code = (
            codes.desa_of_tps(code)
            if codes.TPS_ID.match(code)
            else codes.region_parent(code) or codes.NATIONAL
        )
        if not codes.within(code, scope):
            break
    return [{"code": c, "name": _name(view, c)} for c in reversed(chain)]


def _name(view: DeskView, code: str) -> str:
    return _("Indonesia") if code == codes.NATIONAL else view.label(code)


def _filters() -> dict[str, str | None]:
    """The findings filters from the query string (empty means all)."""
    args = request.args
    return {
        "principle": args.get("prinsip") or None,
        "severity": args.get("tingkat") or None,
        "code": args.get("kode") or None,
        "leg": args.get("tahap") if args.get("tahap") in LEGS else None,
    }


@bp.get("")
@require("desk")
def index() -> Any:
    """The user's whole scope at a glance (for the kabupaten desk: the kabupaten)."""
    return _region_page(area_in_scope(None))


@bp.get("/wilayah/<code>")
@require("desk")
def region(code: str) -> Any:
    """Drill-down: a kecamatan's desa, a desa's TPS, or one TPS with its items."""
    return _region_page(area_in_scope(code))


def _region_page(area: str) -> Any:
    if area == codes.NATIONAL:
        return _national_page()
    view = DeskView.open(db.session, current_election(), area, now())
    summary = view.summary(area)
    page = view.findings_page(area, limit=PAGE_ROWS)
    findings = view.groups(page["findings"])
    zone = zone_for_region(area)
    curve = view.curve(area, zone)
    chart = progress_svg(
        curve["points"],
        curve["total"],
        title=_("Kemajuan distribusi"),
        receipts_label=_("Pindaian terima per jam"),
        delivered_label=_("Barang sampai di TPS (persen)"),
        hour_format=lambda h: local_time(h, area, "d/M HH.mm").rsplit(" ", 1)[0],
    )
    is_tps = bool(codes.TPS_ID.match(area))
    return render_template(
        "desk/wilayah.html",
        area=area,
        summary=summary,
        findings=findings[:15],
        finding_total=page["count"],
        chart=chart,
        is_tps=is_tps,
        items=view.tps_items(area) if is_tps else [],
        crumbs=_crumbs(view, area),
        level=_level(area),
        principles=PRINCIPLES,
        at=view.now,
    )


def _national_page() -> Any:
    """Every province with its counters: the provinces' own rows only, never their items."""
    view = DeskView.open(db.session, current_election(), codes.NATIONAL, now())
    summary = queries.region_summary(db.session, view.election, codes.NATIONAL, view.now)
    summary["stage_line"] = stage_line(summary["stages"])
    return render_template(
        "desk/nasional.html",
        area=codes.NATIONAL,
        summary=summary,
        crumbs=_crumbs(view, codes.NATIONAL),
        principles=PRINCIPLES,
        at=view.now,
    )


def _level(area: str) -> str:
    if codes.TPS_ID.match(area):
        return "tps"
    return str(codes.region_level(area).value)


@bp.get("/temuan")
@require("desk")
def findings() -> Any:
    """Findings with filters (principle, severity, region, leg, code) and their evidence."""
    area = _regional(area_in_scope(request.args.get("wilayah")))
    filters = _filters()
    view = DeskView.open(db.session, current_election(), area, now())
    page = view.findings_page(
        area,
        principle=filters["principle"],
        severity=filters["severity"],
        code=filters["code"],
        cursor=request.args.get("setelah"),
        limit=PAGE_ROWS,
    )
    rows = [f for f in page["findings"] if not filters["leg"] or leg_of(f) == filters["leg"]]
    groups = view.groups(rows)
    present_codes = sorted(
        {str(g["code"]) for g in page["groups"]} | {str(f["code"]) for f in page["findings"]}
    )
    return render_template(
        "desk/temuan.html",
        area=area,
        groups=groups,
        group_total=len(groups),
        finding_total=page["count"],
        kinds=page["groups"],
        next_page=url_for("desk.findings", **_query(), setelah=page["next"])
        if page["next"]
        else None,
        filters=filters,
        present_codes=present_codes,
        regions=view.child_regions(signed_in_user().scope_code),
        principles=PRINCIPLES,
        severities=SEVERITIES,
        legs=LEGS,
        area_name=view.label(area),
        at=view.now,
        page_rows=PAGE_ROWS,
        query=_query(),
    )


def _regional(area: str) -> str:
    """Findings are listed per province or below: the national page counts them per province
    (a list across the country would read every province's findings)."""
    if area == codes.NATIONAL:
        raise NotFound(_("Pilih provinsi untuk melihat daftar temuan."))
    return area


def _query() -> dict[str, str]:
    """The current filters, to carry into the download links."""
    keep = ("wilayah", "prinsip", "tingkat", "tahap", "kode")
    return {k: v for k in keep if (v := request.args.get(k))}


@bp.get("/barang/<serial>")
@require("desk")
def item(serial: str) -> Any:
    """An item's timeline: its scans, hash chain and the proof of each in the ledger."""
    history = item_timeline(db.session, signed_in_user(), serial)
    return render_template(
        "desk/barang.html", item=history, back=url_for("desk.findings"), item_endpoint="desk.item"
    )


@bp.get("/ekspor/temuan.<any(csv, xlsx, pdf):fmt>")
@require("desk")
def export_findings(fmt: str) -> Any:
    """The filtered findings (one row per kind, place and message) as CSV, XLSX or PDF."""
    area = _regional(area_in_scope(request.args.get("wilayah")))
    filters = _filters()
    view = DeskView.open(db.session, current_election(), area, now())
    groups = view.groups(_every_finding(view, area, filters))
    table = exports.Table(
        title=_("Temuan %(area)s", area=_area_name(view, area)),
        subtitle=_("Keadaan per %(time)s", time=local_time(view.now, area)),
        columns=[
            _("Tingkat"),
            _("Prinsip"),
            _("Kode"),
            _("Temuan"),
            _("Jumlah barang"),
            _("Tempat"),
            _("Kode tempat"),
            _("Tahap"),
            _("Waktu"),
            _("Nomor seri"),
            _("Event bukti"),
        ],
        rows=[
            [
                _(WORDS["severities"].get(g["severity"], g["severity"])),
                _(WORDS["principles"].get(g["principle"], g["principle"])),
                g["code"],
                g["message"],
                g["count"],
                g["place_name"],
                g["place"],
                _(WORDS["legs"][g["leg"]]) if g["leg"] else "",
                local_time(g["at"], area),
                " ".join(labels.format_serial(s) for s in g["serials"]),
                " ".join(g["event_ids"]),
            ]
            for g in groups
        ],
        severities=[g["severity"] for g in groups],
        widths=[6, 7, 8, 30, 5, 14, 9, 7, 9, 18, 0.1],
    )
    if fmt == "pdf":  # a page is narrow: leave out the long id columns
        table.columns, table.rows = table.columns[:9], [r[:9] for r in table.rows]
        table.widths = [6, 7, 9, 34, 7, 15, 10, 7, 10]
    return _download(table, fmt, f"temuan-{area}")


@bp.get("/ekspor/status.<any(csv, xlsx, pdf):fmt>")
@require("desk")
def export_status(fmt: str) -> Any:
    """Status per child region (TPS, items, delivered, findings per principle)."""
    area = area_in_scope(request.args.get("wilayah"))
    view = DeskView.open(db.session, current_election(), area, now())
    summary = (
        queries.region_summary(db.session, view.election, area, view.now)
        if area == codes.NATIONAL
        else view.summary(area)
    )
    rows = summary["children"] or [dict(summary, code=area, name=summary["name"])]
    columns = [_("Kode"), _("Nama"), "TPS", _("Barang"), _("Sampai di TPS"), "%"]
    pdf = fmt == "pdf"  # a page: one coloured count per principle; files: count and worst
    for principle in PRINCIPLES:
        columns += [_(WORDS["principles"][principle])] + (
            [] if pdf else [_("Terparah (%(p)s)", p=principle)]
        )
    body, colours = [], {}
    for index, row in enumerate(rows):
        line = [
            row["code"],
            row["name"],
            "" if area == codes.NATIONAL else row["tps"],  # no counter holds a province's TPS
            row["items"],
            row["delivered"],
            exports.Percent(100 * row["delivered"] / row["items"]) if row["items"] else "",
        ]
        for principle in PRINCIPLES:
            entry = row["principles"][principle]
            worst = entry["worst"]
            if pdf:
                colours[(index, len(line))] = worst or "ok"
                line.append(entry["count"])
            else:
                line += [entry["count"], _(WORDS["severities"][worst]) if worst else ""]
        body.append(line)
    table = exports.Table(
        title=_("Status %(area)s", area=f"{_name(view, area)} ({area})"),
        subtitle=_("Keadaan per %(time)s", time=local_time(view.now, area)),
        columns=columns,
        rows=body,
        cell_severities=colours,
        widths=[9, 16, 4, 5, 6, 4] + ([6] if pdf else [4, 5]) * len(PRINCIPLES),
    )
    return _download(table, fmt, f"status-{area}")


def _every_finding(view: DeskView, area: str, filters: dict[str, str | None]) -> list[Any]:
    """Every finding the filters select, page after page (a download holds all of them)."""
    found: list[Any] = []
    cursor = None
    while True:
        page = view.findings_page(
            area,
            principle=filters["principle"],
            severity=filters["severity"],
            code=filters["code"],
            cursor=cursor,
            limit=500,
            live_limit=None,  # a download holds every live finding too
        )
        found += [f for f in page["findings"] if not filters["leg"] or leg_of(f) == filters["leg"]]
        cursor = page["next"]
        if not cursor:
            return found


def _area_name(view: DeskView, area: str) -> str:
    return f"{view.label(area)} ({area})"


def _download(table: exports.Table, fmt: str, name: str) -> Response:
    table.decimal = "." if english.english_ui() else ","
    data = exports.write(table, fmt)
    return Response(
        data,
        mimetype=exports.MIMETYPES[fmt],
        headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'},
    )


@bp.app_template_filter("seri")
def serial_filter(serial: str | None) -> str:
    """A serial for people, in four groups of four (see labels.format_serial)."""
    try:
        return labels.format_serial(serial or "")
    except labels.LabelError:
        return serial or ""
