"""``app.plan.service`` is split into modules but still answers every name it did as one file."""

from __future__ import annotations

import ast
import pkgutil
from importlib import import_module
from pathlib import Path

from app.plan import service


def defined_names(path: Path) -> set[str]:
    """Public names a module defines at top level: functions, classes and constants."""
    names: set[str] = set()
    for node in ast.parse(path.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
    return {name for name in names if not name.startswith("_")}


def test_all_is_sorted_and_re_exports_every_public_name_of_every_module() -> None:
    assert service.__all__ == sorted(service.__all__)
    defined: dict[str, str] = {}
    for info in pkgutil.iter_modules(service.__path__):
        module = import_module(f"{service.__name__}.{info.name}")
        for name in defined_names(Path(str(module.__file__))):
            assert name not in defined, f"{name} is defined in {defined[name]} and {info.name}"
            defined[name] = info.name
            assert getattr(service, name) is getattr(module, name)
    assert set(service.__all__) == set(defined)
