"""``tepat-verify``: check Tepat's published log offline, with files downloaded earlier.

    tepat-verify --key kunci.json --history riwayat/ [--bundle bukti.json]

``--key``: the log key (the JSON of /api/v1/public/log/key, or its ``verifier_key``
string), obtained once and compared by fingerprint. ``--history``: files or folders of
signed checkpoints (text notes, pages of /api/v1/public/log/checkpoints) and consistency
proofs (/api/v1/public/log/consistency). ``--bundle``: an item's proof bundle
(/api/v1/public/items/<code>/proof, fetched with ``?since=<newest kept size>``).

Exit codes: 0 everything verified, 1 a check failed (the message says which), 2 usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from scanner.errors import LogProofError
from scanner.logproof import TrustedKey, load_history, verify_bundle, verify_history

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tepat-verify",
        description="Periksa log Merkle Tepat tanpa server / check Tepat's log offline.",
    )
    parser.add_argument("--key", required=True, help="kunci log: berkas JSON atau verifier key")
    parser.add_argument(
        "--history", nargs="*", default=[], type=Path, help="berkas/folder checkpoint dan bukti"
    )
    parser.add_argument("--bundle", type=Path, help="bukti barang (tepat-proof/v1, JSON)")
    return parser


def _key(value: str) -> TrustedKey:
    path = Path(value)
    try:
        text = path.read_text(encoding="utf-8") if path.is_file() else value
    except OSError as exc:
        raise LogProofError(f"{value}: cannot read ({exc.strerror})") from exc
    return TrustedKey.parse(text)


def run(
    argv: Sequence[str] | None = None, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Run the checks; print what was verified, or the first failure; return the exit code."""
    out, err = out or sys.stdout, err or sys.stderr
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:
        return EXIT_USAGE if exc.code else EXIT_OK
    if not args.history and args.bundle is None:
        err.write("GAGAL: berikan --history dan/atau --bundle / give --history and/or --bundle\n")
        return EXIT_USAGE
    try:
        key = _key(args.key)
        history = verify_history(load_history(args.history), key) if args.history else []
        if history:
            out.write(
                f"OK: {len(history)} checkpoint bertanda tangan sah, konsisten dari ukuran "
                f"{history[0].size} sampai {history[-1].size}\n"
            )
        if args.bundle is not None:
            try:
                bundle = json.loads(args.bundle.read_text(encoding="utf-8"))
            except (OSError, ValueError) as exc:
                raise LogProofError(f"{args.bundle}: not a readable JSON bundle") from exc
            if not isinstance(bundle, dict):
                raise LogProofError(f"{args.bundle}: not a bundle")
            report = verify_bundle(bundle, key, history)
            out.write(
                f"OK: barang {report.serial}: {report.logged} pindaian ada di log "
                f"(checkpoint ukuran {report.checkpoint.size})"
                + (f", {report.pending} belum masuk checkpoint" if report.pending else "")
                + "\n"
            )
    except LogProofError as exc:
        err.write(f"GAGAL: {exc}\n")
        return EXIT_FAILED
    return EXIT_OK


def main() -> None:
    """Console entry point."""
    sys.exit(run())
