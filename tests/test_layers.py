"""The import-linter contracts in pyproject.toml name every module they must, and hold.

A contract listing modules by name would silently stop covering a module added later; this test
fails until the new module is placed in the layers.
"""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONTRACTS = {
    c["name"]: c
    for c in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"][
        "contracts"
    ]
}
#: graph modules that are neither an algorithm family nor part of the store layer
FOUNDATION = {
    "graph.arrays",
    "graph.errors",
    "graph.failpoints",
    "graph.model",
    "graph.params",
    "graph.ranking",
}


def _graph_modules() -> set[str]:
    return {f"graph.{p.stem}" for p in (ROOT / "graph").glob("*.py") if p.stem != "__init__"}


def test_every_pure_graph_module_is_in_the_pure_contract():
    pure = set(
        CONTRACTS["graph's pure modules import no store, loaders, tagging or api"]["source_modules"]
    )
    assert pure == _graph_modules()


def test_every_algorithm_module_is_forbidden_to_the_stores():
    forbidden = set(
        CONTRACTS["stores import no algorithms, loaders, tagging or api"]["forbidden_modules"]
    )
    assert _graph_modules() - FOUNDATION <= forbidden


def test_contracts_hold():
    exe = shutil.which("lint-imports")
    assert exe, "lint-imports (import-linter, a dev dependency) is not installed"
    res = subprocess.run([exe], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-3000:]
    assert f"Contracts: {len(CONTRACTS)} kept, 0 broken." in res.stdout
