"""Fixtures for the custody service: keys, issued items for a few TPS, tokens, scan builders."""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.auth import service as auth
from app.extensions import db
from app.items import keys
from app.items.models import Item
from app.items.service import issue_items, label_text
from app.plan import codes

#: Scans start on H-2 08:00 WIB; the server stands on H-1 19:00 WIB:
#: uploads are late, never ahead.
H3_MORNING = datetime(2024, 11, 25, 1, 0, tzinfo=UTC)
SERVER_NOW = datetime(2024, 11, 26, 12, 0, tzinfo=UTC)


@dataclass
class Env:
    """Everything a custody test needs."""

    app: Flask
    client: FlaskClient
    tps: str
    other_tps: str
    items: dict[str, list[Item]]
    tokens: dict[str, str]
    signer: Any
    keyring: Any
    clock: list[datetime] = field(default_factory=lambda: [H3_MORNING])
    seq: itertools.count = field(default_factory=lambda: itertools.count(1))

    def label(self, item: Item) -> str:
        """The QR text of an item."""
        return label_text(item, self.signer)

    def first(self, tps: str, item_type: str) -> Item:
        """The first item of a type for a TPS."""
        return next(i for i in self.items[tps] if i.item_type_code == item_type)

    def event(self, item: Item, action: str, node: str, **extra: Any) -> dict[str, Any]:
        """A scan event as a device sends it."""
        self.clock[0] += timedelta(minutes=5)
        return {
            "event_id": str(uuid.uuid4()),
            "device_seq": next(self.seq),
            "device_time": self.clock[0].isoformat(),
            "label": self.label(item),
            "action": action,
            "node": node,
            **extra,
        }

    def post(
        self,
        events: list[dict[str, Any]],
        user: str = "gudang",
        device_id: str = "hp-1",
        **body: Any,
    ) -> Any:
        """POST a batch to the scan API with the user's device token."""
        return self.client.post(
            "/api/v1/scans",
            json={"device_id": device_id, "events": events, **body},
            headers={"Authorization": f"Bearer {self.tokens[user]}"},
        )

    def journey(self, item: Item, user: str = "gudang", stop: int = 3) -> list[dict[str, Any]]:
        """Events for kirim/terima along the route up to leg ``stop``."""
        route = codes.route(item.destination)
        events = []
        for i in range(stop):
            events.append(self.event(item, "kirim", route[i], target=route[i + 1]))
            events.append(
                self.event(item, "terima", route[i + 1], quantity=item.quantity, condition="baik")
            )
        return events


@pytest.fixture
def env(demo_app: Flask, client: FlaskClient) -> Env:
    """Gunung Mas with keys, items issued for two TPS in Tewah, and device tokens."""
    from app.plan.models import Tps

    key_dir = demo_app.config["TEPAT_KEY_DIR"]
    keys.create_key(key_dir, date(2024, 11, 1))
    signer, keyring = keys.load_signer(key_dir), keys.load_keyring(key_dir)
    tewah = list(db.session.scalars(select(Tps.id).where(Tps.id.like("621003%")).order_by(Tps.id)))
    tps, other = tewah[0], tewah[1]
    items = {}
    for t in (tps, other):
        issue_items(db.session, "pilkada-2024", t, None, signer, None)
        items[t] = list(
            db.session.scalars(
                select(Item).where(Item.destination == t).order_by(Item.item_type_code, Item.serial)
            )
        )
    tokens = {}
    for username in ("gudang", "kurir.tewah", "kurir.kurun", "desk"):
        user = auth.find_user(db.session, username)
        tokens[username], _ = auth.create_token(db.session, user, f"HP {username}")
    demo_app.config["TEPAT_NOW"] = SERVER_NOW.isoformat()
    return Env(demo_app, client, tps, other, items, tokens, signer, keyring)


EnvFactory = Callable[..., Env]


def post_in_parallel(env: Env, journeys: list[list[dict[str, Any]]], clients: int = 4) -> None:
    """Send the journeys from ``clients`` threads at once, each with its own device and
    app context (couriers of one kabupaten at the same time); fail on any refusal."""
    errors: list[BaseException] = []

    def courier(part: list[list[dict[str, Any]]], device: str) -> None:
        try:
            with env.app.app_context():
                client = env.app.test_client()
                for events in part:
                    response = client.post(
                        "/api/v1/scans",
                        headers={"Authorization": f"Bearer {env.tokens['gudang']}"},
                        json={"device_id": device, "events": events},
                    )
                    assert response.status_code == 200, response.get_data(as_text=True)[:300]
                    assert response.get_json()["accepted"] == len(events)
                db.session.remove()
        except BaseException as exc:  # noqa: BLE001 - surfaced below
            errors.append(exc)

    threads = [
        threading.Thread(target=courier, args=(journeys[n::clients], f"hp-{n}"))
        for n in range(clients)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not errors, errors
    db.session.expire_all()
