"""Referral metrics on trees, on several referrers per customer, and on cycles."""

from __future__ import annotations

import igraph as ig
import numpy as np

from graph.referral import referral_columns, referral_parents


def referral_graph(n: int, edges: list[tuple[int, int]], weights: list[float] | None = None):
    g = ig.Graph(n=n, edges=edges, directed=True)
    g.es["weight"] = weights or [1.0] * len(edges)
    return g


def test_tree() -> None:
    # 0 -> 1, 2; 1 -> 3 -> 4; 5 alone.
    cols = referral_columns(referral_graph(6, [(0, 1), (0, 2), (1, 3), (3, 4)]))
    assert cols["referrals_direct"].tolist() == [2, 1, 0, 1, 0, 0]
    assert cols["referral_downstream"].tolist() == [4, 2, 0, 1, 0, 0]
    assert cols["referral_depth"].tolist() == [3, 2, 0, 1, 0, 0]


def test_customer_with_two_referrers_is_credited_once() -> None:
    # 3 was referred by 0 once and by 1 twice: credited to 1.
    g = referral_graph(4, [(0, 3), (1, 3), (0, 2)], [1.0, 2.0, 1.0])
    assert referral_parents(g).tolist() == [-1, -1, 0, 1]
    cols = referral_columns(g)
    assert cols["referrals_direct"].tolist() == [2, 1, 0, 0]
    assert cols["referral_downstream"].tolist() == [1, 1, 0, 0]


def test_cycle_is_cut_at_lowest_member() -> None:
    # Bad data: 1 -> 2 -> 3 -> 1, and 3 -> 4.
    g = referral_graph(5, [(1, 2), (2, 3), (3, 1), (3, 4)])
    assert referral_parents(g).tolist() == [-1, -1, 1, 2, 3]
    cols = referral_columns(g)
    assert cols["referral_downstream"].tolist() == [0, 3, 2, 1, 0]
    assert cols["referral_depth"].tolist() == [0, 3, 2, 1, 0]


def test_long_chain_and_no_referrals() -> None:
    n = 2000
    cols = referral_columns(referral_graph(n, [(i, i + 1) for i in range(n - 1)]))
    np.testing.assert_array_equal(cols["referral_downstream"], np.arange(n)[::-1])
    np.testing.assert_array_equal(cols["referral_depth"], np.arange(n)[::-1])
    empty = referral_columns(referral_graph(3, []))
    assert all(v.tolist() == [0, 0, 0] for v in empty.values())
