"""``flask keys`` (label-signing keys) and ``flask labels`` (print, void, kit lists, BAST)."""

from __future__ import annotations

import os
import sys
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup

import labels
from app.errors import TepatError
from app.extensions import db
from app.items import documents, jobs, keys, service
from app.plan import codes
from app.plan.models import Election
from app.plan.service import get_election
from app.timeutil import utcnow

keys_cli = AppGroup("keys", help="Kunci tanda tangan label / label-signing keys.")


def _key_dir() -> Path:
    return Path(current_app.config["TEPAT_KEY_DIR"])


def _output_file(_ctx: click.Context, param: click.Parameter, value: Path | None) -> Path | None:
    """Check an output file's folder before anything is issued or written."""
    return None if value is None else _writable(value, "/".join(param.opts))


def _writable(value: Path, hint: str = "--output") -> Path:
    """Return ``value`` when a file can be written there, or raise a one-line CLI error."""
    folder = value.parent
    if value.is_dir():
        raise click.BadParameter(f"{value} adalah folder; beri nama berkas.", param_hint=hint)
    if not folder.is_dir():
        raise click.BadParameter(
            f"folder {folder} tidak ada; buat dulu atau pilih tempat lain.", param_hint=hint
        )
    if not os.access(folder, os.W_OK) or (value.exists() and not os.access(value, os.W_OK)):
        raise click.BadParameter(f"tidak boleh menulis ke {value}.", param_hint=hint)
    return value


def _write_failed(output: Path, exc: OSError) -> click.ClickException:
    return click.ClickException(f"Gagal menulis {output}: {exc.strerror or exc}")


def _key_failed(folder: Path, exc: Exception) -> click.ClickException:
    detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return click.ClickException(f"Folder kunci {folder}: {detail}")


def _create_key(folder: Path) -> str:
    try:
        return keys.create_key(folder, utcnow().date())
    except (keys.KeyStoreError, labels.LabelError, OSError) as exc:
        raise _key_failed(folder, exc) from exc


@keys_cli.command("init")
@click.option("--if-missing", is_flag=True, help="Do nothing when a key already exists.")
def init_keys(if_missing: bool) -> None:
    """Create the first signing key (outside the database and the repository)."""
    folder = _key_dir()
    if (folder / keys.KEYRING_FILE).exists():
        if if_missing:
            click.echo(f"Kunci sudah ada di {folder}.")
            return
        raise click.ClickException(f"Kunci sudah ada di {folder}; pakai 'flask keys rotate'.")
    key_id = _create_key(folder)
    click.echo(f"Kunci {key_id} dibuat di {folder}.")


@keys_cli.command("rotate")
@click.option("--retire-old", is_flag=True, help="Retire every earlier key at once.")
def rotate_keys(retire_old: bool) -> None:
    """Add a new active key; old labels keep verifying."""
    folder = _key_dir()
    try:
        old = (
            keys.load_keyring(folder).active_key_ids
            if (folder / keys.KEYRING_FILE).exists()
            else ()
        )
        key_id = _create_key(folder)
        if retire_old:
            for previous in old:
                keys.retire_key(folder, previous)
    except (keys.KeyStoreError, labels.LabelError, OSError) as exc:
        raise _key_failed(folder, exc) from exc
    retired = f" Dipensiunkan: {', '.join(old)}." if retire_old and old else ""
    click.echo(f"Kunci baru {key_id} aktif.{retired}")


@keys_cli.command("retire")
@click.argument("key_id")
def retire(key_id: str) -> None:
    """Retire a key: it still verifies, it no longer signs."""
    try:
        keys.retire_key(_key_dir(), key_id)
    except (keys.KeyStoreError, labels.LabelError, OSError) as exc:
        raise _key_failed(_key_dir(), exc) from exc
    click.echo(f"Kunci {key_id} dipensiunkan.")


@keys_cli.command("export")
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, path_type=Path), callback=_output_file
)
def export(output: Path | None) -> None:
    """Export the public keys (JSON) for scanners to verify labels offline."""
    try:
        text = keys.load_keyring(_key_dir()).to_json()
    except keys.KeyStoreError as exc:
        raise click.ClickException(str(exc)) from exc
    if output is None:
        sys.stdout.write(text + "\n")
    else:
        try:
            output.write_text(text)
        except OSError as exc:
            raise _write_failed(output, exc) from exc
        click.echo(f"Kunci publik ditulis ke {output}.")


