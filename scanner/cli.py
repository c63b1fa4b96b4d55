"""``tepat-scan``: the courier's command-line client.

    tepat-scan config --server URL --token TOKEN --node NODE --action terima
    tepat-scan keys-import keys.json     # or: tepat-scan fetch (keys + plan slice)
    tepat-scan run --source camera:0|video:PATH|images:DIR|stdin [--count N ...]
    tepat-scan status
    tepat-scan sync
    tepat-scan close --tps TPS --race GUB --received N --used N --invalid N --spoiled N \
        --unused N --voters-signed N --seal S1 --seal S2 [--box LABEL] [--photo FILE]

Exit codes: 0 done, 1 error, 2 usage, 3 token refused, 4 server unreachable (scans kept).
"""

from __future__ import annotations

import argparse
import logging
import sys
import threading
from collections.abc import Sequence
from typing import TextIO

import httpx

from scanner.client import BELL, CourierSession, Debouncer, ScanOptions
from scanner.closing import COUNTS, ClosingOutbox, ClosingSheet, push_closings
from scanner.config import ClientConfig, ClientHome
from scanner.decode import Pipeline
from scanner.errors import AuthError, ScanError, ServerUnavailable, SyncError
from scanner.outbox import Outbox
from scanner.plan import ACTIONS, CONDITIONS
from scanner.signing import DeviceKey
from scanner.sources import open_source
from scanner.sync import ScanApi, Syncer, SyncReport
from scanner.verify import KeyringVerifier, load_keyring

#: On a live camera, the full pipeline (with fallbacks) runs on every n-th frame.
FALLBACK_EVERY = 5
EXIT_OK, EXIT_ERROR, EXIT_USAGE, EXIT_AUTH, EXIT_UNREACHABLE = 0, 1, 2, 3, 4


class _Console:
    """Where the client writes; rings the bell on problems only on a terminal."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.lock = threading.Lock()
        isatty = getattr(out, "isatty", None)
        self.tty = bool(isatty and isatty())

    def say(self, text: str, bell: bool = False) -> None:
        with self.lock:
            self.out.write(text + (BELL if bell and self.tty else "") + "\n")
            self.out.flush()


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tepat-scan",
        description="Klien kurir Tepat: pindai label logistik pemilu, periksa, kirim ke server.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="PERINTAH")

    config = commands.add_parser("config", help="simpan server, token, node dan aksi")
    config.add_argument("--server", help="alamat server, mis. https://tepat.example")
    config.add_argument("--token", help="token perangkat")
    config.add_argument("--node", help="kode node, mis. 62.10.05")
    config.add_argument("--action", choices=ACTIONS, help="aksi bawaan")
    config.add_argument(
        "--dedupe-seconds",
        type=float,
        help="label yang sama dalam N detik dihitung satu scan (bawaan 3)",
    )

    keys = commands.add_parser("keys-import", help="impor kunci publik dari berkas JSON")
    keys.add_argument("file", help="berkas kunci publik yang diekspor server")

    commands.add_parser("fetch", help="unduh kunci publik dan rencana node dari server")

    run = commands.add_parser("run", help="pindai terus-menerus")
    run.add_argument(
        "--source", required=True, help="camera:0 | video:PATH | images:DIR[,FILE...] | stdin"
    )
    run.add_argument("--action", choices=ACTIONS, help="aksi untuk sesi ini")
    run.add_argument("--count", type=int, help="jumlah yang dihitung (mis. lembar surat suara)")
    run.add_argument("--condition", choices=CONDITIONS, help="kondisi barang")
    run.add_argument(
        "--seal", action="append", default=[], metavar="NOMOR", help="nomor segel (boleh diulang)"
    )
    run.add_argument("--counterpart", help="pihak lain serah terima (nama atau node)")
    run.add_argument("--container", help="teks QR wadah/kit tujuan pengemasan (aksi kemas)")
    run.add_argument("--note", default="", help="catatan")
    run.add_argument("--dedupe-seconds", type=float, help="jendela label sama (detik)")
    run.add_argument("--no-sync", action="store_true", help="jangan kirim ke server")
    run.add_argument("--sync-interval", type=float, default=5.0, help=argparse.SUPPRESS)

    close = commands.add_parser(
        "close", help="catat penutupan TPS: angka C.Hasil per pemilihan dan segel kotak"
    )
    close.add_argument("--tps", required=True, help="nomor TPS 13 digit")
    close.add_argument("--race", required=True, choices=("GUB", "BUP", "WAL"))
    for name in COUNTS:
        close.add_argument(
            "--" + name.replace("_", "-"),
            type=int,
            required=name != "reserve_drawn",
            default=0 if name == "reserve_drawn" else None,
        )
    close.add_argument("--seal", action="append", default=[], metavar="NOMOR", required=True)
    close.add_argument("--box", help="teks QR atau nomor seri kotak suara")
    close.add_argument("--photo", help="berkas foto formulir C.Hasil (JPEG/PNG)")
    close.add_argument("--reserve-note", default="", help="alasan surat suara cadangan dipakai")
    close.add_argument("--corrects", help="client id catatan yang dikoreksi")
    close.add_argument("--note", default="", help="catatan")
    close.add_argument("--no-sync", action="store_true", help="simpan saja, kirim nanti")

    commands.add_parser("status", help="tampilkan scan yang menunggu dan yang ditolak")
    sync = commands.add_parser("sync", help="kirim scan yang menunggu sekarang")
    sync.add_argument("--attempts", type=int, default=5, help="percobaan maksimum")
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    transport: httpx.BaseTransport | None = None,
    stdout: TextIO | None = None,
    home: ClientHome | None = None,
) -> int:
    """Entry point of ``tepat-scan``; returns the exit code."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    args = _parser().parse_args(argv)
    console = _Console(stdout or sys.stdout)
    app = _App(home or ClientHome(), console, transport)
    try:
        return int(getattr(app, "cmd_" + args.command.replace("-", "_"))(args))
    except AuthError as error:
        console.say(f"GAGAL   {error}", bell=True)
        return EXIT_AUTH
    except ServerUnavailable as error:
        console.say(f"TERTUNDA {error}")
        return EXIT_UNREACHABLE
    except ScanError as error:
        console.say(f"GAGAL   {error}")
        return EXIT_ERROR


