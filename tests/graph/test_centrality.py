"""Centrality metrics agree with networkx on the same graphs; the estimators are close."""

from __future__ import annotations

import random

import igraph as ig
import networkx as nx
import numpy as np
import pytest
from scipy.stats import spearmanr

from graph.centrality import (
    betweenness_mode,
    betweenness_scores,
    clustering_coefficients,
    constraint_scores,
    coreness_values,
    degree_columns,
    neighbor_community_counts,
    pagerank_scores,
    reach_2hop,
)
from tests.graph.conftest import to_igraph, undirected_sum

REL = 1e-6


def as_array(d: dict, n: int) -> np.ndarray:
    return np.array([d[i] for i in range(n)], dtype=float)


def test_payroll_hub_degrees_and_strengths() -> None:
    # Hub 0 pays ten spokes; spoke 1 pays back twice as much; spokes 1 and 2 also talk.
    edges = [(0, s) for s in range(1, 11)] + [(1, 0), (1, 2)]
    g = ig.Graph(n=11, edges=edges, directed=True)
    g.es["weight"] = [1.0] * 10 + [2.0, 0.5]
    cols = degree_columns(g)
    assert cols["out_degree"].tolist() == [10, 2] + [0] * 9
    assert cols["in_degree"].tolist() == [1, 1, 2] + [1] * 8
    assert cols["degree"].tolist() == [10, 2, 2] + [1] * 8  # 0<->1 counts once
    assert cols["out_strength"][:2].tolist() == [10.0, 2.5]
    assert cols["in_strength"][:3].tolist() == [2.0, 1.0, 1.5]


def test_directed_metrics_match_networkx(weighted_digraph: nx.DiGraph) -> None:
    gx = weighted_digraph
    n = gx.number_of_nodes()
    g = to_igraph(gx)
    cols = degree_columns(g)
    np.testing.assert_array_equal(cols["in_degree"], as_array(dict(gx.in_degree()), n))
    np.testing.assert_array_equal(cols["out_degree"], as_array(dict(gx.out_degree()), n))
    np.testing.assert_allclose(
        cols["in_strength"], as_array(dict(gx.in_degree(weight="weight")), n), rtol=REL
    )
    np.testing.assert_allclose(
        cols["out_strength"], as_array(dict(gx.out_degree(weight="weight")), n), rtol=REL
    )
    np.testing.assert_array_equal(cols["degree"], as_array(dict(gx.to_undirected().degree()), n))

    pr = pagerank_scores(g, damping=0.85)
    ref = nx.pagerank(gx, alpha=0.85, weight="weight", tol=1e-13, max_iter=10_000)
    np.testing.assert_allclose(pr, as_array(ref, n), rtol=REL)


def test_pagerank_karate_other_damping(karate: nx.Graph) -> None:
    pr = pagerank_scores(to_igraph(karate), damping=0.7)
    ref = nx.pagerank(karate, alpha=0.7, weight="weight", tol=1e-13, max_iter=10_000)
    np.testing.assert_allclose(pr, as_array(ref, 34), rtol=REL)


@pytest.mark.parametrize("which", ["karate", "digraph"])
def test_undirected_metrics_match_networkx(
    which: str, karate: nx.Graph, weighted_digraph: nx.DiGraph
) -> None:
    gx = karate if which == "karate" else undirected_sum(weighted_digraph)
    n = gx.number_of_nodes()
    g = to_igraph(gx)
    np.testing.assert_array_equal(coreness_values(g), as_array(nx.core_number(gx), n))
    np.testing.assert_allclose(
        clustering_coefficients(g), as_array(nx.clustering(gx), n), rtol=REL, atol=1e-12
    )
    np.testing.assert_allclose(
        constraint_scores(g), as_array(nx.constraint(gx, weight="weight"), n), rtol=REL
    )
    exact = [len(nx.single_source_shortest_path_length(gx, v, cutoff=2)) - 1 for v in range(n)]
    np.testing.assert_array_equal(reach_2hop(g), exact)


def test_exact_betweenness_matches_networkx_unweighted(
    karate: nx.Graph, weighted_digraph: nx.DiGraph
) -> None:
    # Unweighted (hop) betweenness, raw pair counts: networkx normalized=False.
    for gx in (karate, undirected_sum(weighted_digraph).subgraph(range(600)).copy()):
        n = gx.number_of_nodes()
        got = betweenness_scores(to_igraph(gx), exact_max_vertices=n, samples=8, seed=0)
        ref = nx.betweenness_centrality(gx, normalized=False, weight=None)
        np.testing.assert_allclose(got, as_array(ref, n), rtol=REL, atol=1e-9)
    sub = weighted_digraph.subgraph(range(400)).copy()
    directed = betweenness_scores(to_igraph(sub), exact_max_vertices=10_000)
    ref = nx.betweenness_centrality(sub, normalized=False, weight=None)
    np.testing.assert_allclose(directed, as_array(ref, 400), rtol=REL, atol=1e-9)


