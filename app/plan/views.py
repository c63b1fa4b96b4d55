"""Plan pages: needs per kecamatan/desa/TPS, import of TPS lists, export."""

from __future__ import annotations

import io
from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _

from app.auth.access import check_scope, require, signed_in_user
from app.auth.models import User
from app.custody.names import PlaceNames
from app.errors import NotFound, PlanImportError, ValidationFailed
from app.extensions import db
from app.plan import codes, service
from app.plan.models import Election

bp = Blueprint("plan", __name__)

DRILL = {"kabupaten": "kecamatan", "kecamatan": "desa", "desa": "tps"}


def kabkota_of(user: User) -> str:
    """Return the kabupaten/kota code a user works in."""
    return codes.kabkota_of(user.scope_code)


def current_election() -> Election:
    """Return the election being run (the latest by election day)."""
    election = service.latest_election(db.session)
    if election is None:
        raise NotFound(_("Belum ada pemilihan; jalankan 'flask demo load' atau impor rencana."))
    return election


@bp.get("/")
@require("view")
def index() -> Any:
    """Home: each role's own first page (after sign-in too, unless a page was asked for)."""
    return redirect(url_for(ROLE_HOME.get(signed_in_user().role.value, "plan.needs")))


#: Where each role starts: couriers scan, the warehouse packs, the desk and Bawaslu watch.
ROLE_HOME = {
    "kurir": "custody.kurir",
    "gudang": "items.index",
    "desk": "desk.index",
    "pengawas": "desk.index",
    "admin": "desk.index",
}


@bp.get("/rencana")
@require("view")
def needs() -> Any:
    """Needs of an area, one row per child area (kecamatan -> desa -> TPS)."""
    user = signed_in_user()
    kab = kabkota_of(user)
    area = request.args.get("wilayah", "").strip()
    if not area:
        area = (
            user.scope_code
            if not codes.TPS_ID.match(user.scope_code)
            else codes.desa_of_tps(user.scope_code)
        )
    try:
        level_of_area = codes.region_level(area).value
    except ValueError as exc:
        raise NotFound(_("Wilayah tidak ditemukan.")) from exc
    level_of_area = {"kabkota": "kabupaten"}.get(level_of_area, level_of_area)
    if level_of_area not in DRILL:
        raise NotFound(_("Wilayah tidak ditemukan."))
    check_scope(user, area)
    election = current_election()
    level = DRILL[level_of_area]
    table = service.needs_table(db.session, election.code, kab, level)
    table.rows = [r for r in table.rows if codes.within(r["code"], area)]
    totals = service.needs_table(db.session, election.code, kab, level_of_area)
    total_row = next((r for r in totals.rows if r["code"] == area), None)
    names = service.item_type_names(db.session)
    return render_template(
        "plan/needs.html",
        election=election,
        area=area,
        level=level,
        table=table,
        total=total_row,
        names=names,
        drill=level != "tps",
        area_name=service.region_names(db.session, area).get(area, area),
    )


@bp.get("/rencana/ekspor")
@require("view")
def export() -> Any:
    """Download needs at one level as CSV or XLSX."""
    user = signed_in_user()
    level = request.args.get("tingkat", "kecamatan")
    fmt = request.args.get("format", "csv")
    if fmt not in ("csv", "xlsx"):
        raise ValidationFailed(_("Format harus csv atau xlsx."))
    election = current_election()
    table = service.needs_table(db.session, election.code, kabkota_of(user), level)
    table.rows = [
        r
        for r in table.rows
        if codes.within(r["code"], user.scope_code) or codes.within(user.scope_code, r["code"])
    ]
    out = io.BytesIO()
    service.export_needs(table, fmt, out)
    out.seek(0)
    mimetype = (
        "text/csv"
        if fmt == "csv"
        else "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    return send_file(
        out,
        mimetype=mimetype,
        as_attachment=True,
        download_name=f"kebutuhan-{kabkota_of(user)}-{level}.{fmt}",
    )


