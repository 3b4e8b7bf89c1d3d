"""Imports point downward only: models < methods < editing < (app, cli), and only app imports Qt."""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: what each layer may not import
FORBIDDEN = {
    "models": {"methods", "editing", "app", "cli", "PyQt6"},
    "methods": {"editing", "app", "cli", "PyQt6"},
    "editing": {"app", "cli", "PyQt6"},
    "cli": {"app", "PyQt6"},
}


def imported_packages(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_a_layer_imports_nothing_above_it(layer):
    bad = {str(p.relative_to(ROOT)): sorted(imported_packages(p) & FORBIDDEN[layer])
           for p in (ROOT / layer).rglob("*.py")}
    assert {k: v for k, v in bad.items() if v} == {}
