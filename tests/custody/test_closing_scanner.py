"""``tepat-scan close``: a closing record queued offline, then sent to the real API."""

from __future__ import annotations

import io
from pathlib import Path

import httpx
from sqlalchemy import func, select

from app.closing.models import ClosingRecord
from app.extensions import db
from scanner import ClientHome
from scanner.cli import EXIT_OK, EXIT_UNREACHABLE, main
from tests.custody.conftest import Env


def offline(request: httpx.Request) -> httpx.Response:
    raise httpx.ConnectError("tidak ada sinyal", request=request)


def test_a_closing_waits_offline_and_goes_on_sync(env: Env, tmp_path: Path) -> None:
    home = ClientHome(tmp_path)
    out = io.StringIO()
    live = httpx.WSGITransport(app=env.app)
    token = env.tokens["kurir.tewah"]
    config = ["config", "--server", "http://tepat.test", "--token", token, "--node", env.tps]
    assert main(config, home=home, stdout=out) == EXIT_OK
    box = next(i for i in env.items[env.tps] if i.item_type_code == "KOTAK")
    close = [
        "close", "--tps", env.tps, "--race", box.race_kind, "--received", "400",
        "--used", "300", "--invalid", "7", "--spoiled", "4", "--unused", "96",
        "--voters-signed", "301", "--seal", "KS-1", "--seal", "KS-2", "--box", env.label(box),
    ]  # fmt: skip
    code = main(close, home=home, stdout=out, transport=httpx.MockTransport(offline))
    assert code == EXIT_UNREACHABLE and "TERTUNDA" in out.getvalue()
    status = io.StringIO()
    main(["status"], home=home, stdout=status)
    assert "Penutupan 1 menunggu dikirim" in status.getvalue()

    synced = io.StringIO()
    assert main(["sync"], home=home, stdout=synced, transport=live) == EXIT_OK
    assert "Penutupan: 1 dijawab server, 0 ditolak" in synced.getvalue()
    assert db.session.scalar(select(func.count()).select_from(ClosingRecord)) == 1
    stored = db.session.scalar(select(ClosingRecord))
    assert stored is not None and stored.box_serial == box.serial and stored.unused == 96


def test_a_refused_closing_is_kept_with_the_reason(env: Env, tmp_path: Path) -> None:
    home = ClientHome(tmp_path)
    live = httpx.WSGITransport(app=env.app)
    token = env.tokens["kurir.tewah"]
    main(["config", "--server", "http://t.test", "--token", token, "--node", env.tps], home=home)
    out = io.StringIO()
    close = [
        "close", "--tps", env.other_tps.replace("1005", "1099"), "--race", "GUB",
        "--received", "1", "--used", "1", "--invalid", "0", "--spoiled", "0", "--unused", "0",
        "--voters-signed", "1", "--seal", "KS-9",
    ]  # fmt: skip
    assert main(close, home=home, stdout=out, transport=live) == EXIT_OK
    assert "1 ditolak" in out.getvalue() and "unknown_tps" in out.getvalue()
    status = io.StringIO()
    main(["status"], home=home, stdout=status)
    assert "Penutupan 0 menunggu dikirim, 1 ditolak server" in status.getvalue()