@bp.route("/rencana/impor", methods=["GET", "POST"])
@require("plan.edit")
def import_tps() -> Any:
    """Upload a kabupaten's TPS list (CSV or XLSX); all rows or nothing."""
    user = signed_in_user()
    kab = kabkota_of(user)
    errors: list[Any] = []
    if request.method == "POST":
        upload = request.files.get("berkas")
        if upload is None or not upload.filename:
            errors = [{"row": 0, "column": "berkas", "message": _("Pilih berkas CSV atau XLSX.")}]
        else:
            election = current_election()
            try:
                result = service.import_tps(
                    db.session,
                    election.code,
                    kab,
                    upload.filename,
                    upload.read(),
                    scope=user.scope_code,
                )
            except PlanImportError as exc:
                errors = exc.details
            except ValidationFailed as exc:
                errors = [{"row": 0, "column": "berkas", "message": exc.message}]
            else:
                flash(
                    _(
                        "Impor berhasil: %(created)d TPS baru, %(updated)d diperbarui, "
                        "%(unchanged)d tetap.",
                        created=result.created,
                        updated=result.updated,
                        unchanged=result.unchanged,
                    )
                )
                return redirect(url_for("plan.needs"))
    return render_template("plan/import.html", errors=errors, kab=kab), (422 if errors else 200)


# --- tepat biaya: leg budgets and costs -------------------------------------------------


@bp.get("/rencana/biaya")
@require("view")
def costs() -> Any:
    """Each leg's budget and recorded costs; the warehouse and admins enter them here."""
    user = signed_in_user()
    kab = kabkota_of(user)
    legs = service.leg_money(db.session, current_election().code, kab)
    names = PlaceNames(db.session)
    return render_template(
        "plan/biaya.html",
        legs=legs,
        names={code: names.node(code) for leg in legs for code in (leg.from_node, leg.to_node)},
        total_budget=sum(leg.budget or 0 for leg in legs),
        total_spent=sum(leg.spent for leg in legs),
    )


def _leg_and_amount(allow_empty: bool) -> tuple[str, str, int | None]:
    """The leg ("from>to") and rupiah amount of a budget or cost form; 422 when unreadable."""
    leg = request.form.get("leg", "")
    from_node, _sep, to_node = leg.partition(">")
    if not from_node or not to_node:
        raise ValidationFailed(_("Pilih leg perjalanan."))
    check_scope(signed_in_user(), to_node)
    text = request.form.get("jumlah", "").replace(".", "").replace(" ", "").strip()
    if not text and allow_empty:
        return from_node, to_node, None
    try:
        amount = int(text)
    except ValueError:
        raise ValidationFailed(_("Tulis jumlah rupiah sebagai angka, mis. 12500000.")) from None
    if not -(10**12) < amount < 10**12:
        raise ValidationFailed(_("Jumlah rupiah terlalu besar."))
    return from_node, to_node, amount


@bp.post("/rencana/biaya/anggaran")
@require("labels.issue")
def set_budget() -> Any:
    """Set (or, left empty, clear) one leg's budget."""
    from_node, to_node, amount = _leg_and_amount(allow_empty=True)
    service.set_budget(db.session, current_election().code, from_node, to_node, amount)
    flash(_("Anggaran disimpan."))
    return redirect(url_for("plan.costs"), 303)


@bp.post("/rencana/biaya/catat")
@require("labels.issue")
def record_cost() -> Any:
    """Record what a leg cost (a correction is a negative amount with a note)."""
    from_node, to_node, amount = _leg_and_amount(allow_empty=False)
    assert amount is not None
    service.record_cost(
        db.session,
        current_election().code,
        from_node,
        to_node,
        amount,
        request.form.get("catatan", ""),
        signed_in_user().id,
    )
    flash(_("Biaya dicatat."))
    return redirect(url_for("plan.costs"), 303)