def test_sampled_betweenness_tracks_exact() -> None:
    # Forest-fire graphs (Leskovec et al.) reproduce the heavy tails and densification of
    # social networks. On a Barabasi-Albert graph with m=4 the same estimate reaches a
    # Spearman of only ~0.85: its many similar low-betweenness vertices are hard to order.
    state = random.getstate()
    random.seed(5)
    g = ig.Graph.Forest_Fire(2000, 0.35, 0.3, directed=False)
    random.setstate(state)
    exact = betweenness_scores(g, exact_max_vertices=2000)
    est = betweenness_scores(g, exact_max_vertices=100, samples=64, seed=3)
    assert betweenness_mode(g, exact_max_vertices=100) == "sampled"
    rho = spearmanr(exact, est).statistic
    assert rho > 0.9, rho
    assert est.sum() == pytest.approx(exact.sum(), rel=0.1)  # unbiased scaling
    again = betweenness_scores(g, exact_max_vertices=100, samples=64, seed=3)
    np.testing.assert_array_equal(est, again)


def test_isolated_and_leaf_vertices() -> None:
    g = ig.Graph(n=4, edges=[(0, 1)])
    g.es["weight"] = [2.0]
    c = constraint_scores(g)
    assert c[0] == c[1] == 1.0  # a single contact fully constrains
    assert np.isnan(c[2]) and np.isnan(c[3])
    assert clustering_coefficients(g).tolist() == [0.0] * 4
    assert reach_2hop(g).tolist() == [1, 1, 0, 0]


def test_reach_sketch_estimate_is_close() -> None:
    g = ig.Graph.Barabasi(4000, 3, directed=False)
    exact = reach_2hop(g)
    est = reach_2hop(g, exact_walk_budget=0, sketch_size=64, seed=1)
    rel = np.abs(est - exact) / exact
    assert np.median(rel) < 0.15
    assert spearmanr(exact, est).statistic > 0.9
    assert (est >= np.asarray(g.degree())).all()


def test_neighbor_community_counts() -> None:
    # Two households {0,1,2} and {3,4} joined by 2-3; 5 is a third group tied to 2.
    g = ig.Graph(n=6, edges=[(0, 1), (1, 2), (0, 2), (2, 3), (3, 4), (2, 5)])
    counts = neighbor_community_counts(g, np.array([0, 0, 0, 1, 1, 2]))
    assert counts.tolist() == [0, 0, 2, 1, 0, 1]


def test_betweenness_precision_states_the_sampled_estimates_error() -> None:
    """The stated relative standard error is what the estimate misses exact Brandes by
    (over its top customers), and it shrinks as 1/sqrt(pivots); exact runs state none."""
    from graph.centrality import (
        betweenness_chunks,
        betweenness_partial,
        betweenness_precision,
        combine_betweenness,
    )

    state = random.getstate()
    random.seed(2)
    g = ig.Graph.Barabasi(3000, 3)
    random.setstate(state)
    exact = np.asarray(g.betweenness(directed=False))
    stated = {}
    for pivots in (64, 256):
        chunks = betweenness_chunks(g.vcount(), exact_max_vertices=0, samples=pivots, seed=0)
        parts = [betweenness_partial(g, c) for c in chunks]
        est = combine_betweenness(g.vcount(), chunks, parts)
        stated[pivots] = betweenness_precision(chunks, parts, est)
        top = np.argsort(-est, kind="stable")[:30]
        missed = float(np.median(np.abs(est[top] - exact[top]) / exact[top]))
        assert stated[pivots] / 2 <= missed <= stated[pivots] * 2, (pivots, stated, missed)
    assert 0.35 <= stated[256] / stated[64] <= 0.65
    chunks = betweenness_chunks(200, exact_max_vertices=500)
    assert betweenness_precision(chunks, [np.ones(200)], np.ones(200)) is None


@pytest.mark.parametrize("directed", [False, True])
def test_pivot_betweenness_equals_igraph_subset_betweenness(directed: bool) -> None:
    """The vectorised Brandes of the pivots against igraph's own subset betweenness, on a
    graph with hubs, several components, isolated vertices and tied shortest paths; the
    same numbers when the edges come in another order."""
    from graph.centrality import betweenness_partial

    state = random.getstate()
    random.seed(5)
    g = ig.Graph.Barabasi(600, 2, directed=directed) + ig.Graph.Lattice(
        [6, 6], circular=False, directed=directed
    )
    g.add_vertices(5)
    random.setstate(state)
    sources = [0, 3, 17, 250, 601, 635, 640]
    mine = betweenness_partial(g, sources)
    ref = np.asarray(g.betweenness(directed=directed, sources=sources))
    np.testing.assert_allclose(mine, ref, rtol=1e-12, atol=1e-12)
    assert ref.max() > 0
    edges = g.get_edgelist()
    order = np.random.default_rng(1).permutation(len(edges))
    shuffled = ig.Graph(n=g.vcount(), edges=[edges[i] for i in order], directed=directed)
    assert np.array_equal(betweenness_partial(shuffled, sources), mine)
