"""Gudang (warehouse) pages: print labels, reprint and void, pack kits, the day's dispatch.

Every page checks the role (``require``) and the region scope: a code, serial or job
outside the user's scope is a 404, as if it did not exist.
"""

from __future__ import annotations

import io
from datetime import date
from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)
from flask_babel import gettext as _
from werkzeug.wrappers import Response

import labels
from app import english
from app.auth.access import (
    check_scope,
    require,
    scope_overlaps,
    signed_in_user,
    wants_json,
)
from app.clock import now
from app.errors import Conflict, NotFound, TepatError, ValidationFailed
from app.extensions import db
from app.items import documents, jobs, kits, service
from app.items.keys import KeyStoreError, load_keyring, load_signer
from app.plan import codes
from app.plan.service import region_names
from app.plan.views import current_election, kabkota_of
from app.timeutil import h_label

bp = Blueprint("items", __name__, url_prefix="/gudang")


class KeysMissing(TepatError):
    """The server has no label-signing key yet."""

    status = 503
    code = "keys_missing"


def _key_dir() -> str:
    return str(current_app.config["TEPAT_KEY_DIR"])


def _keyring() -> labels.Keyring:
    try:
        return load_keyring(_key_dir())
    except KeyStoreError as exc:
        raise KeysMissing(str(exc)) from exc


def _signer() -> labels.Signer:
    try:
        return load_signer(_key_dir())
    except KeyStoreError as exc:
        raise KeysMissing(str(exc)) from exc


def layout_names() -> dict[str, str]:
    """Label layouts with their names in the reader's language."""
    return {
        "a4-sticker": _("Stiker kotak, A4 (8 per lembar)"),
        "thermal-100x150": _("Termal 100 × 150 mm"),
        "thermal-100x50": _("Termal 100 × 50 mm"),
    }


def job_states() -> dict[str, str]:
    """Print job states in the reader's language."""
    return {
        "queued": _("Menunggu"),
        "running": _("Sedang mencetak"),
        "done": _("Selesai"),
        "failed": _("Gagal"),
    }


def stages() -> dict[str, str]:
    """Where an item stands, in the reader's language."""
    return {
        "gudang": _("di gudang"),
        "jalan": _("dalam perjalanan"),
        "ppk": _("di PPK"),
        "pps": _("di PPS"),
        "kpps": _("di TPS"),
        "dibuka": _("dibuka di TPS"),
        "kembali": _("kembali"),
        "kembali_jalan": _("kembali"),
    }


def label_actions() -> dict[str, str]:
    """Label log actions in the reader's language."""
    return {"issue": _("diterbitkan"), "reprint": _("dicetak ulang"), "void": _("dibatalkan")}


def _pdf(data: bytes, name: str) -> Response:
    return send_file(io.BytesIO(data), mimetype="application/pdf", download_name=name)


@bp.get("/")
@require("labels.issue")
def index() -> Any:
    """The warehouse starts at label printing."""
    return redirect(url_for("items.labels_form"))


# --- printing --------------------------------------------------------------------------


def _labels_page(status: int = 200, error: str | None = None) -> Any:
    user = signed_in_user()
    scope_region = codes.node_region(user.scope_code)
    regions = {
        code: name
        for code, name in region_names(db.session, scope_region).items()
        if codes.within(code, user.scope_code)
    }
    form = request.form if request.method == "POST" else request.args
    return render_template(
        "items/labels.html",
        types=service.labelled_types(db.session),
        layouts=layout_names(),
        regions=regions,
        jobs=jobs.JobStore.for_app().recent(user.id),
        error=error,
        states=job_states(),
        region=form.get("wilayah", user.scope_code),
        chosen=form.getlist("jenis"),
        layout=form.get("tata_letak", "a4-sticker"),
        mode=form.get("mode", "baru"),
    ), status


@bp.get("/label")
@require("labels.issue")
def labels_form() -> Any:
    """Choose a region, item types and a layout; the latest print jobs."""
    return _labels_page()


