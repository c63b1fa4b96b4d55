"""``flask regions``, ``flask plan``, ``flask elections`` and ``flask demo`` commands."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from app.errors import PlanImportError, TepatError
from app.extensions import db
from app.plan import demo, service

regions_cli = AppGroup("regions", help="Data wilayah Kemendagri / region codes.")
plan_cli = AppGroup("plan", help="Rencana distribusi / distribution plan.")
demo_cli = AppGroup("demo", help="Wilayah demo Gunung Mas / the demo region.")


@regions_cli.command("load")
@click.argument(
    "path", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--prefix", multiple=True, help="Only these codes (and their parents/children).")
def load_regions(path: Path | None, prefix: tuple[str, ...]) -> None:
    """Load wilayah.csv (kode,nama); defaults to ../shared/data/wilayah.csv."""
    source = path or Path(current_app.config["TEPAT_SHARED_DATA"]) / "wilayah.csv"
    if not source.exists():
        raise click.ClickException(f"Berkas wilayah tidak ditemukan: {source}")
    count = service.load_regions(db.session, source, prefix)
    click.echo(f"{count} wilayah dimuat dari {source}.")


@plan_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--election", "election_code", default=demo.ELECTION_CODE, show_default=True)
@click.option("--kabupaten", required=True, help="Kabupaten/kota code, e.g. 62.10.")
@click.option(
    "--remove-missing",
    is_flag=True,
    help="Remove stored TPS that are not in the file (kept if labels or scans exist).",
)
def import_plan(path: Path, election_code: str, kabupaten: str, remove_missing: bool) -> None:
    """Import a TPS list (CSV or XLSX) and compute the needs; all rows or nothing."""
    try:
        result = service.import_tps(
            db.session,
            election_code,
            kabupaten,
            path.name,
            path.read_bytes(),
            remove_missing=remove_missing,
        )
    except PlanImportError as exc:
        for error in exc.errors:
            click.echo(f"  {error}" + (f" (nilai: {error.value})" if error.value else ""), err=True)
        raise click.ClickException(exc.message) from exc
    except TepatError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(
        f"TPS baru {result.created}, diperbarui {result.updated}, tetap {result.unchanged}; "
        f"{result.plan_lines} baris rencana."
    )
    if result.removed:
        click.echo(f"Dihapus {len(result.removed)} TPS yang tidak ada di berkas.")
    if result.kept:
        click.echo(
            f"Peringatan: {len(result.kept)} TPS tidak ada di berkas tetapi tetap disimpan "
            f"(sudah ada label atau pindaian): {', '.join(result.kept[:20])}"
        )
    elif result.not_in_file and not result.removed:
        click.echo(
            f"Peringatan: {len(result.not_in_file)} TPS tersimpan tidak ada di berkas: "
            f"{', '.join(result.not_in_file[:20])}; hapus dengan --remove-missing."
        )


elections_cli = AppGroup("elections", help="Elections and their races, for any region.")


@elections_cli.command("create")
@click.argument("code")
@click.option("--name", required=True, help='e.g. "Pilkada Serentak 2024".')
@click.option("--day", "day", required=True, type=click.DateTime(["%Y-%m-%d"]), help="Hari H.")
@click.option(
    "--max-voters", default=600, show_default=True, help="Pemilih per TPS, paling banyak."
)
def create_election(code: str, name: str, day: datetime, max_voters: int) -> None:
    """Create an election; add its races with 'flask elections races CODE --add ...'."""
    try:
        election = service.create_election(db.session, code, name, day.date(), max_voters)
    except TepatError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"Pemilihan {election.code} ({election.name}), hari H {election.election_day}.")


@elections_cli.command("races")
@click.argument("code")
@click.option(
    "--add",
    "adds",
    multiple=True,
    metavar="JENIS:WILAYAH[:NAMA]",
    help="GUB:32 (gubernur Jawa Barat), WAL:32.71, BUP:62.10; may repeat.",
)
def races(code: str, adds: tuple[str, ...]) -> None:
    """List an election's races, adding the ones given."""
    try:
        for spec in adds:
            kind, _, rest = spec.partition(":")
            region, _, name = rest.partition(":")
            if not region:
                raise click.ClickException(f"--add {spec!r}: tulis JENIS:WILAYAH, mis. WAL:32.71")
            service.add_race(db.session, code, kind, region, name or None)
        election = service.get_election(db.session, code)
    except TepatError as exc:
        raise click.ClickException(exc.message) from exc
    if not election.races:
        click.echo(f"Pemilihan {code} belum punya pemilihan; tambahkan dengan --add.")
    for race in election.races:
        click.echo(f"{race.kind.value}  {race.region_code:<8} {race.name}")


