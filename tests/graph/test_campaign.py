"""The pure campaign planner on graphs small enough to enumerate every live-edge world.

The reference is exact: under Independent Cascade a seed set's expected reach is the sum,
over all 2^m live-edge worlds, of the world's probability times the number of (target)
customers reachable from the seeds through live edges. With ten edges that is 1,024 worlds,
so every figure the planner estimates can be checked against the true value.
"""

from __future__ import annotations

import itertools
import math

import igraph
import numpy as np
import pytest

from graph.campaign import BASELINES, influence_model, plan_campaign
from graph.errors import ConfigError

# (src, dst, weight): src influences dst. Under the weighted cascade a tie's probability is
# its share of dst's incoming weight, so vertices with several influencers get fractional
# probabilities and vertex 1 (one influencer) is reached surely from 0.
EDGES = [
    (0, 1, 3.0),
    (0, 2, 3.0),
    (0, 3, 1.0),
    (4, 3, 3.0),
    (4, 5, 2.0),
    (6, 5, 2.0),
    (6, 7, 1.0),
    (1, 2, 1.0),
    (2, 7, 1.0),
    (5, 0, 1.0),
]
N = 8
IDS = np.array([f"C{i:02d}" for i in range(N)], dtype=object)
# two communities: {0, 1, 2, 3} and {4, 5, 6, 7}
COMMUNITY = np.array([0, 0, 0, 0, 1, 1, 1, 1])


@pytest.fixture(scope="module")
def model():
    g = igraph.Graph([(s, d) for s, d, _ in EDGES], n=N, directed=True)
    g.es["weight"] = [w for _, _, w in EDGES]
    return influence_model(g)


def exact_reach(probs: np.ndarray, seeds, target: np.ndarray | None = None) -> float:
    """Expected number of (target) customers reached, summed over every live-edge world."""
    seeds = [int(s) for s in seeds]
    total = 0.0
    for live in itertools.product((False, True), repeat=len(EDGES)):
        weight = math.prod(p if on else 1.0 - p for p, on in zip(probs, live, strict=True))
        if weight == 0.0:
            continue
        reached = set(seeds)
        frontier = list(seeds)
        while frontier:
            u = frontier.pop()
            for (s, d, _), on in zip(EDGES, live, strict=True):
                if on and s == u and d not in reached:
                    reached.add(d)
                    frontier.append(d)
        count = len(reached) if target is None else sum(bool(target[v]) for v in reached)
        total += weight * count
    return total


def feasible_sets(k: int, eligible: np.ndarray, cap: int | None):
    for combo in itertools.combinations(np.flatnonzero(eligible).tolist(), k):
        if cap is None or np.bincount(COMMUNITY[list(combo)]).max() <= cap:
            yield combo


def within_mc_error(estimate, exact: float) -> bool:
    """The Monte Carlo mean lies within four standard errors of the exact value."""
    se = estimate.std / math.sqrt(estimate.runs)
    return abs(estimate.mean - exact) <= 4 * se + 1e-9


def test_probabilities_are_the_weighted_cascade_shares(model):
    # in-strength of 2 is 3 + 1, so 0 -> 2 carries three quarters of it
    assert model.probs[1] == pytest.approx(0.75) and model.probs[7] == pytest.approx(0.25)
    assert model.probs[0] == pytest.approx(1.0)


def test_reach_of_plan_and_baselines_matches_exact_enumeration(model):
    plan = plan_campaign(model, IDS, 2, eligible=np.ones(N, bool), mc_runs=4000, seed=5)
    assert plan.mc_runs == 4000 and plan.reach.runs == 4000
    assert within_mc_error(plan.reach, exact_reach(model.probs, plan.seeds))
    assert set(plan.baselines) == set(BASELINES)
    for name, b in plan.baselines.items():
        seeds = [int(np.flatnonzero(np.isin(IDS, [cid]))[0]) for cid in b.seed_ids]
        assert within_mc_error(b.reach, exact_reach(model.probs, seeds)), name


def test_imm_is_within_its_guarantee_of_the_exact_optimum(model):
    eligible = np.ones(N, bool)
    plan = plan_campaign(model, IDS, 2, eligible=eligible, epsilon=0.05, mc_runs=50, seed=1)
    best = max(exact_reach(model.probs, s) for s in feasible_sets(2, eligible, None))
    got = exact_reach(model.probs, plan.seeds)
    assert got >= (1 - 1 / math.e - 0.05) * best
    # greedy over many RR sets on a graph this small lands at or next to the optimum
    assert got >= 0.95 * best
    assert plan.seed_ids.tolist() == IDS[plan.seeds].tolist()


