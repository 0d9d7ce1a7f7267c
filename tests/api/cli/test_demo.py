"""`guanxi demo`: generate, load, analyse and show, in one command on a fresh embedded store."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from api.cli import app


def test_demo_runs_the_whole_product_and_says_what_next(tmp_path):
    workdir = tmp_path / "demo"
    res = CliRunner().invoke(
        app, ["demo", "--customers", "300", "--workdir", str(workdir), "--seed", "7"]
    )
    assert res.exit_code == 0, res.output
    store = f"duckdb:///{workdir / 'guanxi.duckdb'}"
    text = "".join(res.stdout.split())  # rich wraps long lines, inside words too
    assert "guanxidemo" in text and "top10influencers" in text
    assert f"next:guanxiinfluencers--store{store}" in text
    assert (workdir / "data" / "customers.csv").is_file()
    again = CliRunner().invoke(app, ["influencers", "--top", "3", "--store", store, "--json"])
    assert again.exit_code == 0 and len(json.loads(again.stdout)) == 3
