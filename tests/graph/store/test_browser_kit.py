"""The Neo4j Browser kit: a style rule per social-tag label, bounded saved queries that parse."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from graph.store.browser_kit import query_parameters, saved_queries, write_browser_kit
from tests.ci import IN_CI

SOCIAL_LABELS = (
    "OpinionLeader",
    "HighInfluence",
    "CommunityCore",
    "Bridge",
    "SuperReferrer",
    "SociallyActive",
    "SociallyIsolated",
)
LINT = Path(__file__).parents[3] / "graph" / "store" / "cypher_lint"


def test_kit_files_are_written(tmp_path):
    paths = write_browser_kit(tmp_path)
    names = {p.name for p in paths}
    assert "guanxi.grass" in names
    assert len([n for n in names if n.endswith(".cypher")]) == 5


def test_stylesheet_has_a_rule_per_social_label_and_no_pii_caption(tmp_path):
    write_browser_kit(tmp_path)
    grass = (tmp_path / "guanxi.grass").read_text()
    for label in SOCIAL_LABELS:
        assert re.search(rf"node\.{label}\s*\{{", grass), label
    captions = re.findall(r"caption:\s*\"([^\"]*)\"", grass)
    assert captions and not any(p in c for c in captions for p in ("name", "phone", "id_number"))
    assert any("{customer_id}" in c and "{influence}" in c for c in captions)


def test_every_saved_query_is_bounded_by_limit():
    for name, text in saved_queries().items():
        assert re.search(r"\bLIMIT\s+\d+\s*$", text.strip()), name


def test_saved_queries_pass_neo4j_lint():
    if shutil.which("node") is None or not (LINT / "node_modules").exists():
        if IN_CI:
            pytest.fail("node and the cypher lint packages are required in CI")
        pytest.skip("node or graph/store/cypher_lint/node_modules missing (npm ci there)")
    stmts = [
        {"name": n, "cypher": t, "parameters": {p: "x" for p in query_parameters(t)}}
        for n, t in saved_queries().items()
    ]
    res = subprocess.run(
        ["node", str(LINT / "lint.mjs")],
        input=json.dumps(stmts),
        capture_output=True,
        text=True,
        check=False,
    )
    results = json.loads(res.stdout)
    assert res.returncode == 0, [r for r in results if r["errors"]]
    assert len(results) == 5
