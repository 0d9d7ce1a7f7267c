"""Seed selection for referral campaigns: IMM, CELF reference, degree and PageRank baselines.

Every selector honours the same campaign constraints, because a plan that names a customer
who cannot be contacted is worthless:

* ``eligible``: boolean mask; only eligible customers may be seeds (no marketing consent or
  a configured risk tag makes a customer ineligible). Ineligible customers still pass
  influence on: the constraint is on whom the bank contacts, not on who talks to whom.
* ``community`` + ``max_per_community``: at most that many seeds per community, so one
  branch or social circle is not flooded with offers.
* ``target``: boolean mask of the segment the campaign is for; only reached target
  customers count towards the objective.
* ``k``: the budget. Fewer than ``k`` seeds are returned when fewer customers are eligible
  (after the caps); that is data about the campaign, not an error.

Vertex indices go in and out; translating them to customer ids is the caller's job inside
``graph/``.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field

import igraph
import numpy as np

from graph.diffusion import (
    CascadeGraph,
    RRSets,
    _batch_size,
    _hash_coin,
    _labels,
    _mask,
    _reach,
    _weights,
    cascade_graph,
    reverse_reachable_sets,
)
from graph.errors import ConfigError

__all__ = [
    "SeedSelection",
    "celf_seeds",
    "imm_seeds",
    "top_degree_seeds",
    "top_pagerank_seeds",
]


@dataclass(frozen=True)
class SeedSelection:
    """Seeds in pick order, with what the method believed each one adds.

    ``marginal_gain[i]`` is the method's estimate of the extra (target) customers reached by
    adding ``seeds[i]`` to ``seeds[:i]`` (NaN for the score-based baselines, which do not
    estimate it). ``estimated_spread`` is the method's own estimate of the whole set's
    reach; IMM's is optimistic because the same RR sets chose and scored the seeds, so
    report reach from an independent :func:`graph.diffusion.simulate_spread` run.
    ``community`` is each seed's community label (None without labels). ``rr_sets`` is the
    number of RR sets behind the final choice (0 for other methods).
    """

    seeds: np.ndarray
    marginal_gain: np.ndarray
    estimated_spread: float
    method: str
    rr_sets: int = 0
    epsilon: float | None = None
    seed: int | None = None
    community: np.ndarray | None = None
    params: dict = field(default_factory=dict)


def imm_seeds(
    g: igraph.Graph | CascadeGraph,
    k: int,
    *,
    probs: np.ndarray | None,
    epsilon: float = 0.1,
    ell: float = 1.0,
    eligible: np.ndarray | None = None,
    community: np.ndarray | None = None,
    max_per_community: int | None = None,
    target: np.ndarray | None = None,
    seed: int = 0,
    max_rr_sets: int | None = None,
) -> SeedSelection:
    """Choose ``k`` seeds with IMM (Tang, Shi, Xiao, SIGMOD 2015).

    IMM samples reverse-reachable (RR) sets until there are enough that the greedy
    maximum-coverage answer is, with probability at least ``1 - 1/n^ell``, within a factor
    ``1 - 1/e - epsilon`` of the best possible expected reach. It first estimates a lower
    bound on the optimum by halving guesses (the sampling phase), then draws
    ``theta = lambda* / LB`` RR sets. Following Chen (2018, "An issue in the martingale
    analysis of IMM"), the final RR sets are drawn afresh instead of reusing the
    sampling-phase ones, which keeps the guarantee sound at under twice the sampling cost.

    With a target segment, roots are drawn only from target customers and ``n`` in the
    bounds is the segment size, so the estimate counts reached target customers. The
    union bound runs over the ``C(n_eligible, k)`` eligible seed sets.

    The greedy step is exact, not lazy: coverage counts per vertex come from one
    ``np.bincount`` over the flat RR arrays, and after each pick the newly covered sets'
    members are subtracted with another ``bincount``, so no RR element ever becomes a
    Python object. With per-community caps the feasible sets form a partition matroid and
    greedy only guarantees ``1/2`` of the constrained optimum (in practice it is close to
    the unconstrained behaviour); eligibility alone keeps ``1 - 1/e - epsilon``.

    Parameters
    ----------
    g
        Directed influence graph, or a prebuilt :class:`~graph.diffusion.CascadeGraph`.
    k
        Budget: number of seeds wanted (>= 1).
    probs
        Per-edge activation probabilities (ignored when ``g`` is a ``CascadeGraph``).
    epsilon
        Approximation slack. The number of RR sets grows as ``1/epsilon**2``: 0.1 is the
        textbook setting; 0.2 needs a quarter of the sets and is still a sound guarantee,
        the sensible choice for interactive planning at a million customers.
    ell
        Confidence exponent: the guarantee holds with probability ``1 - 1/n**ell``.
    eligible, community, max_per_community, target
        Campaign constraints, see the module docstring.
    seed
        Seeds the RR sampler; the same inputs and seed give the same seeds.
    max_rr_sets
        Hard cap on RR sets per phase, to bound memory and time. When it binds, the
        guarantee no longer holds and ``params["capped"]`` is True.

    Returns
    -------
    SeedSelection
        ``method="imm"``; ``params`` holds ``theta``, ``lower_bound``, ``upper_bound`` (an
        expected reach no ``k`` eligible seeds exceed, with probability
        :data:`UPPER_BOUND_CONFIDENCE`: how far any list, this one included, can be from
        the best), ``capped``, ``ell`` and the constraint settings.

    Raises
    ------
    ConfigError
        Bad ``k``, ``epsilon``, ``ell``, masks, labels, cap, or an empty target segment.
    """
    cg = g if isinstance(g, CascadeGraph) else cascade_graph(g, probs)
    n = cg.n
    if not 0 < epsilon < 1:
        raise ConfigError(f"epsilon={epsilon!r} must be in (0, 1)")
    if not ell > 0:
        raise ConfigError(f"ell={ell!r} must be > 0")
    cons = _constraints(n, k, eligible, community, max_per_community)
    roots = None if target is None else np.flatnonzero(_mask(target, n, "target"))
    n_roots = n if roots is None else int(roots.size)
    if n_roots == 0:
        raise ConfigError("target segment is empty; nobody could be reached")
    rng = np.random.default_rng(seed)
    n_cand = int(cons.selectable.sum())
    kk = min(k, n_cand)
    params = {
        "ell": ell,
        "max_per_community": max_per_community,
        "targeted": target is not None,
        "n_candidates": n_cand,
        "capped": False,
    }
    if kk == 0:
        return SeedSelection(
            np.zeros(0, np.int64), np.zeros(0), 0.0, "imm", 0, epsilon, seed, None, params
        )
    cap_rr = math.inf if max_rr_sets is None else int(max_rr_sets)

    # Bounds of Tang et al. (2015), Sec. 3; n is the number of possible roots.
    nr = max(n_roots, 2)
    log_n = math.log(nr)
    ell_adj = ell * (1.0 + math.log(2) / log_n)
    log_binom = math.lgamma(n_cand + 1) - math.lgamma(kk + 1) - math.lgamma(n_cand - kk + 1)
    eps_p = math.sqrt(2) * epsilon
    lam_p = (
        (2 + 2 / 3 * eps_p)
        * (log_binom + ell_adj * log_n + math.log(max(math.log2(nr), 1.0)))
        * nr
        / eps_p**2
    )
    lower_bound = 1.0
    parts: list[RRSets] = []
    have = 0
    for i in range(1, max(2, math.ceil(math.log2(nr)))):
        x = nr / 2**i
        theta_i = int(min(math.ceil(lam_p / x), cap_rr))
        if theta_i > have:
            parts.append(reverse_reachable_sets(cg, theta_i - have, rng=rng, roots=roots))
            have = theta_i
        rr = RRSets.concat(parts)
        parts = [rr]
        _, _, covered, _ = _max_coverage(rr, cons, kk)
        spread = n_roots * covered / rr.count
        if spread >= (1 + eps_p) * x:
            lower_bound = spread / (1 + eps_p)
            break
        if theta_i >= cap_rr:
            params["capped"] = True
            break
    del parts, rr
    e1 = 1 - 1 / math.e
    alpha = math.sqrt(ell_adj * log_n + math.log(2))
    beta = math.sqrt(e1 * (log_binom + ell_adj * log_n + math.log(2)))
    lam_star = 2 * nr * (e1 * alpha + beta) ** 2 / epsilon**2
    theta = math.ceil(lam_star / lower_bound)
    if theta > cap_rr:
        theta, params["capped"] = int(cap_rr), True
    rr = reverse_reachable_sets(cg, theta, rng=rng, roots=roots)
    seeds, gains, covered, cover_bound = _max_coverage(rr, cons, kk, upper=True)
    params.update(
        theta=theta,
        lower_bound=lower_bound,
        upper_bound=_spread_upper_bound(cover_bound or 0, rr.count, n_roots),
    )
    return SeedSelection(
        seeds=seeds,
        marginal_gain=n_roots * gains / rr.count,
        estimated_spread=n_roots * covered / rr.count,
        method="imm",
        rr_sets=rr.count,
        epsilon=epsilon,
        seed=seed,
        community=None if cons.community is None else cons.community[seeds],
        params=params,
    )


def celf_seeds(
    g: igraph.Graph | CascadeGraph,
    k: int,
    *,
    probs: np.ndarray | None,
    runs: int,
    seed: int,
    eligible: np.ndarray | None = None,
    community: np.ndarray | None = None,
    max_per_community: int | None = None,
    target: np.ndarray | None = None,
) -> SeedSelection:
    """Greedy seeds by Monte Carlo with CELF lazy evaluation: the exact-greedy reference.

    All marginal gains are measured on the same ``runs`` live-edge worlds (common random
    numbers, see :mod:`graph.diffusion`). On a fixed set of worlds reach is a coverage
    function, hence exactly submodular, so CELF's lazy re-evaluation returns exactly the
    greedy answer for those worlds. A gain given the current seeds is the reach from the
    candidate with the seeds' reach blocked, one batched BFS per evaluation.

    It costs one cascade per eligible customer per run up front, so it is for small graphs
    (thousands of customers) and for checking :func:`imm_seeds`.

    Parameters
    ----------
    g, k, probs, eligible, community, max_per_community, target
        As in :func:`imm_seeds`.
    runs
        Worlds the greedy optimises over.
    seed
        Selects the worlds.

    Returns
    -------
    SeedSelection
        ``method="celf"``; ``estimated_spread`` is the in-sample reach of the seeds.

    Raises
    ------
    ConfigError
        Bad ``k``, ``runs``, masks, labels or cap.
    """
    cg = g if isinstance(g, CascadeGraph) else cascade_graph(g, probs)
    n = cg.n
    if runs < 1:
        raise ConfigError(f"runs={runs!r} must be >= 1")
    cons = _constraints(n, k, eligible, community, max_per_community)
    tw = np.ones(n) if target is None else _mask(target, n, "target").astype(np.float64)
    worlds = np.arange(runs)
    n64 = np.int64(n)

    def marginal(v: int, reached: np.ndarray | None) -> tuple[float, np.ndarray]:
        cid, u = _reach(
            n,
            cg.out_indptr,
            cg.out_dst,
            worlds,
            np.full(runs, v),
            _hash_coin(cg, seed, worlds),
            blocked=reached,
        )
        return float(tw[u].sum() / runs), cid * n64 + u

    cands = np.flatnonzero(cons.selectable)
    heap: list[tuple[float, int, int]] = []
    chunk = max(1, _batch_size(n, 200_000) // runs)
    for lo in range(0, cands.size, chunk):
        c = cands[lo : lo + chunk]
        cid, u = _reach(
            n,
            cg.out_indptr,
            cg.out_dst,
            np.arange(c.size * runs),
            np.repeat(c, runs),
            _hash_coin(cg, seed, np.tile(worlds, c.size)),
        )
        gains = np.bincount(cid // runs, weights=tw[u], minlength=c.size) / runs
        heap.extend((-float(gv), int(v), 0) for gv, v in zip(gains, c, strict=True))
    heapq.heapify(heap)

    seeds: list[int] = []
    gains_out: list[float] = []
    reached = np.zeros(0, np.int64)
    used = np.zeros(cons.n_communities, np.int64)
    while heap and len(seeds) < k:
        _, v, rnd = heapq.heappop(heap)
        if cons.community is not None and used[cons.community[v]] >= cons.cap:
            continue
        if rnd != len(seeds):
            gain, _ = marginal(v, reached)
            heapq.heappush(heap, (-gain, v, len(seeds)))
            continue
        gain, new_keys = marginal(v, reached)
        seeds.append(v)
        gains_out.append(gain)
        reached = np.concatenate([reached, new_keys])
        if cons.community is not None:
            used[cons.community[v]] += 1
    s = np.asarray(seeds, np.int64)
    return SeedSelection(
        seeds=s,
        marginal_gain=np.asarray(gains_out),
        estimated_spread=float(np.sum(gains_out)),
        method="celf",
        seed=seed,
        community=None if cons.community is None else cons.community[s],
        params={"runs": runs, "max_per_community": max_per_community},
    )


def top_degree_seeds(
    g: igraph.Graph,
    k: int,
    *,
    weighted: bool = False,
    eligible: np.ndarray | None = None,
    community: np.ndarray | None = None,
    max_per_community: int | None = None,
) -> SeedSelection:
    """Baseline: the ``k`` eligible customers with the most outgoing influence edges.

    Out-degree counts how many customers one can directly influence; with
    ``weighted=True`` it is the out-strength (summed interaction weight), which favours a
    few intense relationships over many light ones. This is what a marketer would pick by
    hand; it ignores that hubs often share an audience. Ties go to the lower vertex index.

    Raises
    ------
    ConfigError
        Bad ``k``, masks, labels or cap.
    """
    if weighted:
        score = np.asarray(g.strength(mode="out", weights=_weights(g)), dtype=np.float64)
    else:
        score = np.asarray(g.outdegree(), dtype=np.float64)
    name = "top_out_strength" if weighted else "top_out_degree"
    return _top_scored(score, k, name, g.vcount(), eligible, community, max_per_community)


def top_pagerank_seeds(
    g: igraph.Graph,
    k: int,
    *,
    probs: np.ndarray | None = None,
    damping: float = 0.85,
    eligible: np.ndarray | None = None,
    community: np.ndarray | None = None,
    max_per_community: int | None = None,
) -> SeedSelection:
    """Baseline: the ``k`` eligible customers with the highest influence PageRank.

    PageRank on ``src -> dst`` edges would reward customers who are *influenced* a lot.
    We run it on the reversed graph, so rank flows from the influenced to their
    influencers: a customer scores high when they influence customers who themselves
    influence many. Edges are weighted by ``probs`` when given (an influencer's share of
    the influenced customer's attention), else by ``"weight"``.

    Raises
    ------
    ConfigError
        Bad ``k``, ``damping``, masks, labels or cap.
    """
    if not 0 < damping < 1:
        raise ConfigError(f"damping={damping!r} must be in (0, 1)")
    w = _weights(g) if probs is None else np.asarray(probs, dtype=np.float64)
    rev = g.copy()
    rev.reverse_edges()
    score = np.asarray(rev.pagerank(weights=w.tolist(), damping=damping), dtype=np.float64)
    return _top_scored(score, k, "top_pagerank", g.vcount(), eligible, community, max_per_community)


#: Confidence of the upper bound on the optimum that :func:`imm_seeds` reports.
UPPER_BOUND_CONFIDENCE = 0.95


def _spread_upper_bound(cover_bound: int, rr_count: int, n_roots: int) -> float:
    """Expected reach no ``k`` seeds exceed, with probability ``UPPER_BOUND_CONFIDENCE``.

    ``cover_bound`` bounds the optimum's RR-set coverage (see `_max_coverage`); the
    martingale tail bound of OPIM-C (Lemma 4.3 of Tang et al. 2018) turns it into a bound
    on the optimum's expected coverage, scaled to customers by ``n_roots / rr_count``; no
    seed set reaches more than the ``n_roots`` possible roots, so that caps it.
    """
    a = math.log(1.0 / (1.0 - UPPER_BOUND_CONFIDENCE)) / 2.0
    bound = (math.sqrt(cover_bound + a) + math.sqrt(a)) ** 2 * n_roots / max(rr_count, 1)
    return float(min(bound, n_roots))


@dataclass(frozen=True)
class _Constraints:
    selectable: np.ndarray
    community: np.ndarray | None
    cap: int
    n_communities: int


def _constraints(
    n: int,
    k: int,
    eligible: np.ndarray | None,
    community: np.ndarray | None,
    max_per_community: int | None,
) -> _Constraints:
    if not isinstance(k, int | np.integer) or k < 1:
        raise ConfigError(f"k={k!r} must be a positive integer (the seed budget)")
    selectable = np.ones(n, bool) if eligible is None else _mask(eligible, n, "eligible").copy()
    if max_per_community is not None:
        if community is None:
            raise ConfigError("max_per_community needs community labels")
        if max_per_community < 1:
            raise ConfigError(f"max_per_community={max_per_community!r} must be >= 1")
    comm = None if community is None else _labels(community, n)
    n_comm = 0 if comm is None else int(comm.max(initial=-1)) + 1
    cap = n if max_per_community is None else int(max_per_community)
    return _Constraints(selectable, comm, cap, n_comm)


def _max_coverage(
    rr: RRSets, cons: _Constraints, k: int, *, upper: bool = False
) -> tuple[np.ndarray, np.ndarray, int, int | None]:
    """Greedy max coverage of RR sets: seeds, newly covered sets per seed, total covered,
    and with ``upper`` a bound on the coverage of ANY ``k`` eligible customers.

    Each pick locates its sets with one vectorised scan of the flat array; that is cheaper
    than building a vertex -> sets inverted index (a sort of every element) while ``k`` is
    a campaign budget of tens to hundreds.

    The bound is OPIM-C's (Tang, Tang, Xiao, Yuan, SIGMOD 2018): by submodularity, any set
    ``S`` of ``k`` covers at most what the greedy prefix ``S_i`` covers plus the ``k``
    largest marginal coverages given ``S_i``; the minimum over the prefixes is kept. It
    ignores the per-community cap, so it bounds the capped optimum too.
    """
    verts, indptr = rr.vertices, rr.indptr
    n = cons.selectable.size
    counts = np.bincount(verts, minlength=n).astype(np.int64)
    covered = np.zeros(rr.count, bool)
    allowed = cons.selectable.copy()
    used = np.zeros(cons.n_communities, np.int64)
    seeds, gains = [], []
    pool = np.flatnonzero(cons.selectable) if upper else None
    bound: int | None = None

    def tighten() -> None:
        nonlocal bound
        c = counts[pool]
        top = int(c.sum()) if c.size <= k else int(np.partition(c, c.size - k)[-k:].sum())
        here = int(sum(gains)) + top
        bound = here if bound is None else min(bound, here)

    for _ in range(k):
        if upper:
            tighten()
        v = int(np.argmax(np.where(allowed, counts, -1)))
        if not allowed[v]:
            break
        seeds.append(v)
        gains.append(int(counts[v]))
        allowed[v] = False
        if cons.community is not None:
            c = cons.community[v]
            used[c] += 1
            if used[c] >= cons.cap:
                allowed[cons.community == c] = False
        sets = np.searchsorted(indptr, np.flatnonzero(verts == v), side="right") - 1
        sets = sets[~covered[sets]]
        covered[sets] = True
        lo = indptr[sets]
        cnt = indptr[sets + 1] - lo
        pos = np.arange(int(cnt.sum()), dtype=np.int64) + np.repeat(
            lo - (np.cumsum(cnt) - cnt), cnt
        )
        counts -= np.bincount(verts[pos], minlength=n)
    if upper:
        tighten()
    return np.asarray(seeds, np.int64), np.asarray(gains, np.float64), int(sum(gains)), bound


def _top_scored(
    score: np.ndarray,
    k: int,
    method: str,
    n: int,
    eligible: np.ndarray | None,
    community: np.ndarray | None,
    max_per_community: int | None,
) -> SeedSelection:
    """Highest scores first among eligible customers, skipping communities that are full."""
    cons = _constraints(n, k, eligible, community, max_per_community)
    order = np.lexsort((np.arange(n), -score))
    order = order[cons.selectable[order]]
    if cons.community is not None:
        # Rank of each candidate within its community, in score order, without a loop.
        comm = cons.community[order]
        by_comm = np.argsort(comm, kind="stable")
        first = np.searchsorted(comm[by_comm], comm[by_comm], side="left")
        rank = np.empty(order.size, np.int64)
        rank[by_comm] = np.arange(order.size) - first
        order = order[rank < cons.cap]
    seeds = order[:k].astype(np.int64)
    return SeedSelection(
        seeds=seeds,
        marginal_gain=np.full(seeds.size, np.nan),
        estimated_spread=float("nan"),
        method=method,
        community=None if cons.community is None else cons.community[seeds],
        params={"score": score[seeds], "max_per_community": max_per_community},
    )
