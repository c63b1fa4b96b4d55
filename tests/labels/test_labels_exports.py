"""The public surface of ``labels``: exports, docstrings and import boundaries."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import labels

PACKAGE_DIR = Path(labels.__file__).parent
MODULES = sorted(PACKAGE_DIR.glob("*.py"))


def test_all_is_sorted_and_matches_the_public_names() -> None:
    assert labels.__all__ == sorted(labels.__all__)
    public = {
        name
        for name, value in vars(labels).items()
        if not name.startswith("_") and not inspect.ismodule(value) and name != "annotations"
    }
    assert set(labels.__all__) == public


def test_every_export_exists_and_says_where_it_lives() -> None:
    for name in labels.__all__:
        value = getattr(labels, name)
        module = getattr(value, "__module__", "labels")
        assert module.startswith("labels"), name


def test_every_public_function_and_method_has_a_one_line_summary() -> None:
    missing = []
    for path in MODULES:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                if node.name.startswith("_"):
                    continue
                doc = ast.get_docstring(node)
                if not doc or not doc.splitlines()[0].strip():
                    missing.append(f"{path.name}:{node.lineno} {node.name}")
    assert missing == []


def test_library_modules_stay_free_of_the_web_stack() -> None:
    forbidden = ("flask", "sqlalchemy", "app", "scanner", "flask_sqlalchemy")
    for path in MODULES:
        tree = ast.parse(path.read_text())
        future = [
            node
            for node in tree.body
            if isinstance(node, ast.ImportFrom) and node.module == "__future__"
        ]
        assert future, f"{path.name} lacks from __future__ import annotations"
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                roots = [alias.name.split(".")[0] for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                roots = [node.module.split(".")[0]]
            else:
                continue
            assert not set(roots) & set(forbidden), f"{path.name} imports {roots}"
