"""The workspace reads' pure halves against independent references (pandas, networkx, the
rule language's percentile), on random graphs with repeated and two-way relations."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from api.http.readmodel.workspace import cross_community_ties, percentile_of, referral_tree
from tagging.evaluator import percentile_below


def _random_relations(seed: int, n: int = 60, m: int = 400):
    rng = np.random.default_rng(seed)
    src = rng.integers(-1, n, m)  # -1: an endpoint outside the run
    dst = rng.integers(0, n, m)
    codes = rng.integers(-1, 6, n)  # -1: a customer without a community
    return src, dst, codes


@pytest.mark.parametrize("seed", range(5))
def test_ties_count_each_customer_pair_once_per_community_pair(seed):
    src, dst, codes = _random_relations(seed)
    got = cross_community_ties(src, dst, codes)

    # reference: distinct unordered customer pairs, grouped by their unordered community pair
    df = pd.DataFrame({"s": src, "d": dst})
    df = df[(df.s >= 0) & (df.d >= 0)]
    df["cs"], df["cd"] = codes[df.s], codes[df.d]
    df = df[(df.cs >= 0) & (df.cd >= 0) & (df.cs != df.cd)]
    pairs = {(min(s, d), max(s, d)) for s, d in zip(df.s, df.d, strict=True)}
    want: dict[tuple[int, int], int] = {}
    for s, d in pairs:
        key = tuple(sorted((int(codes[s]), int(codes[d]))))
        want[key] = want.get(key, 0) + 1

    assert {(int(a), int(b)): int(t) for a, b, t in got.itertuples(index=False)} == want
    assert (got["a"] < got["b"]).all()
    assert list(got["ties"]) == sorted(got["ties"], reverse=True)


def test_ties_of_no_relation_are_empty():
    got = cross_community_ties(np.zeros(0, int), np.zeros(0, int), np.array([0, 1]))
    assert got.empty and list(got.columns) == ["a", "b", "ties"]


@pytest.mark.parametrize("seed", range(5))
def test_referral_tree_is_the_breadth_first_tree(seed):
    rng = np.random.default_rng(seed)
    n = 80
    src = rng.integers(0, n, 160)
    dst = rng.integers(0, n, 160)
    keep = src != dst
    src, dst = src[keep], dst[keep]
    order = np.argsort(src, kind="stable")
    src, dst = src[order], dst[order]
    g = nx.DiGraph()
    g.add_edges_from(zip(src.tolist(), dst.tolist(), strict=True))
    root = int(src[0])

    edges, cut = referral_tree(root, src, dst, depth=3, max_nodes=10_000)

    levels = nx.single_source_shortest_path_length(g, root, cutoff=3)
    # every customer within 3 referral steps appears once, at its shortest distance, under a
    # parent one level up that referred them
    assert {c: lv for _, c, lv in edges} == {c: d for c, d in levels.items() if c != root}
    assert len({c for _, c, _ in edges}) == len(edges)
    parent_level = {root: 0, **{c: lv for _, c, lv in edges}}
    for p, c, lv in edges:
        assert g.has_edge(p, c) and parent_level[p] == lv - 1
    deeper = nx.single_source_shortest_path_length(g, root, cutoff=4)
    assert cut == any(d == 4 for d in deeper.values())


def test_referral_tree_stops_at_max_nodes_and_says_so():
    src = np.array([0, 0, 0, 1, 1])
    dst = np.array([1, 2, 3, 4, 5])
    edges, cut = referral_tree(0, src, dst, depth=6, max_nodes=3)
    assert edges == [(0, 1, 1), (0, 2, 1)] and cut
    assert referral_tree(9, src, dst, depth=6, max_nodes=3) == ([], False)


def test_percentile_is_the_rule_languages_pct():
    rng = np.random.default_rng(3)
    x = np.round(rng.exponential(2.0, 500), 1)  # many ties
    x[::17] = np.nan
    want = percentile_below(x)
    for i in range(0, 500, 7):
        got = percentile_of(x, x[i])
        assert (got is None) if np.isnan(x[i]) else got == pytest.approx(want[i])
