"""One small distribution (tests/desk/scenario.py) shared by the public-page tests of a module."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.extensions import db
from app.items.models import Item
from app.items.service import label_text
from tests.conftest import _pg_drop, fresh_database, make_app
from tests.desk import scenario


@dataclass
class Public:
    """The app, the scenario and an anonymous client."""

    app: Flask
    story: scenario.Scenario
    client: FlaskClient

    def code(self, item: Item) -> str:
        """The Base32 code of an item's https label (what follows /L/)."""
        text = label_text(item, self.story.signer, "https://tepat.local")
        return text[text.index("/L/") + 3 :]

    @property
    def kit(self) -> Item:
        """TPS 001's kit: scanned along the whole route, one leg late."""
        return self.story.first(scenario.TPS_A, "KIT")


@pytest.fixture(scope="module")
def public(demo_database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Public]:
    """The desk scenario on a copy of the demo database, its log integrated."""
    tmp = tmp_path_factory.mktemp("public")
    url = fresh_database(demo_database_url, tmp)
    app = make_app(url, tmp, TEPAT_NOW=scenario.NOW.isoformat(), TEPAT_PUBLIC_CACHE_SECONDS=0)
    with app.app_context():
        story = scenario.build(db.session, app.config["TEPAT_KEY_DIR"])
        yield Public(app, story, app.test_client())
        db.session.remove()
        db.engine.dispose()
    if not url.startswith("sqlite"):
        _pg_drop(url)
