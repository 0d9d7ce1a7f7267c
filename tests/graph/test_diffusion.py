"""Tests for graph.diffusion: probability mappings, Monte Carlo reach, RR sets."""

from __future__ import annotations

import igraph
import networkx as nx
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graph.diffusion import (
    _KeySet,
    activation_probabilities,
    cascade_graph,
    reverse_reachable_sets,
    simulate_spread,
    simulate_spreads,
)
from graph.errors import ConfigError


def _digraph(n: int, edges: list[tuple[int, int]], weights: list[float] | None = None):
    g = igraph.Graph(n=n, edges=edges, directed=True)
    g.es["weight"] = weights if weights is not None else [1.0] * len(edges)
    return g


def karate() -> igraph.Graph:
    und = nx.karate_club_graph().edges()
    return _digraph(34, [(u, v) for u, v in und] + [(v, u) for u, v in und])


def test_weighted_cascade_shares_each_customers_attention_by_weight():
    # 0 -> 2 (w=1), 1 -> 2 (w=3), 2 -> 3 (w=2): vertex 2 hears 1/4 from 0, 3/4 from 1.
    g = _digraph(4, [(0, 2), (1, 2), (2, 3)], [1.0, 3.0, 2.0])
    assert activation_probabilities(g).tolist() == [0.25, 0.75, 1.0]
    assert activation_probabilities(g, mapping="in_degree").tolist() == [0.5, 0.5, 1.0]


def test_exponential_and_constant_mappings():
    g = _digraph(3, [(0, 1), (1, 2)], [5.0, 10.0])
    np.testing.assert_allclose(
        activation_probabilities(g, mapping="exponential", scale=5.0),
        [1 - np.exp(-1), 1 - np.exp(-2)],
    )
    assert activation_probabilities(g, mapping="constant", p=0.3).tolist() == [0.3, 0.3]


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"mapping": "linear"}, "unknown"),
        ({"mapping": "exponential", "scale": 0.0}, "scale"),
        ({"mapping": "constant", "p": 1.5}, "(0, 1]"),
    ],
)
def test_bad_mapping_parameters_raise_config_error(kwargs, fragment):
    g = _digraph(2, [(0, 1)])
    with pytest.raises(ConfigError, match=fragment.replace("(", r"\(").replace("]", r"\]")):
        activation_probabilities(g, **kwargs)


def test_weighted_mapping_needs_positive_weights():
    g = igraph.Graph(n=2, edges=[(0, 1)], directed=True)
    with pytest.raises(ConfigError, match="weight"):
        activation_probabilities(g)
    g.es["weight"] = [0.0]
    with pytest.raises(ConfigError, match="> 0"):
        activation_probabilities(g)
    assert activation_probabilities(g, mapping="in_degree").tolist() == [1.0]


def test_undirected_graph_is_refused():
    with pytest.raises(ConfigError, match="directed"):
        activation_probabilities(igraph.Graph([(0, 1)]), mapping="in_degree")
    with pytest.raises(ConfigError, match="directed"):
        cascade_graph(igraph.Graph([(0, 1)]), np.ones(1))


def test_certain_edges_reach_exactly_the_descendants():
    # 0 -> 1 -> 2, 3 -> 4: seeding 0 reaches 3 customers in every world.
    g = _digraph(5, [(0, 1), (1, 2), (3, 4)])
    est = simulate_spread(g, np.ones(3), [0], runs=50, seed=1, community=np.array([0, 0, 1, 1, 1]))
    assert est.mean == 3.0
    assert est.std == 0.0
    assert est.ci_low == est.ci_high == 3.0
    assert est.community_reach.tolist() == [2.0, 1.0]


def test_target_counts_only_target_customers():
    g = _digraph(4, [(0, 1), (1, 2), (2, 3)])
    target = np.array([False, True, False, True])
    est = simulate_spread(g, np.ones(3), [0], runs=10, seed=0, target=target)
    assert est.mean == 2.0


def test_monte_carlo_matches_closed_form_on_a_star():
    # Hub 0 -> 200 leaves with p = 0.3: reach = 1 + 200 * 0.3 = 61.
    g = _digraph(201, [(0, i) for i in range(1, 201)])
    est = simulate_spread(g, np.full(200, 0.3), [0], runs=4000, seed=3)
    assert est.ci_low < 61.0 < est.ci_high
    assert abs(est.mean - 61.0) < 0.5


def test_same_seed_same_worlds_whatever_the_other_seed_sets():
    g = karate()
    p = activation_probabilities(g)
    alone = simulate_spread(g, p, [0, 33], runs=300, seed=11)
    together = simulate_spreads(g, p, [[5], [0, 33], [2]], runs=300, seed=11)
    np.testing.assert_array_equal(alone.reach_per_run, together[1].reach_per_run)
    other = simulate_spread(g, p, [0, 33], runs=300, seed=12)
    assert not np.array_equal(alone.reach_per_run, other.reach_per_run)


def test_common_random_numbers_make_supersets_reach_at_least_as_far_in_every_world():
    g = karate()
    p = activation_probabilities(g)
    small, big = simulate_spreads(g, p, [[0], [0, 33]], runs=500, seed=2)
    assert np.all(big.reach_per_run >= small.reach_per_run)


def test_rr_sets_estimate_the_same_spread_as_monte_carlo():
    g = karate()
    p = activation_probabilities(g)
    cg = cascade_graph(g, p)
    rr = reverse_reachable_sets(cg, 60_000, rng=np.random.default_rng(0))
    covers = np.zeros(rr.count, bool)
    sets = np.repeat(np.arange(rr.count), np.diff(rr.indptr))
    covers[sets[np.isin(rr.vertices, [0, 33])]] = True
    rr_estimate = 34 * covers.mean()
    mc = simulate_spread(cg, None, [0, 33], runs=20_000, seed=4)
    assert abs(rr_estimate - mc.mean) < 0.02 * mc.mean


def test_rr_sets_list_each_vertex_once_and_start_at_their_root():
    g = karate()
    cg = cascade_graph(g, activation_probabilities(g))
    roots = np.array([3, 7])
    rr = reverse_reachable_sets(cg, 500, rng=np.random.default_rng(1), roots=roots)
    for i in range(rr.count):
        members = rr.vertices[rr.indptr[i] : rr.indptr[i + 1]]
        assert len(set(members.tolist())) == members.size
        assert set(members.tolist()) & {3, 7}


def test_bad_inputs_raise_config_error():
    g = _digraph(3, [(0, 1), (1, 2)])
    with pytest.raises(ConfigError, match="one value per edge"):
        cascade_graph(g, np.ones(5))
    with pytest.raises(ConfigError, match=r"\[0, 1\]"):
        cascade_graph(g, np.array([0.5, 2.0]))
    with pytest.raises(ConfigError, match="seed indices"):
        simulate_spread(g, np.ones(2), [7], runs=5, seed=0)
    with pytest.raises(ConfigError, match="runs"):
        simulate_spread(g, np.ones(2), [0], runs=0, seed=0)
    with pytest.raises(ConfigError, match="target"):
        simulate_spread(g, np.ones(2), [0], runs=5, seed=0, target=np.ones(3))


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(0, 2_000), max_size=300), min_size=1, max_size=8))
def test_key_set_reports_exactly_the_first_insertions(batches):
    ks = _KeySet(4)
    seen: set[int] = set()
    for batch in batches:
        keys = np.unique(np.asarray(batch, dtype=np.int64))
        new = ks.add_new(keys)
        assert set(keys[new].tolist()) == set(keys.tolist()) - seen
        seen |= set(keys.tolist())
