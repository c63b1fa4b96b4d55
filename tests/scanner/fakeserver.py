"""A tiny loopback stand-in for the Tepat scan API, for client tests.

Dedups by event_id exactly as the real server will: an event seen again is answered
"duplicate" and not stored twice. It can drop connections (after recording the batch,
so the client never hears the acknowledgement), hold a response until released, and
refuse tokens.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeScanServer:
    """State and knobs of the fake server; ``url`` is http://127.0.0.1:PORT."""

    def __init__(self, token: str = "secret-token") -> None:
        self.token = token
        self.lock = threading.Lock()
        self.events: dict[str, dict[str, Any]] = {}  # event_id -> event, stored once
        self.deliveries: Counter[str] = Counter()  # event_id -> times received
        self.batches: list[int] = []  # size of every POST received
        self.drop_after_record = 0  # next N POSTs: record, then close without answering
        self.hold: threading.Event | None = None  # when set: wait on it before answering
        self.recorded = threading.Condition(self.lock)
        self.reject_labels: set[str] = set()
        self.keys_json = '{"keys": []}'
        self.plan_slice: dict[str, Any] = {}
        self.device_keys: dict[str, str] = {}  # device_id -> registered public key
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeScanServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        if self.hold is not None:
            self.hold.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def wait_recorded(self, count: int, timeout: float = 20.0) -> bool:
        """Block until at least ``count`` distinct events are stored."""
        with self.recorded:
            return self.recorded.wait_for(lambda: len(self.events) >= count, timeout)

    def _record(self, body: dict[str, Any]) -> list[dict[str, Any]]:
        results = []
        with self.recorded:
            self.batches.append(len(body["events"]))
            for event in body["events"]:
                event_id = event["event_id"]
                self.deliveries[event_id] += 1
                if event["label"] in self.reject_labels:
                    results.append(
                        {
                            "event_id": event_id,
                            "status": "rejected",
                            "code": "bad_signature",
                            "message": "label palsu",
                            "findings": [
                                {
                                    "code": "bad_signature",
                                    "severity": "error",
                                    "message": "tanda tangan tidak sah",
                                }
                            ],
                        }
                    )
                    continue
                status = "duplicate" if event_id in self.events else "accepted"
                self.events.setdefault(event_id, event)
                results.append(
                    {
                        "event_id": event_id,
                        "status": status,
                        "code": "",
                        "message": "",
                        "findings": [],
                    }
                )
            self.recorded.notify_all()
        return results

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _send(self, status: int, document: Any) -> None:
                data = json.dumps(document).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _authorised(self) -> bool:
                if self.headers.get("Authorization") == f"Bearer {server.token}":
                    return True
                self._send(401, {"error": "invalid token"})
                return False

            def do_GET(self) -> None:
                if not self._authorised():
                    return
                if self.path == "/api/v1/keys":
                    data = server.keys_json.encode()
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                elif self.path.endswith("/plan-slice"):
                    self._send(200, server.plan_slice)
                else:
                    self._send(404, {"error": "not found"})

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length))
                if not self._authorised():
                    return
                if self.path == "/api/v1/devices/key":
                    with server.lock:
                        server.device_keys[body["device_id"]] = body["public_key"]
                    self._send(201, {"device_id": body["device_id"], "registered": True})
                    return
                results = server._record(body)
                with server.lock:
                    drop = server.drop_after_record > 0
                    if drop:
                        server.drop_after_record -= 1
                    hold = server.hold
                if hold is not None:
                    hold.wait(30)
                if drop:
                    self.close_connection = True
                    return  # recorded, but the client never hears back
                conflict = any(r["status"] in ("conflict",) for r in results)
                self._send(409 if conflict else 200, {"results": results})

        return Handler


@contextmanager
def running_server(token: str = "secret-token") -> Iterator[FakeScanServer]:
    """Start a fake server on 127.0.0.1:0 for the duration of the block."""
    server = FakeScanServer(token).start()
    try:
        yield server
    finally:
        server.stop()
