"""Tag quality and the cause of tag changes across three real runs on a DuckDB store.

Run 1 is the default rules; run 2 the same data with ``young_max_age`` raised (a rule
change); run 3 the run-2 rules on data with extra relations and one more customer (a data
change). The references are Python sets of the stored assignments.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from api import usecases
from api.cli import app
from api.usecases.tag_health import tag_quality_report
from graph.store import open_store
from loaders.ingest import load_folder, load_frames


@pytest.fixture(scope="module")
def runs(tmp_path_factory, small_csv_dir):
    d = tmp_path_factory.mktemp("tag_health")
    uri = f"duckdb:///{d / 's.duckdb'}"
    rules = d / "rules.toml"
    rules.write_text("[params]\nyoung_max_age = 35\n", encoding="utf-8")
    with open_store(uri) as st:
        load_folder(st, small_csv_dir, quarantine_dir=d / "q")
        r1 = usecases.analyze(st, seed=42).run.run_id
        r2 = usecases.analyze(st, seed=42, rules_path=str(rules)).run.run_id
        rel = st.read_table("relations").to_pandas()
        extra = rel.sample(frac=0.05, random_state=1).assign(
            src_id=lambda f: f["dst_id"].to_numpy(), dst_id=lambda f: f["src_id"].to_numpy()
        )
        cust = st.read_table("customers").to_pandas().head(1).assign(customer_id="NEW-1")
        empty = {t: st.read_table(t).to_pandas().head(0) for t in ("transactions", "events")}
        frames = {"relations": extra, "customers": cust, **empty}
        load_frames(st, frames, quarantine_dir=d / "q2")
        r3 = usecases.analyze(st, seed=42, rules_path=str(rules)).run.run_id
    return uri, r1, r2, r3


def held(st, run) -> dict[str, set[str]]:
    tags = st.read_tags(run)[["customer_id", "tag_id"]].astype(str)
    return tags.groupby("tag_id")["customer_id"].agg(set).to_dict()


def test_a_rule_change_is_attributed_to_the_definition(runs):
    uri, r1, r2, _ = runs
    with open_store(uri) as st:
        _, totals = usecases.tags_diff(st, r1, r2)
        before, after = held(st, r1), held(st, r2)
    causes = dict(zip(totals["tag_id"], totals["cause"], strict=True))
    assert causes["young_customer"] == "definition"
    assert len(after["young_customer"]) > len(before["young_customer"])
    # same data, same seed: nothing may be blamed on the data
    assert "data" not in causes.values() and "definition+data" not in causes.values()
    print(f"\nr1 -> r2 causes: {pd.Series(causes).value_counts().to_dict()}")


def test_a_data_change_is_attributed_to_the_data(runs):
    uri, _, r2, r3 = runs
    with open_store(uri) as st:
        _, totals = usecases.tags_diff(st, r2, r3)
    assert len(totals) and set(totals["cause"]) == {"data"}


def test_quality_report_matches_sets_of_the_stored_assignments(runs):
    uri, _, r2, r3 = runs
    with open_store(uri) as st:
        report = tag_quality_report(st, run_id=r3, move_share=0.1)
        now, prev = held(st, r3), held(st, r2)
        customers = st.counts()["customers"]
    assert report["previous_run_id"] == r2
    rows = {r["tag_id"]: r for r in report["tags"]}
    for tag, holders in now.items():
        r = rows[tag]
        assert r["count"] == len(holders)
        assert r["coverage"] == pytest.approx(len(holders) / customers)
        if prev.get(tag):
            kept = len(prev[tag] & holders) / len(prev[tag])
            assert r["stability"] == pytest.approx(kept)
            assert r["flagged"] is (abs(len(holders) - len(prev[tag])) / len(prev[tag]) > 0.1)


def test_cli_quality_json_and_diff_causes(runs):
    uri, r1, r2, _ = runs
    r = CliRunner().invoke(app, ["tags", "quality", "--store", uri, "--json"])
    assert r.exit_code == 0, r.output
    rows = json.loads(r.output)
    assert isinstance(rows, list) and {"tag_id", "coverage", "stability"} <= set(rows[0])
    r = CliRunner().invoke(app, ["tags", "diff", r1, r2, "--store", uri, "--json"])
    assert r.exit_code == 0, r.output
    totals = json.loads(r.output)["totals"]
    assert {t["tag_id"]: t["cause"] for t in totals}["young_customer"] == "definition"
