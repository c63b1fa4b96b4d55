"""The public surface of ``scanner`` and its import boundaries."""

from __future__ import annotations

import ast
from pathlib import Path
from types import ModuleType

import scanner
from scanner import errors

PACKAGE = Path(scanner.__file__).parent


def test_all_is_sorted_and_matches_the_public_names() -> None:
    assert scanner.__all__ == sorted(scanner.__all__)
    public = {
        name
        for name, value in vars(scanner).items()
        if not name.startswith("_") and not isinstance(value, ModuleType) and name != "annotations"
    }
    assert set(scanner.__all__) == public
    for name in scanner.__all__:
        assert getattr(scanner, name) is not None


def test_every_exception_is_a_scan_error_and_drawn_in_the_docstring() -> None:
    classes = [
        v
        for v in vars(errors).values()
        if isinstance(v, type) and issubclass(v, Exception) and v.__module__ == errors.__name__
    ]
    assert len(classes) >= 10
    for cls in classes:
        assert issubclass(cls, scanner.ScanError)
        assert cls.__name__ in (errors.__doc__ or "")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_scanner_imports_neither_flask_nor_app() -> None:
    for path in PACKAGE.glob("*.py"):
        forbidden = _imports(path) & {"flask", "app", "flask_sqlalchemy", "sqlalchemy"}
        assert not forbidden, f"{path.name} imports {forbidden}"
