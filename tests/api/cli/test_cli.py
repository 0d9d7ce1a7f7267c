"""The command line as a user sees it: exit codes, JSON shapes, messages."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from api.cli import app

runner = CliRunner()
CORPUS = Path(__file__).parents[2] / "loaders" / "corpus" / "bad"


def _run(*args: str):
    return runner.invoke(app, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def analysed_store(analysed_store_uri) -> str:
    return analysed_store_uri


def test_load_json_accounts_for_every_row(tmp_path):
    uri = f"duckdb:///{tmp_path / 'g.duckdb'}"
    res = _run(
        "load", str(CORPUS), "--store", uri, "--json", "--quarantine-dir", str(tmp_path / "q")
    )
    assert res.exit_code == 0
    out = json.loads(res.stdout)
    for name in ("customers", "relations", "transactions", "events"):
        t = out["tables"][name]
        assert t["read"] == t["loaded"] + t["quarantined"]
    assert out["tables"]["relations"]["quarantined"] == 7


def test_load_strict_exits_1_when_rows_are_quarantined(tmp_path):
    uri = f"duckdb:///{tmp_path / 'g.duckdb'}"
    res = _run(
        "load", str(CORPUS), "--store", uri, "--strict", "--quarantine-dir", str(tmp_path / "q")
    )
    assert res.exit_code == 1


def test_load_missing_column_exits_1_naming_file_and_column(tmp_path):
    d = tmp_path / "in"
    shutil.copytree(CORPUS, d)
    text = (d / "transactions.csv").read_text().replace("amount", "amt", 1)
    (d / "transactions.csv").write_text(text)
    res = _run("load", str(d), "--store", f"duckdb:///{tmp_path / 'g.duckdb'}")
    assert res.exit_code == 1
    assert "transactions.csv" in res.stderr and "amount" in res.stderr


def test_influencers_json_ranked(analysed_store):
    res = _run("influencers", "--top", "7", "--json", "--store", analysed_store)
    assert res.exit_code == 0
    items = json.loads(res.stdout)
    assert len(items) == 7
    scores = [i["score"] for i in items]
    assert scores == sorted(scores, reverse=True)
    assert {"customer_id", "score", "community_id"} <= set(items[0])
    c = items[0]["community_id"]
    res = _run("influencers", "--top", "3", "--community", c, "--json", "--store", analysed_store)
    assert {i["community_id"] for i in json.loads(res.stdout)} == {c}


def test_metrics_export_one_row_per_customer(analysed_store, tmp_path):
    out = tmp_path / "m.csv"
    res = _run("metrics", "export", "--out", str(out), "--store", analysed_store)
    assert res.exit_code == 0
    df = pd.read_csv(out)
    assert len(df) == 2000 and df.customer_id.is_unique
    assert {"customer_id", "community_id", "pagerank"} <= set(df.columns)


def test_tags_customer_and_segment(analysed_store):
    tags = json.loads(_run("tags", "--json", "--store", analysed_store).stdout)
    assert {"tag_id", "category", "count"} <= set(tags[0])
    top = json.loads(_run("influencers", "--top", "1", "--json", "--store", analysed_store).stdout)[
        0
    ]["customer_id"]
    prof = json.loads(_run("customer", top, "--json", "--store", analysed_store).stdout)
    assert prof["customer_id"] == top
    assert all({"tag_id", "score", "reason"} <= set(t) for t in prof["tags"])
    assert "****" in prof["attributes"]["phone"]
    seg = json.loads(
        _run(
            "segment", "high_influence AND NOT churn_risk", "--json", "--store", analysed_store
        ).stdout
    )
    assert seg["count"] >= 1


def test_bad_segment_names_the_position(analysed_store):
    res = _run("segment", "opinion_leader AND AND bridge", "--store", analysed_store)
    assert res.exit_code == 1
    assert "position" in res.stderr


def test_unknown_customer_exits_1(analysed_store):
    res = _run("customer", "NOPE", "--store", analysed_store)
    assert res.exit_code == 1
    assert "NOPE" in res.stderr