def test_constraints_hold_and_the_constrained_optimum_is_approached(model):
    eligible = np.ones(N, bool)
    eligible[[0, 4]] = False  # the two strongest messengers may not be contacted
    plan = plan_campaign(
        model,
        IDS,
        2,
        eligible=eligible,
        community=COMMUNITY,
        max_per_community=1,
        epsilon=0.05,
        mc_runs=50,
        seed=2,
    )
    assert len(plan.seeds) == 2
    assert eligible[plan.seeds].all() and np.bincount(COMMUNITY[plan.seeds]).max() <= 1
    for b in plan.baselines.values():
        idx = np.flatnonzero(np.isin(IDS, b.seed_ids))
        assert eligible[idx].all() and np.bincount(COMMUNITY[idx]).max() <= 1
    assert plan.eligible == int(eligible.sum())
    assert plan.seed_community.tolist() == COMMUNITY[plan.seeds].tolist()
    best = max(exact_reach(model.probs, s) for s in feasible_sets(2, eligible, 1))
    assert exact_reach(model.probs, plan.seeds) >= 0.95 * best


def test_target_counts_only_segment_members(model):
    target = np.zeros(N, bool)
    target[[5, 7]] = True
    plan = plan_campaign(
        model, IDS, 1, eligible=np.ones(N, bool), target=target, mc_runs=4000, seed=3
    )
    assert plan.target_size == 2
    assert within_mc_error(plan.reach, exact_reach(model.probs, plan.seeds, target))
    best = max(exact_reach(model.probs, [v], target) for v in range(N))
    assert exact_reach(model.probs, plan.seeds, target) == pytest.approx(best)


def test_uplift_is_the_paired_difference_on_the_same_worlds(model):
    plan = plan_campaign(model, IDS, 1, eligible=np.ones(N, bool), mc_runs=300, seed=4)
    for b in plan.baselines.values():
        diff = plan.reach.reach_per_run - b.reach.reach_per_run
        assert b.uplift == pytest.approx(plan.reach.mean - b.reach.mean)
        assert b.uplift_ci[0] <= b.uplift <= b.uplift_ci[1]
        half = 1.96 * diff.std(ddof=1) / math.sqrt(diff.size)
        assert b.uplift_ci[1] - b.uplift_ci[0] == pytest.approx(2 * half)
        assert b.ratio == pytest.approx(plan.reach.mean / b.reach.mean)


def test_top_degree_baseline_takes_the_eligible_customers_with_most_ties(model):
    eligible = np.ones(N, bool)
    eligible[0] = False
    plan = plan_campaign(model, IDS, 2, eligible=eligible, mc_runs=10, seed=0)
    outdeg = np.bincount([s for s, _, _ in EDGES], minlength=N).astype(float)
    outdeg[~eligible] = -1
    expected = np.lexsort((np.arange(N), -outdeg))[:2]  # most ties first, lower index on ties
    assert plan.baselines["top_degree"].seed_ids.tolist() == IDS[expected].tolist()


def test_same_seed_same_plan_and_budget_beyond_eligibility(model):
    eligible = np.zeros(N, bool)
    eligible[[2, 6]] = True
    a = plan_campaign(model, IDS, 5, eligible=eligible, mc_runs=20, seed=9)
    b = plan_campaign(model, IDS, 5, eligible=eligible, mc_runs=20, seed=9)
    assert sorted(a.seed_ids.tolist()) == ["C02", "C06"]  # fewer than k: only two may be seeds
    assert a.seed_ids.tolist() == b.seed_ids.tolist() and a.reach.mean == b.reach.mean


@pytest.mark.parametrize(
    "kwargs",
    [
        {"k": 0},
        {"k": 2, "mc_runs": 1},
        {"k": 2, "max_per_community": 1},  # a cap needs community labels
        {"k": 2, "ids": IDS[:3]},
        {"k": 2, "epsilon": 1.5},
    ],
)
def test_bad_inputs_raise_config_error(model, kwargs):
    args = {"ids": IDS, "eligible": np.ones(N, bool), "mc_runs": 10} | kwargs
    ids, k = args.pop("ids"), args.pop("k")
    with pytest.raises(ConfigError):
        plan_campaign(model, ids, k, **args)
