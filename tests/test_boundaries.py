"""Dependencies point one way: app -> labels, scanner; the pure modules do no IO frameworks."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
WEB_OR_DB = ("flask", "flask_sqlalchemy", "flask_login", "flask_wtf", "sqlalchemy", "werkzeug")


def imported_modules(path: Path) -> set[str]:
    """Top-level names of every module a file imports."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def files(*parts: str) -> list[Path]:
    target = ROOT.joinpath(*parts)
    return sorted(target.rglob("*.py")) if target.is_dir() else [target]


@pytest.mark.parametrize(
    "path", files("labels") + files("scanner"), ids=lambda p: str(p.relative_to(ROOT))
)
def test_libraries_import_neither_the_app_nor_flask_nor_the_database(path: Path) -> None:
    bad = {m for m in imported_modules(path) if m.split(".")[0] in ("app", *WEB_OR_DB)}
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_labels_does_not_import_the_scanner() -> None:
    for path in files("labels"):
        assert not any(m.split(".")[0] == "scanner" for m in imported_modules(path)), path


@pytest.mark.parametrize(
    "path",
    files("app", "custody", "rules")
    + files("app", "custody", "merkle.py")
    + files("app", "custody", "errors.py")
    + files("app", "custody", "codec.py")
    + files("app", "custody", "clock.py")
    + files("app", "plan", "needs.py"),
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_pure_rules_import_no_web_or_database_framework(path: Path) -> None:
    bad = {m for m in imported_modules(path) if m.split(".")[0] in WEB_OR_DB}
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_the_payload_format_lives_only_in_labels() -> None:
    """The scanner hands raw text to labels' parser; nobody else parses TP1: payloads."""
    for path in files("scanner") + files("app"):
        text = path.read_text(encoding="utf-8")
        assert "b45decode" not in text, f"{path.relative_to(ROOT)} decodes payloads itself"


@pytest.mark.parametrize("path", files("app", "custody"), ids=lambda p: str(p.relative_to(ROOT)))
def test_custody_does_not_import_the_desk(path: Path) -> None:
    """What the desk and the custody pages share lives in neutral modules (app.words,
    app.english, app.custody.timeline), so custody never depends on the desk."""
    bad = {m for m in imported_modules(path) if m == "app.desk" or m.startswith("app.desk.")}
    assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"
