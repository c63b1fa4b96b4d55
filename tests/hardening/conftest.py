"""The custody fixtures (env) for the hardening tests."""

from __future__ import annotations

from tests.custody.conftest import env

__all__ = ["env"]