@plan_cli.command("export")
@click.option("--election", "election_code", default=demo.ELECTION_CODE, show_default=True)
@click.option("--kabupaten", required=True)
@click.option("--level", type=click.Choice(service.LEVELS), default="kecamatan", show_default=True)
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "xlsx"]), default="csv", show_default=True
)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path))
def export_plan(
    election_code: str, kabupaten: str, level: str, fmt: str, output: Path | None
) -> None:
    """Export needs per TPS, desa, kecamatan or kabupaten."""
    table = service.needs_table(db.session, election_code, kabupaten, level)
    if output is None:
        if fmt == "xlsx":
            raise click.ClickException("XLSX perlu --output.")
        service.export_needs(table, fmt, sys.stdout.buffer)
        return
    with output.open("wb") as out:
        service.export_needs(table, fmt, out)
    click.echo(f"{len(table.rows)} baris ditulis ke {output}.")


@plan_cli.command("rules")
def list_rules() -> None:
    """Show the quantity rules per item type (they are data: edit with `plan rule`)."""
    click.echo(
        f"{'kode':<8} {'per TPS':>7} {'per ras':>7} {'per pemilih':>11} {'cadangan %':>10} "
        f"{'cad. kec.':>9} {'cad. gudang':>11} {'ikat':>4}  nama"
    )
    for rule in service.load_rules(db.session):
        click.echo(
            f"{rule.code:<8} {rule.per_tps:>7} {'ya' if rule.per_race else '-':>7} "
            f"{'ya' if rule.per_voter else '-':>11} {rule.reserve_percent:>10} "
            f"{rule.spare_per_kecamatan:>9} {rule.fixed_reserve_per_race:>11} "
            f"{rule.bundle_size:>4}  {rule.name_id}"
        )


@plan_cli.command("rule")
@click.argument("code")
@click.option("--per-tps", type=click.IntRange(0, 10_000))
@click.option("--reserve-percent", type=click.FloatRange(0, 100))
@click.option("--spare-per-kecamatan", type=click.IntRange(0, 10_000))
@click.option("--fixed-reserve-per-race", type=click.IntRange(0, 1_000_000))
@click.option("--bundle-size", type=click.IntRange(1, 10_000))
@click.option("--election", "election_code", default=demo.ELECTION_CODE, show_default=True)
def edit_rule(code: str, election_code: str, **changes: object) -> None:
    """Change one item type's quantity rule and recompute every kabupaten's plan."""
    try:
        counts = service.edit_rule(
            db.session, election_code, code, {k: v for k, v in changes.items() if v is not None}
        )
    except TepatError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(
        f"Aturan {code} diperbarui; rencana dihitung ulang: "
        + ", ".join(f"{kab} ({n} baris)" for kab, n in counts.items())
    )


@plan_cli.command("budget")
@click.argument("from_node")
@click.argument("to_node")
@click.argument("amount", type=click.IntRange(0), required=False)
@click.option("--election", "election_code", default=demo.ELECTION_CODE, show_default=True)
def set_budget(from_node: str, to_node: str, amount: int | None, election_code: str) -> None:
    """Set a leg's budget in rupiah (no AMOUNT clears it)."""
    try:
        service.set_budget(db.session, election_code, from_node, to_node, amount)
    except TepatError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(
        f"Anggaran {from_node} → {to_node}: "
        + (f"Rp{amount:,}".replace(",", ".") if amount is not None else "dihapus")
    )


@plan_cli.command("cost")
@click.argument("from_node")
@click.argument("to_node")
@click.argument("amount", type=int)
@click.option("--note", default="", help="What it paid for, e.g. 'sewa kelotok'.")
@click.option("--election", "election_code", default=demo.ELECTION_CODE, show_default=True)
def record_cost(from_node: str, to_node: str, amount: int, note: str, election_code: str) -> None:
    """Record what a leg cost (tepat biaya); a correction is a negative amount."""
    try:
        service.record_cost(db.session, election_code, from_node, to_node, amount, note)
    except TepatError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"Biaya {from_node} → {to_node} Rp{amount:,} dicatat.".replace(",", "."))