labels_cli = AppGroup(
    "labels", help="Label barang: cetak, batalkan, daftar paket, BAST / item labels."
)


def _election(code: str | None) -> Election:
    if code:
        return get_election(db.session, code)
    from app.plan.views import current_election

    return current_election()


def _fail(exc: Exception) -> click.ClickException:
    return click.ClickException(exc.message if isinstance(exc, TepatError) else str(exc))


@labels_cli.command("print")
@click.option("--region", "-r", help="Kode kabupaten, kecamatan, desa, atau ID TPS.")
@click.option(
    "--types",
    "-t",
    default="",
    help="Jenis barang dipisah koma, mis. KOTAK,SURAT (bawaan: semua yang berlabel).",
)
@click.option(
    "--layout",
    "-l",
    type=click.Choice(list(labels.LAYOUTS)),
    default="a4-sticker",
    show_default=True,
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    callback=_output_file,
    help="Berkas PDF (bawaan: label-<wilayah>-<tata letak>.pdf).",
)
@click.option(
    "--reprint",
    is_flag=True,
    help="Cetak ulang label yang sudah terbit (nomor seri sama; dicatat).",
)
@click.option(
    "--serial", "serials", multiple=True, help="Cetak ulang nomor seri ini (boleh diulang)."
)
@click.option("--election", "election_code", help="Kode pemilihan (bawaan: yang terbaru).")
@click.option(
    "--link",
    is_flag=True,
    help="QR berisi tautan https (TEPAT_LABEL_BASE_URL): kamera HP membuka halaman barang.",
)
def print_labels(
    region: str | None,
    types: str,
    layout: str,
    output: Path | None,
    reprint: bool,
    serials: tuple[str, ...],
    election_code: str | None,
    link: bool,
) -> None:
    """Issue the missing labels of a region and write their PDF (or reprint, with --reprint)."""
    if not region and not serials:
        raise click.UsageError("Isi --region KODE atau --serial NOMOR.")
    if region and not (codes.TPS_ID.match(region) or codes.REGION_CODE.match(region)):
        raise click.BadParameter("kode wilayah atau ID TPS 13 digit", param_hint="--region")
    try:
        election = _election(election_code)
    except TepatError as exc:
        raise _fail(exc) from exc
    output = _writable(output or Path(f"label-{region or 'seri'}-{layout}.pdf"))
    base_url = current_app.config["TEPAT_LABEL_BASE_URL"]
    if link:
        try:
            labels.payload.url_prefix(base_url)
        except ValueError as exc:
            raise click.ClickException(f"TEPAT_LABEL_BASE_URL tidak dapat dipakai: {exc}") from exc
    order = jobs.PrintOrder(
        election.code,
        layout,
        region=region,
        item_types=[t for t in types.split(",") if t.strip()] or None,
        reprint=reprint,
        serials=list(serials),
        note="CLI",
        link_base=base_url if link else None,
    )
    with ExitStack() as stack:
        bar: Any = None

        def progress(done: int, total: int) -> None:
            nonlocal bar
            if bar is None:
                bar = stack.enter_context(
                    click.progressbar(
                        length=total,
                        label=f"Mencetak {total} label",
                        show_pos=True,
                        show_percent=True,
                    )
                )
            bar.update(done - bar.pos)

        try:
            result = jobs.run(db.session, order, _key_dir(), output, progress)
        except (TepatError, keys.KeyStoreError) as exc:
            raise _fail(exc) from exc
        except OSError as exc:
            raise _write_failed(output, exc) from exc
    what = "baru diterbitkan" if result.issued else "dicetak ulang"
    click.echo(f"{result.count} label {what}; PDF: {output}")


def _acting_user(username: str) -> uuid.UUID:
    """The account a label void or replacement is recorded under (custody log and label log)."""
    from app.auth.service import find_user

    try:
        return find_user(db.session, username).id
    except TepatError as exc:
        raise click.BadParameter(f"pengguna {username!r} tidak ada.", param_hint="--oleh") from exc


_BY_OPTION = click.option(
    "--oleh",
    "username",
    required=True,
    help="Nama pengguna petugas yang membatalkan / mengganti (dicatat di log).",
)
_LAYOUT_OPTION = click.option(
    "--layout", "-l", type=click.Choice(list(labels.LAYOUTS)), default="a4-sticker"
)
_REPLACEMENT_OUTPUT = click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    callback=_output_file,
    help="Berkas PDF label pengganti (bawaan: label-pengganti-<seri>.pdf).",
)