class _App:
    def __init__(
        self, home: ClientHome, console: _Console, transport: httpx.BaseTransport | None
    ) -> None:
        self.home = home
        self.console = console
        self.transport = transport

    def _api(self, config: ClientConfig) -> ScanApi:
        return ScanApi(
            config.server,
            config.token,
            config.device_id,
            transport=self.transport,
            signer=DeviceKey.load_or_create(self.home.device_key_path),
        )

    def cmd_config(self, args: argparse.Namespace) -> int:
        config = self.home.configure(
            server=args.server,
            token=args.token,
            node=args.node,
            action=args.action,
            dedupe_seconds=args.dedupe_seconds,
        )
        self.console.say(
            f"Tersimpan di {self.home.config_path}\n"
            f"  server {config.server}\n  node   {config.node}\n  aksi   {config.action}\n"
            f"  token  ****{config.token[-4:]}\n  perangkat {config.device_id}"
        )
        return EXIT_OK

    def cmd_keys_import(self, args: argparse.Namespace) -> int:
        try:
            with open(args.file, encoding="utf-8") as handle:
                text = handle.read()
        except OSError as error:
            self.console.say(f"GAGAL   tidak dapat membaca {args.file}: {error}")
            return EXIT_ERROR
        keyring = load_keyring(text)
        self.home.save_keys(text)
        self.console.say(f"OK      {len(keyring)} kunci publik diimpor")
        return EXIT_OK

    def cmd_fetch(self, args: argparse.Namespace) -> int:
        config = self.home.load_config()
        with self._api(config) as api:
            keys = api.get_keys()
            keyring = load_keyring(keys)
            self.home.save_keys(keys)
            plan = self.home.save_plan(api.get_plan_slice(config.node))
        self.console.say(
            f"OK      {len(keyring)} kunci publik; rencana node {plan.node}: "
            f"{len(plan.destinations)} tujuan, {len(plan.voided)} label void"
        )
        return EXIT_OK

    def cmd_status(self, args: argparse.Namespace) -> int:
        config = self.home.load_config()
        keys = self.home.load_keys()
        plan = self.home.load_plan()
        with Outbox(self.home.outbox_path) as outbox:
            pending, oldest, problems = outbox.count(), outbox.oldest_time(), outbox.problems()
            last_seq = outbox.last_seq()
        key_line = "belum diimpor" if keys is None else _count_keys(keys)
        plan_line = (
            "belum diunduh"
            if plan is None
            else f"node {plan.node} ({plan.kind}), {len(plan.destinations)} tujuan, "
            f"{len(plan.voided)} void"
        )
        lines = [
            f"Perangkat {config.device_id}  node {config.node}  aksi {config.action}",
            f"Server    {config.server}",
            f"Kunci     {key_line}",
            f"Rencana   {plan_line}",
            f"Menunggu  {pending} scan"
            + (f" (tertua {oldest})" if oldest else "")
            + f"; nomor urut terakhir {last_seq}",
            f"Masalah   {len(problems)} scan ditolak server" + (":" if problems else ""),
        ]
        with ClosingOutbox(self.home.outbox_path) as closings:
            waiting, refused = closings.count(), closings.refused()
        if waiting or refused:
            lines.insert(5, f"Penutupan {waiting} menunggu dikirim, {len(refused)} ditolak server")
        for problem in problems:
            event = problem.event
            lines.append(
                f"  #{event.device_seq} {event.device_time} {event.action} "
                f"{event.label[:24]}... {problem.status} {problem.code}: {problem.message}"
            )
            lines += [f"      - {f.get('message', f.get('code', ''))}" for f in problem.findings]
        self.console.say("\n".join(lines))
        return EXIT_OK

    def cmd_sync(self, args: argparse.Namespace) -> int:
        config = self.home.load_config()
        with Outbox(self.home.outbox_path) as outbox, self._api(config) as api:
            report = Syncer(outbox, api, max_attempts=args.attempts).sync()
        self.console.say(_report_line(report))
        with ClosingOutbox(self.home.outbox_path) as closings:
            if closings.count():
                with self._api(config) as api:
                    self._push_closings(closings, api)
        return EXIT_OK

    def cmd_close(self, args: argparse.Namespace) -> int:
        photo = None
        if args.photo:
            try:
                with open(args.photo, "rb") as handle:
                    photo = handle.read()
            except OSError as error:
                raise ScanError(f"foto tidak dapat dibaca: {error}") from error
        sheet = ClosingSheet(
            tps=args.tps,
            race=args.race,
            counts={name: getattr(args, name) for name in COUNTS},
            seals=tuple(args.seal),
            box=args.box,
            photo=photo,
            note=args.note,
            reserve_note=args.reserve_note,
            corrects=args.corrects,
        )
        with ClosingOutbox(self.home.outbox_path) as closings:
            record = closings.add(sheet)
            self.console.say(
                f"TERSIMPAN penutupan TPS {args.tps} {args.race} ({record['client_id']})"
            )
            if args.no_sync:
                return EXIT_OK
            config = self.home.load_config()
            with self._api(config) as api:
                try:
                    self._push_closings(closings, api)
                except (ServerUnavailable, SyncError) as error:
                    if isinstance(error, AuthError):
                        raise
                    self.console.say(f"TERTUNDA {error}; dikirim pada 'tepat-scan sync'")
                    return EXIT_UNREACHABLE
        return EXIT_OK

    def _push_closings(self, closings: ClosingOutbox, api: ScanApi) -> None:
        answered, refused = push_closings(closings, api)
        self.console.say(f"Penutupan: {answered} dijawab server, {refused} ditolak")
        for answer in closings.refused()[-refused:] if refused else []:
            self.console.say(f"DITOLAK {answer.client_id} {answer.code}: {answer.message}")

    def cmd_run(self, args: argparse.Namespace) -> int:
        config = self.home.load_config()
        options = ScanOptions(
            action=args.action or config.action,
            node=config.node,
            quantity=args.count,
            condition=args.condition,
            seals=tuple(args.seal),
            counterpart=args.counterpart,
            container=args.container,
            note=args.note,
        )
        plan = self.home.load_plan()
        if plan is not None and plan.node != config.node:
            self.console.say(
                f"PERIKSA rencana tersimpan untuk node {plan.node}, bukan "
                f"{config.node}: jalankan 'tepat-scan fetch'"
            )
            plan = None
        window = config.dedupe_seconds if args.dedupe_seconds is None else args.dedupe_seconds
        source = open_source(args.source)
        outbox = Outbox(self.home.outbox_path)
        session = CourierSession(
            outbox, KeyringVerifier(self.home.load_keys()), options, plan, Debouncer(window)
        )
        stop = threading.Event()
        worker = None if args.no_sync else self._start_sync(config, stop, args.sync_interval)
        self.console.say(
            f"Memindai dari {args.source}: aksi {options.action} di node "
            f"{options.node}. Ctrl+C untuk berhenti."
        )
        pipeline = Pipeline()
        quick = Pipeline(fallbacks=False)
        # A live camera delivers many frames a second: the costly fallbacks run on every
        # FALLBACK_EVERY-th frame only, so the picture never lags behind the courier's hand.
        live = args.source.startswith("camera")
        try:
            for index, frame in enumerate(source.frames()):
                if frame.text is not None:
                    payloads: list[str | bytes] = [frame.text]
                else:
                    use = quick if live and index % FALLBACK_EVERY else pipeline
                    payloads = [d.payload for d in use.decode(frame.image)]
                for payload in payloads:
                    outcome = session.see(payload)
                    if outcome is not None:
                        self.console.say(outcome.line(), bell=outcome.has_error)
        except KeyboardInterrupt:
            self.console.say("Berhenti.")
        finally:
            source.close()
            stop.set()
            if worker is not None:
                worker.join()
            outbox.close()
        if args.no_sync:
            return EXIT_OK
        with Outbox(self.home.outbox_path) as outbox, self._api(config) as api:
            report = Syncer(outbox, api, max_attempts=3).sync()
        self.console.say(_report_line(report))
        return EXIT_OK

    def _start_sync(
        self, config: ClientConfig, stop: threading.Event, interval: float
    ) -> threading.Thread:
        def loop() -> None:
            with Outbox(self.home.outbox_path) as outbox, self._api(config) as api:
                try:
                    Syncer(outbox, api).run_forever(
                        stop, interval, lambda r: self.console.say(_report_line(r))
                    )
                except ScanError as error:
                    self.console.say(f"GAGAL   sinkron berhenti: {error}", bell=True)

        thread = threading.Thread(target=loop, name="tepat-sync", daemon=True)
        thread.start()
        return thread


def _count_keys(keys: str) -> str:
    try:
        return f"{len(load_keyring(keys))} kunci"
    except ScanError as error:
        return f"tidak terbaca ({error})"


def _report_line(report: SyncReport) -> str:
    return (
        f"SINKRON terkirim {report.sent}, diterima server {report.acknowledged}, "
        f"ditolak {report.refused}, masih menunggu {report.remaining}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
