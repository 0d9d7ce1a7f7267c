"""Every Cypher statement the project can send passes Neo4j's own linter with no errors.

Why: the statements are only executed against a live server in the contract suite; a typo in
a branch that suite does not reach would otherwise ship. The list comes from the code itself
(`graph.store.neo4j.all_statements()`), not from a hand-kept copy, and a deliberately
broken statement must fail the same check, so a silently passing linter cannot go unnoticed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from graph.errors import UnsafeIdentifier
from graph.store.neo4j import REL_TYPES, TAG_LABELS, all_statements
from graph.store.neo4j.gds_statements import REL as GDS_REL
from tests.ci import IN_CI

LINT_DIR = Path(__file__).resolve().parents[3] / "graph" / "store" / "cypher_lint"
_NODE = shutil.which("node")
_SKIP = _NODE is None and not IN_CI
if _SKIP:
    print("SKIP tests/graph/store/test_cypher_lint.py: node not on PATH")
pytestmark = pytest.mark.skipif(_SKIP, reason="node not on PATH")

LABELS = ["Customer", "Transaction", "Event", "Community", "Tag", "Run", *TAG_LABELS.values()]
REL = [*REL_TYPES.values(), "HAS_TRANSACTION", "HAS_EVENT", "IN_COMMUNITY", "HAS_TAG", GDS_REL]


@pytest.fixture(scope="module")
def lint():
    assert _NODE is not None, "CI=true requires node for the Cypher lint"
    if not (LINT_DIR / "node_modules" / "@neo4j-cypher" / "language-support").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=LINT_DIR, check=True)

    def run(statements: list[dict]) -> tuple[int, list[dict]]:
        env = {
            **os.environ,
            "GUANXI_LABELS": json.dumps(LABELS),
            "GUANXI_REL_TYPES": json.dumps(REL),
        }
        proc = subprocess.run(
            [_NODE, str(LINT_DIR / "lint.mjs")],
            input=json.dumps(statements).encode(),
            capture_output=True,
            env=env,
            timeout=300,
        )
        return proc.returncode, json.loads(proc.stdout or b"[]")

    return run


def test_all_statements_lint_clean(lint):
    statements = all_statements()
    names = [s["name"] for s in statements]
    assert len(names) == len(set(names))
    assert len(statements) > 50
    rc, results = lint(statements)
    bad = {r["name"]: r["errors"] for r in results if r["errors"]}
    assert bad == {}
    assert rc == 0
    assert len(results) == len(statements)


def test_broken_statement_fails_lint(lint):
    broken = {"name": "broken", "cypher": "MATCH (c:Customer RETURN c", "parameters": {}}
    undefined = {"name": "undefined", "cypher": "MATCH (c:Customer) RETURN d", "parameters": {}}
    rc, results = lint([all_statements()[0], broken, undefined])
    assert rc == 1
    errs = {r["name"]: r["errors"] for r in results}
    assert errs[all_statements()[0]["name"]] == []
    assert errs["broken"] and errs["undefined"]


def test_statements_only_interpolate_whitelisted_names():
    from graph.store.neo4j.statements import registry

    for s in registry():
        if s.placeholder:
            with pytest.raises(UnsafeIdentifier):
                s.render("Customer) DETACH DELETE (x")
