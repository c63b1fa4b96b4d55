"""A bounded schemathesis run of the whole API (issue 11): whatever the OpenAPI document
allows, and the edge cases schemathesis derives from it, never answers 500.

Bounded (a few examples per operation, derandomized) so it runs in well under a minute;
run it longer with ``TEPAT_FUZZ_EXAMPLES=200``.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from tests.custody.conftest import Env

EXAMPLES = int(os.environ.get("TEPAT_FUZZ_EXAMPLES", "3"))


@pytest.fixture
def api_schema(env: Env) -> Any:
    """The API as it describes itself, served by the test app (demo, keys, items, tokens)."""
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.yaml", env.app)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
)
def test_no_request_the_schema_allows_ends_in_a_500(case: Any, env: Env) -> None:
    response = case.call(headers={"Authorization": f"Bearer {env.tokens['gudang']}"})
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} -> {response.status_code}: {response.text[:300]}"
    )