def _print_replacement(serial: str, user_id: uuid.UUID, layout: str, output: Path | None) -> None:
    """Issue the replacement of a voided serial and write its label."""
    output = _writable(output or Path(f"label-pengganti-{serial}.pdf"))
    order = jobs.PrintOrder(
        _election(None).code, layout, replace=serial, user_id=user_id, note="CLI"
    )
    try:
        jobs.run(db.session, order, _key_dir(), output)
    except (TepatError, keys.KeyStoreError) as exc:
        raise _fail(exc) from exc
    except OSError as exc:
        raise _write_failed(output, exc) from exc
    fresh = service.replacement_of(db.session, service.get_item(db.session, serial))
    assert fresh is not None
    click.echo(
        f"Label pengganti {labels.format_serial(fresh.serial)} untuk "
        f"{labels.format_serial(serial)}; PDF: {output}"
    )


@labels_cli.command("void")
@click.argument("serial")
@click.option("--reason", required=True, help="Mengapa label dibatalkan (wajib).")
@_BY_OPTION
@click.option("--replace", is_flag=True, help="Langsung terbitkan dan cetak label pengganti.")
@_LAYOUT_OPTION
@_REPLACEMENT_OUTPUT
def void_label(
    serial: str, reason: str, username: str, replace: bool, layout: str, output: Path | None
) -> None:
    """Void a label for good: every later scan of it is rejected (a cabut event in the log)."""
    user_id = _acting_user(username)
    try:
        item = service.void_item(db.session, service.get_item(db.session, serial), user_id, reason)
    except TepatError as exc:
        raise _fail(exc) from exc
    click.echo(f"Label {labels.format_serial(item.serial)} dibatalkan: {item.void_reason}")
    if replace:
        _print_replacement(item.serial, user_id, layout, output)


@labels_cli.command("replace")
@click.argument("serial")
@_BY_OPTION
@_LAYOUT_OPTION
@_REPLACEMENT_OUTPUT
def replace_label(serial: str, username: str, layout: str, output: Path | None) -> None:
    """Issue the replacement label of a voided serial, at any time after voiding (once)."""
    user_id = _acting_user(username)
    try:
        item = service.get_item(db.session, serial)
    except TepatError as exc:
        raise _fail(exc) from exc
    _print_replacement(item.serial, user_id, layout, output)


@labels_cli.command("manifest")
@click.argument("tps_id")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    callback=_output_file,
    help="Berkas PDF (bawaan: daftar-paket-<TPS>.pdf).",
)
@click.option("--election", "election_code", help="Kode pemilihan (bawaan: yang terbaru).")
def manifest(tps_id: str, output: Path | None, election_code: str | None) -> None:
    """Write the packing list of a TPS kit, with the kit's QR code."""
    output = _writable(output or Path(f"daftar-paket-{tps_id}.pdf"))
    try:
        kit = documents.kit_manifest(
            db.session, _election(election_code), tps_id, keys.load_signer(_key_dir())
        )
    except (TepatError, keys.KeyStoreError) as exc:
        raise _fail(exc) from exc
    try:
        labels.write_kit_manifest(kit, output)
    except OSError as exc:
        raise _write_failed(output, exc) from exc
    click.echo(f"Daftar kelengkapan paket {kit.serial} ({len(kit.lines)} barang): {output}")


@labels_cli.command("handover")
@click.argument("from_node")
@click.argument("to_node")
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    callback=_output_file,
    help="Berkas PDF (bawaan: bast-<dari>-<ke>.pdf).",
)
@click.option("--election", "election_code", help="Kode pemilihan (bawaan: yang terbaru).")
def handover(from_node: str, to_node: str, output: Path | None, election_code: str | None) -> None:
    """Write the berita acara serah terima (BAST) of one leg, pre-filled from the plan."""
    output = _writable(output or Path(f"bast-{from_node}-{to_node}.pdf"))
    try:
        form = documents.handover_form(
            db.session,
            _election(election_code),
            from_node,
            to_node,
            current_app.config["TEPAT_LABEL_BASE_URL"],
        )
    except TepatError as exc:
        raise _fail(exc) from exc
    try:
        pages = labels.write_handover_form(form, output)
    except OSError as exc:
        raise _write_failed(output, exc) from exc
    click.echo(f"BAST {form.document_number} ({len(form.lines)} baris, {pages} halaman): {output}")


def init_app(app: Flask) -> None:
    """Register the commands."""
    app.cli.add_command(keys_cli)
    app.cli.add_command(labels_cli)