@plan_cli.command("return")
@click.argument("kabupaten")
@click.option(
    "--level",
    type=click.Choice(["kpps", "pps", "ppk"]),
    help="Who sends the boxes back: kpps (to PPS), pps (to PPK), ppk (to the gudang).",
)
@click.option("--day", type=click.IntRange(0, 60), help="Days after election day (H+n).")
@click.option("--time", "at", default="18:00", show_default=True, help="Local time, HH:MM.")
@click.option("--election", "election_code", default=demo.ELECTION_CODE, show_default=True)
def return_deadlines(
    kabupaten: str, level: str | None, day: int | None, at: str, election_code: str
) -> None:
    """Show the return deadlines of a kabupaten, or set one level's (H+n at a local time)."""
    from datetime import time

    if level is not None and day is not None:
        try:
            local = time.fromisoformat(at)
        except ValueError:
            raise click.ClickException("--time harus HH:MM, mis. 18:00.") from None
        try:
            moved = service.set_return_deadline(
                db.session, election_code, kabupaten, level, day, local
            )
        except TepatError as exc:
            raise click.ClickException(exc.message) from exc
        click.echo(
            f"Tenggat kembali {level} diubah ke H+{day} {local:%H.%M}; {moved} leg dipindah."
        )
    elif level is not None or day is not None:
        raise click.ClickException("Isi --level dan --day bersama-sama.")
    names = {"kpps": "TPS → PPS", "pps": "PPS → PPK", "ppk": "PPK → gudang"}
    for kind, (offset, local) in service.return_schedule(
        db.session, election_code, kabupaten
    ).items():
        click.echo(f"  {names[kind.value]:<14} H+{offset} {local:%H.%M}")


@demo_cli.command("load")
@click.option("--plan-only", is_flag=True, help="Skip the simulated distribution.")
@click.option(
    "--until",
    envvar="DEMO_NOW",
    help="ISO instant the demo stands on (default H-1 15.00 WIB); after election day the "
    "way back is played too, e.g. 2024-11-28T08:00:00Z (H+1 15.00 WIB).",
)
def load_demo(plan_only: bool, until: str | None) -> None:
    """Load Gunung Mas (Pilkada 2024), the demo accounts and a distribution in progress."""
    from app.custody import simulation
    from app.timeutil import parse_instant

    try:
        stand_on = parse_instant(until) if until else simulation.DEMO_NOW
    except ValueError:
        raise click.ClickException("--until / DEMO_NOW harus waktu ISO-8601.") from None
    from app.custody.cli import origin
    from app.custody.ledger import integrate
    from app.items.keys import KeyStoreError, load_keyring, load_signer
    from app.plan.demo_loader import load

    for line in load(db.session):
        click.echo(line)
    if plan_only:
        return
    key_dir = current_app.config["TEPAT_KEY_DIR"]
    try:
        signer, keyring = load_signer(key_dir), load_keyring(key_dir)
    except KeyStoreError as exc:
        raise click.ClickException(f"{exc} Distribusi demo dilewati.") from exc
    click.echo("Memainkan distribusi demo (label, kemas, kirim, terima) ...")
    story = simulation.run(db.session, signer, keyring, until=stand_on)
    checkpoint = integrate(db.session, key_dir, origin())
    if story.counts.get("scans"):
        click.echo(
            f"{story.counts['scans']} pindaian dikirim, {story.counts['accepted']} diterima."
        )
    for line in story.lines:
        click.echo(f"  - {line}")
    if checkpoint is not None:
        click.echo(f"Log Merkle: checkpoint {checkpoint.tree_size} ditandatangani.")
    if story.counts.get("closings"):
        click.echo(f"{story.counts['closings']} catatan penutupan TPS (C.Hasil) dicatat.")
    moment = stand_on.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    click.echo(f"Demo berdiri pada {moment}: jalankan dengan TEPAT_NOW={moment}.")


def init_app(app: Flask) -> None:
    """Register the commands."""
    app.cli.add_command(regions_cli)
    app.cli.add_command(plan_cli)
    app.cli.add_command(elections_cli)
    app.cli.add_command(demo_cli)
