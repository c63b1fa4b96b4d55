"""One small distribution per module (tests/desk/scenario.py), read by many page tests.

Building it takes under a second (a copy of the demo template, 6 labels, 8 scans); the
read-only page tests share it, and each request still gets its own app context.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.extensions import db
from tests.conftest import _pg_drop, fresh_database, login, make_app
from tests.desk import scenario
from tests.web.helpers import FreshContextClient


@dataclass
class World:
    """The app, its scenario and one signed-in client per demo account."""

    app: Flask
    story: scenario.Scenario
    misdelivery: dict[str, Any]  # the scan API's answer to the wrong-TPS scan
    _clients: dict[str, FlaskClient] = field(default_factory=dict)

    def client(self, username: str) -> FlaskClient:
        """A client signed in as a demo account (reused)."""
        if username not in self._clients:
            client = self.app.test_client()
            login(client, username)
            self._clients[username] = client
        return self._clients[username]


def wrong_tps_scan(client: FlaskClient, story: scenario.Scenario) -> Any:
    """The courier of Tewah receives TPS 003's box at TPS 001 (session + JSON, as the page)."""
    import uuid

    event = {
        "event_id": str(uuid.uuid4()),
        "device_seq": 1,
        "device_time": "2024-11-26T07:58:00+00:00",
        "label": story.label(story.misdelivered),
        "action": "terima",
        "node": scenario.TPS_A,
        "quantity": 1,
        "condition": "baik",
    }
    return client.post("/api/v1/scans", json={"device_id": "web-test", "events": [event]})


@pytest.fixture(scope="module")
def world(demo_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """The scenario on a copy of the demo database, the wrong-TPS scan sent through the API."""
    tmp = tmp_path_factory.mktemp("desk")
    url = fresh_database(demo_database_url, tmp)
    app = make_app(url, tmp, TEPAT_NOW=scenario.NOW.isoformat())
    app.test_client_class = FreshContextClient
    with app.app_context():
        story = scenario.build(db.session, app.config["TEPAT_KEY_DIR"])
        built = World(app, story, {})
        response = wrong_tps_scan(built.client("kurir.tewah"), story)
        assert response.status_code == 200, response.get_data(as_text=True)
        built.misdelivery = response.get_json()["results"][0]
        yield built
        db.session.remove()
        db.engine.dispose()
    if not url.startswith("sqlite"):
        _pg_drop(url)
