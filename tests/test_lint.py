"""The code stays lint-clean and the pure modules type-check under mypy --strict."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

STRICT = [
    "labels",
    "scanner",
    "app/custody/rules",
    "app/custody/merkle.py",
    "app/custody/errors.py",
    "app/custody/codec.py",
    "app/custody/clock.py",
    "app/custody/partitions.py",
    "app/plan/needs.py",
]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_ruff_finds_nothing() -> None:
    result = run(str(BIN / "ruff"), "check", "app", "labels", "scanner", "tests")
    assert result.returncode == 0, result.stdout + result.stderr


def test_pure_modules_and_libraries_pass_mypy_strict() -> None:
    result = run(str(BIN / "mypy"), "--strict", "--follow-imports=silent", *STRICT)
    assert result.returncode == 0, result.stdout + result.stderr
