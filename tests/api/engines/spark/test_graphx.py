"""The GraphX stages against igraph (graph.centrality, graph.referral) on the same projection."""

from __future__ import annotations

import igraph as ig
import numpy as np
import pytest
from scipy.stats import spearmanr

from api.engines.spark import graph_stages as gx
from api.engines.spark.metrics import PAGERANK_MAX_ITER, PAGERANK_TOL, modularity
from graph.build import igraph_weights
from graph.centrality import (
    clustering_coefficients,
    coreness_values,
    degree_columns,
    pagerank_scores,
)
from graph.communities import leiden_communities
from graph.params import AnalysisParams
from graph.referral import referral_columns


def _by_vid(df, col: str, n: int) -> np.ndarray:
    p = df.select("vid", col).toPandas().sort_values("vid")
    assert p["vid"].tolist() == list(range(n))
    return p[col].to_numpy()


def test_degree_exact(spark, spark_pair):
    local, sg = spark_pair
    got = _by_vid(gx.degrees(spark, sg.vertices, sg.undirected), "degree", local.n)
    ref = degree_columns(local.graph, undirected=local.undirected())["degree"]
    assert ref.max() > 10
    np.testing.assert_array_equal(got, ref)


def test_pagerank_matches_igraph(spark, spark_pair):
    local, sg = spark_pair
    pr, steps = gx.pagerank(
        spark,
        sg.vertices,
        sg.edges,
        damping=0.85,
        tol=PAGERANK_TOL,
        max_iter=PAGERANK_MAX_ITER,
    )
    got = _by_vid(pr, "pagerank", local.n)
    ref = pagerank_scores(local.graph, damping=0.85)
    assert steps < PAGERANK_MAX_ITER
    assert abs(got.sum() - 1.0) < 1e-9
    assert spearmanr(got, ref).statistic >= 0.9999
    assert np.max(np.abs(got - ref) / ref) <= 1e-6


def test_coreness_and_clustering_exact(spark, spark_pair):
    local, sg = spark_pair
    und = local.undirected()
    core = _by_vid(gx.coreness(spark, sg.vertices, sg.undirected), "coreness", local.n)
    ref_core = coreness_values(und)
    assert ref_core.max() >= 3
    np.testing.assert_array_equal(core, ref_core)
    tri = _by_vid(gx.triangles(spark, sg.vertices, sg.undirected), "triangles", local.n)
    deg = np.asarray(und.degree(), dtype=np.float64)
    clustering = np.where(deg >= 2, tri / np.maximum(deg * (deg - 1) / 2, 1), 0.0)
    np.testing.assert_allclose(clustering, clustering_coefficients(und), rtol=1e-12, atol=0)


def test_connected_components_exact(spark, spark_pair):
    local, sg = spark_pair
    comp = _by_vid(gx.components(spark, sg.vertices, sg.undirected), "component", local.n)
    membership = np.asarray(local.undirected().connected_components().membership)
    lowest = np.full(membership.max() + 1, local.n)
    np.minimum.at(lowest, membership, np.arange(local.n))
    assert membership.max() >= 1  # isolated customers make more than one component
    np.testing.assert_array_equal(comp, lowest[membership])


def test_referral_trees_exact(spark, spark_pair):
    local, sg = spark_pair
    from api.engines.spark.metrics import _credited_referrers

    trees = gx.referral_trees(spark, sg.vertices, _credited_referrers(sg.referral))
    ref = referral_columns(local.referral)
    assert ref["referral_depth"].max() >= 2
    for col in ("referral_downstream", "referral_depth"):
        np.testing.assert_array_equal(_by_vid(trees, col, local.n), ref[col])


def test_referral_cycle_and_shared_referrals_follow_the_local_rule(spark):
    """Hand-made: 0->1->2->0 is a cycle (0 loses its referrer), 3 and 4 both refer 5."""
    edges = [(0, 1, 1.0), (1, 2, 1.0), (2, 0, 1.0), (2, 6, 1.0), (3, 5, 1.0), (4, 5, 2.0)]
    n = 7
    g = ig.Graph(n=n, edges=[(a, b) for a, b, _ in edges], directed=True)
    g.es["weight"] = [w for *_, w in edges]
    ref = referral_columns(g)
    from api.engines.spark.metrics import _credited_referrers

    verts = spark.createDataFrame([(i,) for i in range(n)], "vid long")
    ref_df = spark.createDataFrame(edges, "src long, dst long, weight double")
    trees = gx.referral_trees(spark, verts, _credited_referrers(ref_df))
    for col in ("referral_downstream", "referral_depth"):
        np.testing.assert_array_equal(_by_vid(trees, col, n), ref[col])
    assert ref["referral_downstream"][0] == 3  # root of the cut cycle: 1, 2 and 6 below it


def test_label_propagation_modularity_beside_leiden(spark, spark_pair):
    """The Spark modularity equals igraph's on the same partition; both partitions are scored."""
    local, sg = spark_pair
    lp = gx.label_propagation(spark, sg.vertices, sg.undirected, max_steps=10)
    labels = _by_vid(lp, "label", local.n)
    params = AnalysisParams(resolution=1.0)  # classic modularity, for the comparison
    und = local.undirected()
    _, membership = np.unique(labels, return_inverse=True)
    ref_q = und.modularity(
        membership.tolist(), weights=igraph_weights(und), resolution=params.resolution
    )
    got_q = modularity(sg.undirected, lp.withColumnRenamed("label", "community"), params)
    assert got_q == pytest.approx(ref_q, abs=1e-9)
    again = gx.label_propagation(spark, sg.vertices, sg.undirected, max_steps=10)
    np.testing.assert_array_equal(_by_vid(again, "label", local.n), labels)  # deterministic
    leiden = leiden_communities(und, resolution=params.resolution, seed=params.seed)
    print(f"\nmodularity: label propagation {got_q:.4f}, leiden {leiden.modularity:.4f}")
    assert 0.0 < got_q <= leiden.modularity + 1e-9
