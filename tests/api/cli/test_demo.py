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


def test_demo_with_a_relative_workdir_keeps_its_store_there(tmp_path, monkeypatch):
    """``duckdb:///`` + a relative path named a folder under / (``/guanxi-demo/...``)."""
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(app, ["demo", "--customers", "300", "--workdir", "rel"])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "rel" / "guanxi.duckdb").is_file()
    store = f"duckdb:///{tmp_path / 'rel' / 'guanxi.duckdb'}"
    again = CliRunner().invoke(app, ["influencers", "--top", "2", "--store", store, "--json"])
    assert again.exit_code == 0 and len(json.loads(again.stdout)) == 2


def test_analyze_on_an_empty_store_makes_an_empty_run_twice(tmp_path):
    """A second run on no customers has a previous run but no lineage rows to write."""
    store = f"duckdb:///{tmp_path / 'empty.duckdb'}"
    for _ in range(2):
        res = CliRunner().invoke(app, ["analyze", "--store", store, "--json"])
        assert res.exit_code == 0, res.output
        assert json.loads(res.stdout)["input_counts"]["customers"] == 0