@bp.post("/label")
@require("labels.issue")
def labels_print() -> Any:
    """Start a print job: new labels of a region, a reprint of a region, or one serial."""
    user = signed_in_user()
    election = current_election()
    layout = request.form.get("tata_letak", "a4-sticker")
    link_base = current_app.config["TEPAT_LABEL_BASE_URL"] if request.form.get("tautan") else None
    serial = request.form.get("seri", "").strip()
    if serial:
        item = service.get_item(db.session, serial)
        check_scope(user, item.destination)
        order = jobs.PrintOrder(
            election.code, layout, serials=[item.serial], user_id=user.id, link_base=link_base
        )
        title = _("Cetak ulang %(serial)s", serial=labels.format_serial(item.serial))
        download = f"label-ulang-{item.serial}.pdf"
        count = 1
    else:
        region = request.form.get("wilayah", "").strip()
        if not (codes.TPS_ID.match(region) or codes.REGION_CODE.match(region)):
            return _labels_page(422, _("Tulis kode wilayah (mis. 62.10.02) atau ID TPS 13 digit."))
        check_scope(user, region)
        reprint = request.form.get("mode") == "ulang"
        # "Only this type" buttons print one item type in one step, whatever is ticked.
        only = request.form.get("hanya", "").strip()
        chosen = [only] if only else request.form.getlist("jenis")
        if not chosen:
            return _labels_page(422, _("Pilih paling sedikit satu jenis barang."))
        try:
            jobs.layout_named(layout)
            types = service.check_types(db.session, chosen)
            if reprint:
                count = len(service.items_in_region(db.session, election.code, region, types))
                if not count:
                    raise NotFound(_("Belum ada label terbit untuk wilayah dan jenis barang itu."))
            else:
                count = len(service.plan_issue(db.session, election.code, region, types).missing)
                if not count:
                    raise Conflict(
                        _(
                            "Semua label wilayah dan jenis barang itu sudah "
                            "diterbitkan; pilih cetak ulang untuk mencetaknya lagi."
                        )
                    )
        except (ValidationFailed, NotFound, Conflict) as exc:
            return _labels_page(exc.status, exc.message)
        order = jobs.PrintOrder(
            election.code,
            layout,
            region=region,
            item_types=types,
            reprint=reprint,
            user_id=user.id,
            link_base=link_base,
        )
        title = (
            _("Cetak ulang %(region)s", region=region)
            if reprint
            else _("Label baru %(region)s", region=region)
        )
        title += f" · {', '.join(types)} · {layout}"
        download = f"label-{'ulang-' if reprint else ''}{region}-{layout}.pdf"
    background = count > int(current_app.config.get("TEPAT_LABEL_SYNC_LIMIT", 300))
    status = jobs.start(order, title=title, download_name=download, background=background)
    return redirect(url_for("items.job", job_id=status.id), 303)


def _own_job(job_id: str) -> jobs.JobStatus:
    status = jobs.JobStore.for_app().load(job_id)
    if status.user_id != str(signed_in_user().id):
        raise NotFound(_("Pekerjaan cetak tidak ditemukan."))
    return status


@bp.get("/label/pekerjaan/<job_id>")
@require("labels.issue")
def job(job_id: str) -> Any:
    """A print job's progress: a page, or JSON for the page's script to poll."""
    status = _own_job(job_id)
    download = url_for("items.job_pdf", job_id=status.id) if status.state == "done" else None
    if wants_json():
        return jsonify({**status.to_dict(), "download_url": download})
    return render_template("items/job.html", job=status, download=download, states=job_states())


@bp.get("/label/pekerjaan/<job_id>/pdf")
@require("labels.issue")
def job_pdf(job_id: str) -> Any:
    """Download the PDF of a finished print job."""
    status = _own_job(job_id)
    path = jobs.JobStore.for_app().pdf(status.id)
    if status.state != "done" or not path.exists():
        raise NotFound(_("PDF belum siap atau sudah dihapus."))
    return send_file(
        path, mimetype="application/pdf", as_attachment=True, download_name=status.download_name
    )


# --- one serial: history, reprint, void ------------------------------------------------


def _serial_page(
    item: Any = None, status: int = 200, error: str | None = None, query: str = ""
) -> Any:
    context: dict[str, Any] = {
        "item": item,
        "error": error,
        "query": query,
        "layouts": layout_names(),
        "actions": label_actions(),
    }
    if item is not None:
        catalogue = documents.Catalogue(db.session)
        context.update(
            type_name=catalogue.type_name(item.item_type_code),
            quantity=catalogue.quantity_text(item.item_type_code, item.quantity),
            race=documents.race_name(item.race_kind),
            destination=kits.node_name(db.session, item.destination),
            history=service.label_history(db.session, item.serial),
            display=labels.format_serial(item.serial),
            replacement=service.replacement_of(db.session, item),
            serial_text=labels.format_serial,
        )
    return render_template("items/serial.html", **context), status


