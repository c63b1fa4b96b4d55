"""The OpenAPI file is served and documents every API route."""

from __future__ import annotations

import re

from flask import Flask


def test_every_api_route_is_documented(app: Flask) -> None:
    document = app.test_client().get("/api/v1/openapi.yaml")
    assert document.status_code == 200
    text = document.get_data(as_text=True)
    assert text.startswith("openapi: 3.1.0")
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.rule.endswith("openapi.yaml"):
            continue
        path = re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", rule.rule.removeprefix("/api/v1"))
        assert f"  {path}:" in text, f"{rule.rule} is not in openapi.yaml"
