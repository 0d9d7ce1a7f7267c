"""A planner's own seed list scored against the plan, and the bound on the best possible.

The reference is the exact enumeration of every live-edge world of tests/graph/test_campaign:
the upper bound must lie above the exact optimum of every feasible seed set (and not be
vacuous), a list's reach must match its exact expected reach, and the reach per hop must
add up to the reach.
"""

from __future__ import annotations

import numpy as np
import pytest

from graph.campaign import evaluate_seed_set, plan_campaign
from graph.diffusion import CascadeGraph, cascade_graph, simulate_spread
from tests.graph.test_campaign import (
    COMMUNITY,
    IDS,
    N,
    exact_reach,
    feasible_sets,
    within_mc_error,
)
from tests.graph.test_campaign import model as model  # the fixture


@pytest.mark.parametrize("k", [1, 2, 3])
def test_upper_bound_lies_above_the_exact_optimum_and_is_not_vacuous(model, k):
    eligible = np.ones(N, bool)
    plan = plan_campaign(model, IDS, k, eligible=eligible, epsilon=0.1, mc_runs=50, seed=k)
    best = max(exact_reach(model.probs, s) for s in feasible_sets(k, eligible, None))
    assert plan.upper_bound is not None
    assert best <= plan.upper_bound <= 1.5 * best, (best, plan.upper_bound)


def test_upper_bound_respects_eligibility_and_target(model):
    eligible = np.ones(N, bool)
    eligible[[0, 4]] = False
    target = np.zeros(N, bool)
    target[[2, 3, 5, 7]] = True
    plan = plan_campaign(
        model,
        IDS,
        2,
        eligible=eligible,
        target=target,
        community=COMMUNITY,
        max_per_community=1,
        mc_runs=50,
        seed=9,
    )
    best_any = max(exact_reach(model.probs, s, target) for s in feasible_sets(2, eligible, None))
    assert best_any <= plan.upper_bound <= 4.0  # no more than the four target customers
    # the bound ignores the cap, so it also bounds the capped optimum (which is lower)
    best_capped = max(exact_reach(model.probs, s, target) for s in feasible_sets(2, eligible, 1))
    assert best_capped <= best_any


def test_a_list_is_scored_on_the_plans_worlds(model):
    plan = plan_campaign(model, IDS, 2, eligible=np.ones(N, bool), mc_runs=4000, seed=4)
    own = evaluate_seed_set(model, plan.seeds, plan)
    assert own.reach.mean == plan.reach.mean and own.plan_uplift == 0.0
    weak = np.array([6, 7])
    ev = evaluate_seed_set(model, weak, plan, community=COMMUNITY)
    assert within_mc_error(ev.reach, exact_reach(model.probs, weak))
    diff = exact_reach(model.probs, plan.seeds) - exact_reach(model.probs, weak)
    lo, hi = ev.plan_uplift_ci
    assert lo <= diff + 0.05 and diff - 0.05 <= hi and ev.plan_uplift > 0
    assert ev.share_of_bound == pytest.approx(ev.reach.mean / plan.upper_bound)
    assert ev.reach.community_reach.sum() == pytest.approx(ev.reach.mean)


def test_reach_per_hop_adds_up_and_counts_distance_from_the_nearest_seed(model):
    est = simulate_spread(model.cascade, None, [0, 6], runs=2000, seed=3)
    assert est.hop_reach[0] == 2.0
    assert est.hop_reach.sum() == pytest.approx(est.mean)
    # a sure path 0 -> 1 -> 2 -> 3: one customer per hop, whatever the world
    import igraph

    g = igraph.Graph([(0, 1), (1, 2), (2, 3)], directed=True)
    cg: CascadeGraph = cascade_graph(g, np.ones(3))
    path = simulate_spread(cg, None, [0], runs=20, seed=1)
    assert path.hop_reach.tolist() == [1.0, 1.0, 1.0, 1.0]
    target = np.array([False, False, True, True])
    assert simulate_spread(cg, None, [0], runs=5, seed=1, target=target).hop_reach.tolist() == [
        0.0,
        0.0,
        1.0,
        1.0,
    ]