@bp.get("/seri")
@require("labels.void")
def serial() -> Any:
    """Find a label by its serial as people type it, or by scanning it; its history."""
    query = request.args.get("serial", "").strip()
    if not query:
        return _serial_page()
    try:
        keyring = _keyring() if not labels.is_serial(query) else None
        item = service.find_item(db.session, query, keyring)
        check_scope(signed_in_user(), item.destination)
    except NotFound:
        return _serial_page(
            status=404, query=query, error=_("Nomor seri tidak ditemukan di wilayah Anda.")
        )
    return _serial_page(item, query=query)


@bp.post("/seri/<serial>/batal")
@require("labels.void")
def void(serial: str) -> Any:
    """Void a label for good, with a reason; optionally print a replacement at once."""
    user = signed_in_user()
    item = service.get_item(db.session, serial)
    check_scope(user, item.destination)
    reason = request.form.get("alasan", "").strip()
    if not reason:
        return _serial_page(item, 422, _("Alasan pembatalan wajib diisi."))
    try:
        service.void_item(db.session, item, user.id, reason)
    except Conflict as exc:
        return _serial_page(item, exc.status, exc.message)
    flash(
        _(
            "Label %(serial)s dibatalkan; pindaiannya akan ditolak.",
            serial=labels.format_serial(item.serial),
        )
    )
    if request.form.get("pengganti"):
        return _start_replacement(item, user.id)
    return redirect(url_for("items.serial", serial=item.serial), 303)


def _start_replacement(item: Any, user_id: Any) -> Any:
    """Print the replacement label of a voided item as a job and show the job."""
    layout = request.form.get("tata_letak", "a4-sticker")
    order = jobs.PrintOrder(current_election().code, layout, replace=item.serial, user_id=user_id)
    status = jobs.start(
        order,
        title=_("Label pengganti %(serial)s", serial=labels.format_serial(item.serial)),
        download_name=f"label-pengganti-{item.serial}.pdf",
        background=False,
    )
    return redirect(url_for("items.job", job_id=status.id), 303)


@bp.post("/seri/<serial>/pengganti")
@require("labels.void")
def replace(serial: str) -> Any:
    """Issue and print the replacement of a voided label, any time after voiding (once)."""
    user = signed_in_user()
    item = service.get_item(db.session, serial)
    check_scope(user, item.destination)
    if item.voided_at is None:
        return _serial_page(item, 409, _("Hanya label yang sudah dibatalkan yang dapat diganti."))
    if service.replacement_of(db.session, item) is not None:
        return _serial_page(item, 409, _("Label ini sudah punya label pengganti."))
    return _start_replacement(item, user.id)


# --- kit packing -----------------------------------------------------------------------


@bp.get("/kemas")
@require("scan")
def pack() -> Any:
    """Scan a kit's label, then its contents; the planned contents tick off."""
    query = request.args.get("paket", "").strip()
    if not query:
        return render_template("items/pack.html", kit=None, query="")
    election = current_election()
    try:
        keyring = _keyring() if not labels.is_serial(query) else None
        kit = kits.resolve_kit(db.session, query, keyring)
        check_scope(signed_in_user(), kit.destination)
    except NotFound:
        return render_template(
            "items/pack.html",
            kit=None,
            query=query,
            error=_("Label paket tidak dikenal di wilayah Anda."),
        ), 404
    except (ValidationFailed, Conflict) as exc:
        return render_template(
            "items/pack.html", kit=None, query=query, error=exc.message
        ), exc.status
    return render_template(
        "items/pack.html", query=query, kit=kits.kit_status(db.session, election, kit)
    )


def _pack_answer(outcome: kits.PackOutcome) -> dict[str, Any]:
    """The packing page's JSON, in English on the English page."""
    answer = outcome.to_dict()
    return english.translate_pack(answer) if english.english_ui() else answer


