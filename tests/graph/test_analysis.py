"""analyze_graph end to end: columns, reproducibility, stats; influence and percentiles."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from graph.analysis import COMMUNITY_COLUMNS, METRIC_COLUMNS, analyze_graph
from graph.build import build_interaction_graph
from graph.errors import ConfigError
from graph.influence import grouped_percentile_ranks, influence_scores, percentile_ranks
from graph.params import AnalysisParams


@pytest.fixture(scope="module")
def interaction_graph():
    rng = np.random.default_rng(3)
    n, m = 1500, 12_000
    ids = np.array([f"C{i:05d}" for i in rng.permutation(n)], dtype=object)
    # Heavy-tailed receivers and four loose groups, so communities and hubs exist.
    src = rng.integers(0, n, m)
    same_group = rng.random(m) < 0.8
    dst = np.where(same_group, (src // 375) * 375 + rng.integers(0, 375, m), rng.integers(0, n, m))
    dst = np.where(rng.random(m) < 0.2, (n * rng.random(m) ** 3).astype(int), dst)
    types = np.array(["referral", "like", "message", "transfer", "family"])
    rel = pa.table(
        {
            "src_id": pa.array(ids[src]),
            "dst_id": pa.array(ids[dst]),
            "type": pa.array(types[rng.choice(5, m, p=[0.05, 0.4, 0.3, 0.15, 0.1])]),
            "occurred_at": pa.array(
                np.datetime64("2024-01-01", "us") + rng.integers(0, 3 * 10**13, m).astype("m8[us]")
            ),
        }
    )
    return build_interaction_graph(pa.array(ids), rel)


@pytest.fixture(scope="module")
def result(interaction_graph):
    return analyze_graph(interaction_graph, AnalysisParams(seed=5))


def test_metric_and_community_columns(result, interaction_graph) -> None:
    m, c = result.metrics, result.communities
    assert tuple(m.columns) == METRIC_COLUMNS
    assert tuple(c.columns) == COMMUNITY_COLUMNS
    assert m["customer_id"].tolist() == interaction_graph.ids.tolist()
    assert m["community_id"].str.fullmatch(r"c\d{4}").all()
    assert m["influence"].between(0, 100).all()
    assert m["community_pagerank_pct"].between(0, 100).all()
    assert m["pagerank"].sum() == pytest.approx(1.0)
    sizes = c.set_index("community_id")["size"]
    assert sizes.is_monotonic_decreasing and sizes.index[0] == "c0000"
    assert (m["community_id"].value_counts().sort_index() == sizes.sort_index()).all()
    # Each leader is the top-PageRank member of its community.
    top = m.loc[m.groupby("community_id")["pagerank"].idxmax(), ["community_id", "customer_id"]]
    assert dict(zip(top["community_id"], top["customer_id"], strict=True)) == dict(
        zip(c["community_id"], c["leader_id"], strict=True)
    )


def test_stats_are_json_and_complete(result, interaction_graph) -> None:
    s = json.loads(json.dumps(result.stats))
    assert s["n_vertices"] == 1500 and s["n_edges"] == interaction_graph.graph.ecount()
    assert s["n_edges"] == interaction_graph.edge_count
    assert s["method"] == "leiden" and s["betweenness_mode"] == "exact"
    assert s["relations_dropped"] == interaction_graph.stats["relations_dropped_self_loop"]
    assert set(s["timings"]) >= {"communities", "betweenness", "pagerank"}
    assert 0.2 < s["modularity"] < 1


def test_same_seed_same_result_and_progress(interaction_graph, result) -> None:
    seen: list[tuple[str, float]] = []
    again = analyze_graph(
        interaction_graph, AnalysisParams(seed=5), progress=lambda s, f: seen.append((s, f))
    )
    pd.testing.assert_frame_equal(result.metrics, again.metrics)
    pd.testing.assert_frame_equal(result.communities, again.communities)
    assert seen[-1][1] == 1.0 and [f for _, f in seen] == sorted(f for _, f in seen)


def test_sampled_mode_is_reported(interaction_graph) -> None:
    params = AnalysisParams(exact_betweenness_max_vertices=100, betweenness_samples=16, seed=1)
    r = analyze_graph(interaction_graph, params)
    assert (r.stats["betweenness_mode"], r.stats["betweenness_samples"]) == ("sampled", 16)
    assert r.stats["params"]["betweenness_samples"] == 16


def test_params_validation_and_round_trip() -> None:
    p = AnalysisParams(damping=0.9, influence_weights={"pagerank": 1.0})
    assert AnalysisParams.from_dict(json.loads(json.dumps(p.to_dict()))) == p
    with pytest.raises(ConfigError, match="damping"):
        AnalysisParams(damping=1.5)
    with pytest.raises(ConfigError, match="unknown metric"):
        AnalysisParams(influence_weights={"charisma": 1.0})


def test_percentiles_and_influence() -> None:
    assert percentile_ranks(np.array([5.0, 1.0, 1.0, 3.0])).tolist() == pytest.approx(
        [100.0, 0.0, 0.0, 200 / 3]
    )
    grouped = grouped_percentile_ranks(np.array([1.0, 2.0, 9.0, 4.0]), np.array([0, 0, 1, 0]))
    assert grouped.tolist() == [0.0, 50.0, 0.0, 100.0]
    score = influence_scores(
        {"pagerank": np.array([0.5, 0.3, 0.2]), "reach_2hop": np.array([1, 9, 5])},
        weights={"pagerank": 0.75, "reach_2hop": 0.25},
    )
    assert score.tolist() == pytest.approx([75.0, 62.5, 12.5])
    with pytest.raises(ConfigError, match="not computed"):
        influence_scores({"pagerank": np.ones(3)}, weights={"betweenness": 1.0})


@pytest.mark.parametrize("ids", [["a", "b", "c"], []])
def test_customers_without_relations(ids: list[str]) -> None:
    rel = pa.table(
        {
            "src_id": pa.array([], pa.string()),
            "dst_id": pa.array([], pa.string()),
            "type": pa.array([], pa.string()),
            "occurred_at": pa.array([], pa.timestamp("us")),
        }
    )
    r = analyze_graph(build_interaction_graph(pa.array(ids, pa.string()), rel), AnalysisParams())
    assert tuple(r.metrics.columns) == METRIC_COLUMNS and len(r.metrics) == len(ids)
    assert len(r.communities) == len(ids)  # every isolated customer is its own community
    assert (r.metrics["influence"] == 0).all() and r.metrics["constraint"].isna().all()
