"""In-page scanning benchmark: what the courier's phone does before anything is sent.

Not a pytest module (no test_ prefix). Run from the repository root:

    .venv/bin/python tests/bench_page_scan.py [--rounds 20]

In headless Chromium (Debian's, like the browser tests) it times, per scan, the steps of
``app/static/js/tepat-scan.js``: reading a label photo with the vendored jsQR (no
BarcodeDetector there), parsing and verifying the label's Ed25519 signature with
WebCrypto, and checking it against a warehouse-sized plan slice (a kabupaten of 219 TPS).
The baseline, measured in the same run on the same photo, is the server's photo reader
(``scanner.decode`` behind ``/kurir/foto``), which the page used to need for every photo.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import platform
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import qrcode  # noqa: E402
from PIL import Image  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

import labels  # noqa: E402
from app.custody.photo import _read_codes  # noqa: E402
from app.items import keys  # noqa: E402
from tests.browser.fixtures import CHROMIUM, CHROMIUM_ARGS  # noqa: E402

STATIC = Path(__file__).resolve().parents[1] / "app" / "static"


def label_photo(text: str) -> bytes:
    """A phone-photo-sized JPEG (1600x1200) with the label's QR in it, slightly grey."""
    code = qrcode.make(text, box_size=6, border=4).convert("L")
    photo = Image.new("L", (1600, 1200), 200)
    photo.paste(code, (520, 330))
    out = io.BytesIO()
    photo.convert("RGB").save(out, format="JPEG", quality=85)
    return out.getvalue()


def plan_slice() -> dict[str, object]:
    """A warehouse's slice: 219 TPS, 30 plan lines each."""
    tps = [
        f"6210{k:02d}{2000 + d:04d}{t:03d}"
        for k in range(1, 13)
        for d in range(1, 7)
        for t in range(1, 4)
    ]
    tps = tps[:219]
    allowed = [
        {
            "destination": t,
            "item_type": f"T{n:02d}",
            "race": "GUB" if n % 2 else "BUP",
            "quantity": 20,
        }
        for t in tps
        for n in range(30)
    ]
    return {
        "node": "62.10",
        "kind": "gudang",
        "destinations": tps,
        "allowed": allowed,
        "voided": [],
        "races": ["BUP", "GUB"],
    }


def median_ms(samples: list[float]) -> str:
    return f"{statistics.median(samples):7.1f}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as key_dir:
        keys.create_key(key_dir, date(2024, 11, 1))
        signer, keyring = keys.load_signer(key_dir), keys.load_keyring(key_dir)
    payload = labels.LabelPayload(labels.new_serial(), "KOTAK", "6210012001001", "GUB", 1)
    text = labels.encode(payload, signer)
    photo = label_photo(text)

    server = []
    for _ in range(args.rounds):
        start = time.perf_counter()
        found = _read_codes(photo, 300.0)  # what /kurir/foto runs per photo
        server.append((time.perf_counter() - start) * 1000)
    assert found == [text], found

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        page = browser.new_page()
        # A secure context (WebCrypto needs one): an https page answered by Playwright itself.
        page.route(
            "https://bench.tepat.test/",
            lambda route: route.fulfill(
                body="<!doctype html><title>bench</title>", content_type="text/html"
            ),
        )
        page.goto("https://bench.tepat.test/")
        page.add_script_tag(path=str(STATIC / "vendor" / "jsqr" / "jsQR.js"))
        page.add_script_tag(path=str(STATIC / "js" / "tepat-scan.js"))
        timings = page.evaluate(
            """async ([photo, text, keys, slice, rounds]) => {
                const bytes = Uint8Array.from(atob(photo), (c) => c.charCodeAt(0));
                const file = new Blob([bytes], {type: "image/jpeg"});
                const read = [], verify = [], plan = [];
                let texts = [], verdict = "", findings = [];
                for (let i = 0; i < rounds; i++) {
                  let t = performance.now();
                  texts = await TepatScan.readPhoto(file);
                  read.push(performance.now() - t);
                  t = performance.now();
                  const label = TepatScan.parseLabel(texts[0]);
                  verdict = await TepatScan.verify(label, keys);
                  verify.push(performance.now() - t);
                  t = performance.now();
                  findings = TepatScan.checkPlan(slice, label, "terima", null);
                  plan.push(performance.now() - t);
                }
                return {read, verify, plan, ok: texts[0] === text, verdict,
                        findings: findings.length};
            }""",
            [
                base64.b64encode(photo).decode(),
                text,
                json.loads(keyring.to_json()),
                plan_slice(),
                args.rounds,
            ],
        )
        version = browser.version
        browser.close()
    assert timings["ok"] and timings["verdict"] == "valid", timings

    print(
        f"Chromium {version}, {platform.python_implementation()} {platform.python_version()}, "
        f"{args.rounds} rounds, 1600x1200 JPEG label photo"
    )
    print("| step | where | median ms |")
    print("|---|---|---:|")
    print(
        "| read the photo (baseline: scanner.decode behind /kurir/foto) | server |"
        f" {median_ms(server)} |"
    )
    print(f"| read the photo (jsQR, no BarcodeDetector) | page | {median_ms(timings['read'])} |")
    print(
        f"| parse + verify Ed25519 signature (WebCrypto) | page | {median_ms(timings['verify'])} |"
    )
    print(f"| check the plan slice (219 TPS, 6,570 lines) | page | {median_ms(timings['plan'])} |")
    print(f"plan slice JSON: {len(json.dumps(plan_slice())) / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
