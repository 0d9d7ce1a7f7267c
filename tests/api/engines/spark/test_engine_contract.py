"""The spark engine against the local engine on one generated dataset, and its run in a store.

The local side is the `analyze` use case on a DuckDB store loaded with the files; the Spark
side is the spark engine's stages on the same files (its input is the folder, not the store).
Exact where the maths is discrete (degrees, coreness, components, referral trees), to
rounding for sums (strengths, clustering), PageRank within the issue's bounds, and the
driver-side igraph measures (Leiden, betweenness, constraint, reach) equal because they run
the local engine's own functions on the same graph. The run registered in a second store
then answers the read commands.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr
from typer.testing import CliRunner

from api.cli import app
from api.engines import get_engine
from api.engines.base import MetricsResult, TagsResult, persist_run
from api.usecases import analyze, new_run_id
from graph.model import RunInfo
from graph.params import AnalysisParams
from graph.store import open_store
from loaders.generate import generate, write_dataset
from loaders.ingest import load_folder

SEED = 7
EXACT = [
    "in_degree",
    "out_degree",
    "degree",
    "coreness",
    "referrals_direct",
    "referral_downstream",
    "referral_depth",
]
CLOSE = ["in_strength", "out_strength", "clustering", "betweenness", "constraint", "reach_2hop"]


@pytest.fixture(scope="module")
def both(spark, tmp_path_factory):
    """(local metrics, local store, spark engine, spark MetricsResult, projection params)."""
    d = tmp_path_factory.mktemp("contract")
    src = d / "input"
    # as generated: some keys repeat, the load keeps the first row of each, so must spark
    write_dataset(generate(1500, seed=3), src, fmt="parquet")
    ref = open_store(f"duckdb:///{d / 'local.duckdb'}")
    report = load_folder(ref, src, quarantine_dir=d / "q")
    run = analyze(ref, seed=SEED).run
    local = ref.read_metrics(run.run_id).sort_values("customer_id").reset_index(drop=True)
    engine = get_engine(
        "spark", source=str(src), out_dir=str(d / "runs"), session=spark, driver_budget_mb=512
    )
    target = open_store(f"duckdb:///{d / 'spark.duckdb'}")
    projection = engine.project(target, AnalysisParams(seed=SEED))
    result = engine.metrics(projection)
    yield local, ref, run, engine, result, projection, target, d, report
    ref.close()
    target.close()


def _spark_metrics(result) -> pd.DataFrame:
    return result.metrics.toPandas().sort_values("customer_id").reset_index(drop=True)


def test_validation_counts_equal_the_local_load(both):
    _, ref, _, engine, result, *_, report = both
    assert engine.input_counts(None) == ref.counts()
    want = report.as_dict()
    assert any(t["inserted"] < t["loaded"] for t in want["tables"].values())  # keys repeat
    assert engine.validation_report() == {"tables": want["tables"], "reasons": want["reasons"]}
    assert result.stats["validation"] == engine.validation_report()  # in the run record


def test_reference_time_and_build_stats_equal_the_local_run(both):
    _, _, run, _, result, projection, *_ = both
    assert projection.params.to_dict() == run.params
    for key in ("relations_total", "relations_used", "relations_dropped", "as_of", "n_edges"):
        assert result.stats[key] == run.stats[key], key


def test_metrics_equal_the_local_engine(both):
    local, _, run, _, result, *_ = both
    got = _spark_metrics(result)
    assert got["customer_id"].tolist() == local["customer_id"].tolist()
    for col in EXACT:
        np.testing.assert_array_equal(got[col].to_numpy(), local[col].to_numpy(), err_msg=col)
    for col in CLOSE:
        np.testing.assert_allclose(got[col], local[col], rtol=1e-9, atol=1e-12, err_msg=col)
    pr, ref_pr = got["pagerank"].to_numpy(), local["pagerank"].to_numpy()
    assert spearmanr(pr, ref_pr).statistic >= 0.9999
    assert np.max(np.abs(pr - ref_pr) / ref_pr) <= 1e-6
    # Leiden ran on the driver with the run's seed on the same graph: the same communities
    assert result.stats["method"] == "leiden" and result.stats["left_out"] == {}
    assert (got["community_id"] == local["community_id"]).mean() == 1.0
    assert result.stats["n_communities"] == run.stats["n_communities"]
    assert result.stats["modularity"] == pytest.approx(run.stats["modularity"], abs=1e-9)
    assert 0 < result.stats["label_propagation_modularity"] <= result.stats["modularity"]
    for col in ("neighbor_communities",):
        np.testing.assert_array_equal(got[col].to_numpy(), local[col].to_numpy(), err_msg=col)
    for col in ("community_pagerank_pct", "influence"):
        close = np.isclose(got[col], local[col], rtol=1e-9, atol=1e-9)
        assert close.mean() >= 0.999, col  # a PageRank near-tie may swap two percentiles


def test_communities_table_equals_the_local_run(both):
    _, ref, run, _, result, *_ = both
    want = ref.read_communities(run.run_id).sort_values("community_id").reset_index(drop=True)
    got = result.communities.toPandas().sort_values("community_id").reset_index(drop=True)
    assert got["size"].sum() == result.stats["n_vertices"]
    assert got["community_id"].tolist() == want["community_id"].tolist()
    np.testing.assert_array_equal(got["size"], want["size"])
    assert got["leader_id"].tolist() == want["leader_id"].tolist()
    for col in ("density", "internal_weight", "external_weight"):
        np.testing.assert_allclose(got[col], want[col], rtol=1e-9, err_msg=col)


def test_the_run_registered_in_a_store_answers_the_read_commands(both, spark):
    local, _, _, engine, result, projection, target, d, _ = both
    now = datetime.now(UTC)
    run = RunInfo(
        run_id=new_run_id(now),
        created_at=now.isoformat(),
        params=projection.params.to_dict(),
        input_counts=engine.input_counts(target),
        stats={k: v for k, v in result.stats.items() if k != "timings"},
    )
    # as the tags stage records a tag reading a measure left out (see the budget test)
    engine._not_evaluated = {"bridge": "needs betweenness: over the budget of 0 MB"}
    # tags come from the relational stage (issue 17's other half); an empty set here
    empty = spark.createDataFrame(
        [], "customer_id string, tag_id string, score double, reason string"
    )
    defs = pd.DataFrame(columns=["tag_id", "name_zh", "name_en", "category", "rule"])
    timings = engine.persist(target, run, metrics=result, tags=TagsResult(empty, defs))
    assert {"write_parquet", "persist_metrics", "publish"} <= set(timings)
    folder = d / "runs" / run.run_id
    assert (folder / "run.json").is_file()
    assert sorted(p.name for p in folder.iterdir() if p.is_dir()) == [
        "communities",
        "input",
        "metrics",
        "quarantine",
        "tag_assignments",
    ]
    assert [r.run_id for r in target.list_runs()] == [run.run_id]
    # the input, scanned by DuckDB from the run's part files, is what a load keeps
    assert target.counts() == {**dict.fromkeys(target.counts(), 0), **engine.input_counts(target)}
    assert target.read_table("customers").num_rows == engine.input_counts(target)["customers"]
    stored = target.read_metrics(run.run_id).sort_values("customer_id").reset_index(drop=True)
    np.testing.assert_array_equal(stored["coreness"], local["coreness"])
    # DuckDB read the Parquet itself; registering the same tables read into Python through
    # the store's table methods gives a run that reads the same
    via_tables = open_store(f"duckdb:///{d / 'tables.duckdb'}")
    back = {n: pd.read_parquet(folder / n) for n in ("metrics", "communities", "tag_assignments")}
    persist_run(
        via_tables,
        target.list_runs()[0],  # the run as recorded (with the tags not evaluated)
        metrics=MetricsResult(back["metrics"], back["communities"], stats=result.stats),
        tags=TagsResult(back["tag_assignments"], defs),
    )
    for read in ("read_metrics", "read_communities", "read_catalog"):
        pd.testing.assert_frame_equal(
            getattr(target, read)(run.run_id), getattr(via_tables, read)(run.run_id), obj=read
        )
    assert target.list_runs() == via_tables.list_runs()
    via_tables.close()

    uri = f"duckdb:///{d / 'spark.duckdb'}"
    target.close()
    runner = CliRunner()
    top = runner.invoke(app, ["influencers", "--store", uri, "--top", "5", "--json"])
    assert top.exit_code == 0, top.output
    best = local.sort_values("influence", ascending=False)["customer_id"].iloc[0]
    assert best in top.output
    who = runner.invoke(app, ["customer", best, "--store", uri, "--json"])
    assert who.exit_code == 0, who.output
    out = d / "export.parquet"
    exp = runner.invoke(app, ["metrics", "export", "--out", str(out), "--store", uri])
    assert exp.exit_code == 0, exp.output
    assert len(pd.read_parquet(out)) == len(local)
    # the run record says which tag was not evaluated and why; `guanxi tags` shows it
    tags = runner.invoke(app, ["tags", "--store", uri, "--json"])
    assert tags.exit_code == 0, tags.output
    rows = {r["tag_id"]: r for r in json.loads(tags.output)}
    assert rows["bridge"]["not_evaluated"] == "needs betweenness: over the budget of 0 MB"
    shown = runner.invoke(app, ["tags", "--store", uri])
    assert "not evaluated: bridge (needs betweenness" in " ".join(shown.output.split())


def test_cli_spark_needs_an_input_and_local_refuses_spark_options(tmp_path):
    uri = f"duckdb:///{tmp_path / 's.duckdb'}"
    runner = CliRunner()
    res = runner.invoke(app, ["analyze", "--engine", "spark", "--store", uri])
    assert res.exit_code == 2 and "--engine spark needs --input SRC" in res.output
    res = runner.invoke(app, ["analyze", "--store", uri, "--input", str(tmp_path)])
    assert res.exit_code == 2 and "are for --engine spark" in res.output
    res = runner.invoke(
        app, ["analyze", "--engine", "spark", "--input", ".", "--conf", "nokey", "--store", uri]
    )
    assert res.exit_code == 2 and "must look like key=value" in res.output


def test_over_the_driver_budget_the_single_machine_stages_are_left_out(spark, spark_pair):
    """Budget 0: no igraph on the driver; label propagation communities; the run says why."""
    from api.engines.spark.driver_stages import DRIVER_METRICS
    from api.engines.spark.metrics import spark_metrics
    from api.engines.spark.relational import not_evaluated
    from graph.influence import percentile_ranks
    from tagging import default_catalog

    _, sg = spark_pair
    res = spark_metrics(spark, sg, AnalysisParams(seed=SEED), driver_budget_mb=0)
    assert res.stats["method"] == "label_propagation"
    assert set(res.stats["left_out"]) == {"leiden", *DRIVER_METRICS}
    assert "over the budget of 0 MB" in res.stats["left_out"]["betweenness"]
    assert res.stats["modularity"] == res.stats["label_propagation_modularity"]
    m = _spark_metrics(res)
    assert m[list(DRIVER_METRICS)].isna().all().all()
    # influence renormalised over the default weights that were computed
    weights = {"pagerank": 0.35, "in_strength": 0.15, "referral_downstream": 0.15, "coreness": 0.1}
    total = sum(weights.values())
    want = sum(w / total * percentile_ranks(m[k].to_numpy(float)) for k, w in weights.items())
    np.testing.assert_allclose(m["influence"], want, rtol=1e-12, atol=1e-9)
    assert res.communities.count() == res.stats["n_communities"]
    # the tags reading a left-out measure are the ones the run reports as not evaluated
    skipped = not_evaluated(default_catalog(), res.stats["left_out"])
    words = re.compile(r"\b(" + "|".join(DRIVER_METRICS) + r")\b")
    cat = default_catalog()
    rules = {t.id: (t.when, t.score) for t in cat.tags if t.enabled}
    rules |= {f"{f.id}:": (f.when, f.score) for f in cat.families if f.enabled}
    want = {k for k, es in rules.items() if any(e is not None and words.search(e.text) for e in es)}
    assert want and set(skipped) == want
    assert all("over the budget of 0 MB" in why for why in skipped.values())