@bp.post("/kemas")
@require("scan")
def pack_scan() -> Any:
    """Record one item going into the kit (a ``kemas`` scan); JSON for the page's script."""
    body = request.get_json(silent=True) if request.is_json else request.form
    if not isinstance(body, dict):
        raise ValidationFailed(_("Kirim paket dan label."))
    kit = service.get_item(db.session, str(body.get("paket") or ""))
    user = signed_in_user()
    check_scope(user, kit.destination)
    scanned = str(body.get("label") or "")
    event_id = str(body.get("event_id") or "") or None
    outcome = kits.pack(
        db.session,
        current_election(),
        user=user,
        kit_serial=kit.serial,
        scanned=scanned,
        keyring=_keyring(),
        now=now,
        event_id=event_id,
    )
    if request.is_json:
        return jsonify(_pack_answer(outcome))
    flash(outcome.message)
    for problem in outcome.problems:
        if problem != outcome.message:
            flash(problem)
    return redirect(url_for("items.pack", paket=kit.serial), 303)


@bp.post("/kemas/keluarkan")
@require("scan")
def pack_take_out() -> Any:
    """Take one item out of the kit again, with a reason (a ``keluarkan`` scan)."""
    body = request.get_json(silent=True) if request.is_json else request.form
    if not isinstance(body, dict):
        raise ValidationFailed(_("Kirim paket, nomor seri dan alasan."))
    kit = service.get_item(db.session, str(body.get("paket") or ""))
    user = signed_in_user()
    check_scope(user, kit.destination)
    outcome = kits.unpack(
        db.session,
        current_election(),
        user=user,
        kit_serial=kit.serial,
        serial=str(body.get("serial") or ""),
        reason=str(body.get("reason") or ""),
        keyring=_keyring(),
        now=now,
        event_id=str(body.get("event_id") or "") or None,
    )
    if request.is_json:
        return jsonify(_pack_answer(outcome))
    flash(outcome.message)
    return redirect(url_for("items.pack", paket=kit.serial), 303)


@bp.get("/kemas/<tps>/daftar.pdf")
@require("labels.issue")
def kit_manifest(tps: str) -> Any:
    """The packing list of a TPS kit, with the kit's QR code."""
    check_scope(signed_in_user(), tps)
    if not codes.TPS_ID.match(tps):
        raise NotFound(_("Data tidak ditemukan."))
    documents.kit_of(db.session, tps)  # before the key: no kit is a 404, not a key problem
    manifest = documents.kit_manifest(db.session, current_election(), tps, _signer())
    out = io.BytesIO()
    labels.write_kit_manifest(manifest, out)
    return _pdf(out.getvalue(), f"daftar-paket-{tps}.pdf")


# --- the day's dispatch ----------------------------------------------------------------


@bp.get("/kirim")
@require("labels.issue")
def dispatch() -> Any:
    """Legs leaving the warehouse on a day, their kits, and each leg's BAST."""
    user = signed_in_user()
    gudang = kabkota_of(user)
    election = current_election()
    days = kits.dispatch_days(db.session, election, gudang, user.scope_code)
    today = kits.local_day(now(), gudang)
    day = next((d for d in days if d >= today), max(days) if days else today)
    chosen = request.args.get("tanggal", "").strip()
    if chosen:
        try:
            day = date.fromisoformat(chosen)
        except ValueError:
            raise ValidationFailed(_("Tanggal harus berformat TTTT-BB-HH.")) from None
    legs = kits.dispatch_list(db.session, election, gudang, day, user.scope_code)
    return render_template(
        "items/dispatch.html",
        day=day,
        days=days,
        legs=legs,
        gudang=gudang,
        today=today,
        stages=stages(),
        h_label=h_label,
    )


@bp.get("/kirim/<dari>/<ke>/bast.pdf")
@require("labels.issue")
def handover(dari: str, ke: str) -> Any:
    """The berita acara serah terima of one leg, pre-filled from the plan."""
    try:
        # The leg is the user's when its lower end (the receiver going down) is theirs.
        lower = ke if codes.within(ke, dari) else dari
        visible = scope_overlaps(signed_in_user(), lower)
    except ValueError:
        visible = False
    if not visible:
        raise NotFound(_("Data tidak ditemukan."))
    form = documents.handover_form(
        db.session, current_election(), dari, ke, current_app.config["TEPAT_LABEL_BASE_URL"]
    )
    out = io.BytesIO()
    labels.write_handover_form(form, out)
    return _pdf(out.getvalue(), f"bast-{dari}-{ke}.pdf")
