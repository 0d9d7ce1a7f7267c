"""Independent Cascade diffusion on the interaction graph: probabilities, live-edge sampling, reach.

A referral campaign is modelled with the Independent Cascade (IC) model: when a customer
becomes active (takes up the offer), they get one chance to convince each customer they
influence, succeeding on edge ``u -> v`` with probability ``p_uv``. Edges point the way
influence flows (``src`` influences ``dst``) and carry the summed interaction ``weight``.

Every random quantity here is vectorised across many cascades at once: a frontier is an
array of ``cascade * n + vertex`` keys, expanded through a CSR adjacency with
``np.repeat``, one coin flip per examined edge, and deduplicated with a vectorised
open-addressing hash set. There is no Python loop per edge or per vertex.

Monte Carlo coins are a hash of ``(seed, world, edge)`` rather than draws from a stream,
so the random live-edge world ``r`` is the same whichever seed set is being evaluated and
however the runs are batched. That gives common random numbers for free: comparing two
seed sets with the same ``seed`` and ``runs`` compares them on identical worlds, which
removes most of the Monte Carlo noise from the difference.

Every entry point accepts a prebuilt :class:`CascadeGraph` instead of the igraph graph.
At a million customers, build it once with :func:`cascade_graph` and pass it around:
reading ten million edges out of igraph costs seconds each time.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import igraph
import numpy as np

from graph.build import edge_arrays, has_edge_weights
from graph.errors import ConfigError

__all__ = [
    "MAPPINGS",
    "CascadeGraph",
    "RRSets",
    "SpreadEstimate",
    "activation_probabilities",
    "cascade_graph",
    "reverse_reachable_sets",
    "simulate_spread",
    "simulate_spreads",
]

#: Names accepted by :func:`activation_probabilities`.
MAPPINGS: tuple[str, ...] = ("weighted_cascade", "in_degree", "exponential", "constant")

# Roughly how many (cascade, vertex) pairs one vectorised batch may hold; bounds memory.
_BATCH_ENTRIES = 4_000_000
# Below this many (cascade, vertex) pairs a flat boolean array beats the hash set.
_DENSE_VISITED = 1 << 25
_EMPTY = np.int64(-1)
_U64 = np.uint64
_GOLDEN = _U64(0x9E3779B97F4A7C15)
_MIX1 = _U64(0xBF58476D1CE4E5B9)
_MIX2 = _U64(0x94D049BB133111EB)


def activation_probabilities(
    g: igraph.Graph,
    *,
    mapping: str = "weighted_cascade",
    scale: float = 5.0,
    p: float = 0.05,
) -> np.ndarray:
    """Per-edge activation probability ``p_uv`` derived from the interaction weight.

    Mappings (``w`` is the edge's ``"weight"``):

    ``"weighted_cascade"`` (default)
        ``p_uv = w_uv / in_strength(v)``. A customer's total susceptibility is 1, shared
        among the people who talk to them in proportion to how much they talk. This is the
        weighted form of Kempe et al.'s weighted cascade; it needs no tuning, it stops a
        customer with hundreds of weak contacts from being activated almost surely, and it
        keeps reverse-reachable sets small on heavy-tailed graphs.
    ``"in_degree"``
        ``p_uv = 1 / in_degree(v)``: the classic weighted cascade, ignoring weights.
    ``"exponential"``
        ``p_uv = 1 - exp(-w_uv / scale)``: each unit of interaction is an independent
        chance to convince; ``scale`` is the weight at which ``p = 1 - 1/e ≈ 0.63``.
        Use when weights are calibrated counts and the absolute level matters.
    ``"constant"``
        ``p_uv = p`` for every edge (the textbook uniform IC); a sensitivity check.

    Parameters
    ----------
    g
        Directed graph, edges ``src -> dst`` meaning ``src`` influences ``dst``.
    mapping
        One of :data:`MAPPINGS`.
    scale
        Weight scale of the exponential mapping; must be > 0.
    p
        Probability of the constant mapping; must be in (0, 1].

    Returns
    -------
    numpy.ndarray
        float64 array of length ``g.ecount()`` in edge order, values in [0, 1].

    Raises
    ------
    ConfigError
        Unknown mapping, bad ``scale``/``p``, or a weighted mapping on a graph whose
        ``"weight"`` attribute is missing, non-finite or not positive.

    Examples
    --------
    >>> import igraph
    >>> g = igraph.Graph([(0, 2), (1, 2)], directed=True)
    >>> g.es["weight"] = [1.0, 3.0]
    >>> activation_probabilities(g).tolist()
    [0.25, 0.75]
    """
    if mapping not in MAPPINGS:
        raise ConfigError(f"activation mapping {mapping!r} is unknown; use one of {MAPPINGS}")
    m = g.ecount()
    if mapping == "constant":
        if not 0.0 < p <= 1.0:
            raise ConfigError(f"constant activation probability p={p!r} must be in (0, 1]")
        return np.full(m, float(p))
    dst = _endpoints(g)[1]
    if mapping == "in_degree":
        indeg = np.bincount(dst, minlength=g.vcount())
        return 1.0 / indeg[dst] if m else np.zeros(0)
    w = _weights(g)
    if mapping == "exponential":
        if not scale > 0:
            raise ConfigError(f"exponential activation scale={scale!r} must be > 0")
        return -np.expm1(-w / scale)
    in_strength = np.bincount(dst, weights=w, minlength=g.vcount())
    return np.minimum(w / in_strength[dst], 1.0) if m else np.zeros(0)


@dataclass(frozen=True)
class CascadeGraph:
    """Forward and reverse CSR adjacency with activation probabilities, built once per graph.

    ``out_*`` lists, for vertex ``u``, the edges ``u -> v`` in ``out_indptr[u]:out_indptr[u+1]``
    (``out_eid`` is the igraph edge id, used to hash Monte Carlo coins). ``in_*`` lists the
    edges ``u -> v`` grouped by ``v``, for reverse-reachable sampling.
    """

    n: int
    out_indptr: np.ndarray
    out_dst: np.ndarray
    out_eid: np.ndarray
    out_prob: np.ndarray
    in_indptr: np.ndarray
    in_src: np.ndarray
    in_prob: np.ndarray


def cascade_graph(g: igraph.Graph, probs: np.ndarray) -> CascadeGraph:
    """Build the CSR arrays the cascade and RR-set samplers walk.

    Parameters
    ----------
    g
        Directed influence graph.
    probs
        Per-edge activation probabilities aligned with ``g.es``.

    Raises
    ------
    ConfigError
        ``probs`` has the wrong length or values outside [0, 1].
    """
    n, m = g.vcount(), g.ecount()
    probs = np.asarray(probs, dtype=np.float64)
    if probs.shape != (m,):
        raise ConfigError(f"probs has shape {probs.shape!r}; expected one value per edge ({m})")
    if m and not (np.all(probs >= 0.0) and np.all(probs <= 1.0)):
        raise ConfigError("probs must lie in [0, 1]; check the activation mapping")
    src, dst = _endpoints(g)
    # int32 keys sort faster than int64 (half the bytes to move); int64 only when needed
    key_type = np.int32 if n < 2**31 else np.int64
    by_src = np.argsort(src.astype(key_type), kind="stable")
    by_dst = np.argsort(dst.astype(key_type), kind="stable")
    return CascadeGraph(
        n=n,
        out_indptr=_indptr(src, n),
        out_dst=dst[by_src].astype(np.int32),
        out_eid=by_src.astype(np.int64),
        out_prob=probs[by_src],
        in_indptr=_indptr(dst, n),
        in_src=src[by_dst].astype(np.int32),
        in_prob=probs[by_dst],
    )


@dataclass(frozen=True)
class SpreadEstimate:
    """Monte Carlo estimate of a seed set's expected reach.

    ``mean`` counts activated customers, seeds included, restricted to the target segment
    when one was given. The 95% interval is the normal approximation
    ``mean ± 1.96·std/√runs``; it describes Monte Carlo error only, not model error (the
    activation mapping is an assumption). ``community_reach[c]`` is the mean number of
    (target) customers reached in community ``c``. ``hop_reach[h]`` is the mean number reached
    ``h`` steps from the nearest seed (``hop_reach[0]``: the seeds themselves), so the hops sum
    to ``mean``. ``reach_per_run`` keeps each world's count so two estimates made with the
    same ``seed`` and ``runs`` can be compared pairwise.
    """

    mean: float
    std: float
    ci_low: float
    ci_high: float
    runs: int
    seed: int
    reach_per_run: np.ndarray = field(repr=False)
    community_reach: np.ndarray | None = field(default=None, repr=False)
    hop_reach: np.ndarray | None = field(default=None, repr=False)


def simulate_spread(
    g: igraph.Graph | CascadeGraph,
    probs: np.ndarray | None,
    seeds: Sequence[int] | np.ndarray,
    *,
    runs: int,
    seed: int,
    target: np.ndarray | None = None,
    community: np.ndarray | None = None,
) -> SpreadEstimate:
    """Expected reach of one seed set under Independent Cascade, by Monte Carlo.

    Parameters
    ----------
    g
        Directed influence graph, or a prebuilt :class:`CascadeGraph` (then ``probs`` is
        ignored and may be None).
    probs
        Per-edge activation probabilities (see :func:`activation_probabilities`).
    seeds
        Vertex indices activated at the start; duplicates are ignored.
    runs
        Number of simulated worlds; the CI half-width shrinks as ``1/√runs``.
    seed
        Selects the worlds. The same ``seed`` and ``runs`` always give the same worlds,
        whatever the seed set, so estimates made separately are still paired.
    target
        Optional boolean mask: only reached target customers count.
    community
        Optional non-negative int label per vertex, for per-community reach.

    Returns
    -------
    SpreadEstimate

    Raises
    ------
    ConfigError
        Bad ``runs``, seed indices out of range, or masks of the wrong length.
    """
    return simulate_spreads(
        g, probs, [seeds], runs=runs, seed=seed, target=target, community=community
    )[0]


def simulate_spreads(
    g: igraph.Graph | CascadeGraph,
    probs: np.ndarray | None,
    seed_sets: Sequence[Sequence[int] | np.ndarray],
    *,
    runs: int,
    seed: int,
    target: np.ndarray | None = None,
    community: np.ndarray | None = None,
) -> list[SpreadEstimate]:
    """Evaluate several seed sets on the same simulated worlds (common random numbers).

    Comparing a planned seed set with a baseline on identical live-edge worlds means the
    difference in reach reflects the seeds, not the luck of the draw. Parameters, returns
    and errors are as in :func:`simulate_spread`, with one estimate per seed set, in order.
    """
    cg = g if isinstance(g, CascadeGraph) else cascade_graph(g, probs)
    n = cg.n
    if runs < 1:
        raise ConfigError(f"runs={runs!r} must be >= 1")
    target_w = None if target is None else _mask(target, n, "target").astype(np.float64)
    comm = None if community is None else _labels(community, n)
    out = []
    for seeds in seed_sets:
        s = _distinct(np.asarray(seeds, dtype=np.int64))
        if s.size and (s[0] < 0 or s[-1] >= n):
            raise ConfigError(f"seed indices must lie in [0, {n}); got {s[0]!r}..{s[-1]!r}")
        out.append(_estimate(cg, s, runs=runs, seed=seed, target_w=target_w, comm=comm))
    return out


@dataclass(frozen=True)
class RRSets:
    """Reverse-reachable sets stored flat: set ``i`` is ``vertices[indptr[i]:indptr[i+1]]``.

    ``vertices`` is int32 and each set lists a vertex at most once; there is no Python
    object per set or per element, so tens of millions of entries stay compact.
    """

    indptr: np.ndarray
    vertices: np.ndarray

    @property
    def count(self) -> int:
        return len(self.indptr) - 1

    @staticmethod
    def concat(parts: Sequence[RRSets]) -> RRSets:
        """Join several collections, in order, into one."""
        if not parts:
            return RRSets(np.zeros(1, np.int64), np.zeros(0, np.int32))
        sizes = np.concatenate([np.diff(p.indptr) for p in parts])
        indptr = np.zeros(len(sizes) + 1, np.int64)
        np.cumsum(sizes, out=indptr[1:])
        return RRSets(indptr, np.concatenate([p.vertices for p in parts]))


def reverse_reachable_sets(
    cg: CascadeGraph,
    count: int,
    *,
    rng: np.random.Generator,
    roots: np.ndarray | None = None,
) -> RRSets:
    """Sample ``count`` reverse-reachable (RR) sets, many roots at a time.

    An RR set is every customer that reaches a uniformly random root in one random
    live-edge world; the fraction of RR sets a seed set touches estimates its share of
    the reachable population (Borgs et al. 2014). Roots are processed in batches, level by
    level: the whole batch's frontier is expanded through the reverse CSR at once.

    Parameters
    ----------
    cg
        Prebuilt adjacency.
    count
        Number of RR sets.
    rng
        Source of roots and coin flips (each edge is examined at most once per set, so a
        fresh draw per examination samples the live-edge world exactly).
    roots
        Candidate roots (e.g. the target segment's vertices); all vertices when None.
    """
    pool_size = cg.n if roots is None else len(roots)
    parts: list[RRSets] = []
    done, batch, mean_size = 0, 1024, 1.0
    while done < count:
        b = int(min(batch, count - done))
        picks = rng.integers(0, pool_size, size=b)
        r = picks if roots is None else np.asarray(roots)[picks]

        def coin(_cid: np.ndarray, pos: np.ndarray) -> np.ndarray:
            return rng.random(pos.size) < cg.in_prob[pos]

        cid, v = _reach(cg.n, cg.in_indptr, cg.in_src, np.arange(b), r, coin)
        order = np.argsort(cid, kind="stable")
        indptr = np.zeros(b + 1, np.int64)
        np.cumsum(np.bincount(cid, minlength=b), out=indptr[1:])
        parts.append(RRSets(indptr, v[order].astype(np.int32)))
        done += b
        mean_size = max(1.0, v.size / b)
        batch = _batch_size(cg.n, _BATCH_ENTRIES / mean_size)
    return RRSets.concat(parts)


def _estimate(
    cg: CascadeGraph,
    seeds: np.ndarray,
    *,
    runs: int,
    seed: int,
    target_w: np.ndarray | None,
    comm: np.ndarray | None,
) -> SpreadEstimate:
    per_run = np.zeros(runs)
    n_comm = 0 if comm is None else int(comm.max(initial=-1)) + 1
    comm_total = np.zeros(n_comm)
    hop_total = np.zeros(0)
    # Batches are bounded by examined edges as well as reached pairs: a seed set of hubs
    # flips hundreds of coins per world before reaching anyone.
    fanout = 1.0 + len(cg.out_dst) / max(cg.n, 1)
    first = seeds.size + float(np.sum(cg.out_indptr[seeds + 1] - cg.out_indptr[seeds]))
    start, chunk = 0, _batch_size(cg.n, _BATCH_ENTRIES / max(1.0, first))
    while start < runs and seeds.size:
        worlds = np.arange(start, min(runs, start + chunk))
        cid = np.repeat(np.arange(worlds.size), seeds.size)
        v = np.tile(seeds, worlds.size)
        cid, v, hop = _reach(
            cg.n, cg.out_indptr, cg.out_dst, cid, v, _hash_coin(cg, seed, worlds), with_hops=True
        )
        w = None if target_w is None else target_w[v]
        per_run[worlds] = np.bincount(cid, weights=w, minlength=worlds.size)
        by_hop = np.bincount(hop, weights=w)
        if by_hop.size > hop_total.size:
            hop_total = np.pad(hop_total, (0, by_hop.size - hop_total.size))
        hop_total[: by_hop.size] += by_hop
        if comm is not None:
            comm_total += np.bincount(comm[v], weights=w, minlength=n_comm)
        mean_size = max(1.0, v.size / worlds.size)
        start += worlds.size
        chunk = _batch_size(cg.n, _BATCH_ENTRIES / (mean_size * fanout))
    mean = float(per_run.mean())
    std = float(per_run.std(ddof=1)) if runs > 1 else 0.0
    half = 1.96 * std / np.sqrt(runs)
    return SpreadEstimate(
        mean=mean,
        std=std,
        ci_low=float(mean - half),
        ci_high=float(mean + half),
        runs=runs,
        seed=seed,
        reach_per_run=per_run,
        community_reach=None if comm is None else comm_total / runs,
        hop_reach=hop_total / runs,
    )


def _batch_size(n: int, wanted: float) -> int:
    """Cascades per batch: what memory allows, shrunk to fit the dense visited array when
    that still leaves a few thousand cascades per batch (small graphs)."""
    batch = int(np.clip(wanted, 256, 1_000_000))
    dense = _DENSE_VISITED // max(n, 1)
    return min(batch, dense) if dense >= 4096 else batch


def _hash_coin(
    cg: CascadeGraph, seed: int, worlds: np.ndarray
) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """Coin for edge position ``pos`` in cascade ``cid``, a pure function of (seed, world, edge)."""
    m = _U64(max(1, len(cg.out_eid)))
    key = _splitmix(np.array([seed], dtype=np.int64).astype(_U64))[0]
    worlds_u = worlds.astype(_U64)

    def coin(cid: np.ndarray, pos: np.ndarray) -> np.ndarray:
        x = worlds_u[cid] * m + cg.out_eid[pos].astype(_U64) + key
        u = (_splitmix(x) >> _U64(11)).astype(np.float64) * (1.0 / 9007199254740992.0)
        return u < cg.out_prob[pos]

    return coin


def _splitmix(x: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser: a fast, well-mixed bijection on uint64 (wraps on purpose)."""
    x = x + _GOLDEN
    x = (x ^ (x >> _U64(30))) * _MIX1
    x = (x ^ (x >> _U64(27))) * _MIX2
    return x ^ (x >> _U64(31))


def _reach(
    n: int,
    indptr: np.ndarray,
    nbr: np.ndarray,
    cid: np.ndarray,
    start: np.ndarray,
    coin: Callable[[np.ndarray, np.ndarray], np.ndarray],
    *,
    blocked: np.ndarray | None = None,
    with_hops: bool = False,
) -> tuple[np.ndarray, ...]:
    """Breadth-first reach of many cascades at once over a CSR adjacency.

    ``cid[i]`` is the cascade of start vertex ``start[i]``; ``coin(cids, positions)`` says
    which examined CSR positions are live. ``blocked`` keys (``cascade * n + vertex``) count
    as already reached and are neither returned nor expanded: with them, the result is the
    marginal reach given an earlier seed set in the same world. Returns ``(cascade, vertex)``
    of every newly reached pair, start vertices included, and with ``with_hops`` the number
    of steps from the start at which each pair was first reached (breadth-first, so that is
    its distance in the live-edge world).
    """
    n64 = np.int64(n)
    keys = _distinct(cid.astype(np.int64) * n64 + start.astype(np.int64))
    span = (int(cid.max()) + 1) * n if cid.size else 0
    if span <= _DENSE_VISITED:
        seen: _KeySet | _DenseSet = _DenseSet(span)
    else:
        seen = _KeySet(4 * keys.size + (0 if blocked is None else 2 * blocked.size))
    if blocked is not None:
        seen.add_new(_distinct(blocked))
    frontier = keys[seen.add_new(keys)]
    found = [frontier]
    while frontier.size:
        fc, fv = np.divmod(frontier, n64)
        lo = indptr[fv]
        cnt = indptr[fv + 1] - lo
        total = int(cnt.sum())
        if total == 0:
            break
        offsets = np.cumsum(cnt) - cnt
        pos = np.arange(total, dtype=np.int64) + np.repeat(lo - offsets, cnt)
        ec = np.repeat(fc, cnt)
        live = coin(ec, pos)
        cand = _distinct(ec[live] * n64 + nbr[pos[live]])
        frontier = cand[seen.add_new(cand)]
        found.append(frontier)
    out = np.concatenate(found)
    if with_hops:
        hops = np.repeat(np.arange(len(found)), [f.size for f in found])
        return out // n64, out % n64, hops
    return out // n64, out % n64


class _DenseSet:
    """Visited flags for every (cascade, vertex) pair; fastest when that product is small."""

    def __init__(self, span: int) -> None:
        self._seen = np.zeros(span, dtype=bool)

    def add_new(self, keys: np.ndarray) -> np.ndarray:
        """Insert distinct ``keys``; return the mask of those that were not present."""
        is_new = ~self._seen[keys]
        self._seen[keys] = True
        return is_new


class _KeySet:
    """Vectorised open-addressing hash set of non-negative int64 keys (linear probing).

    A dense visited array of ``cascades × n`` booleans does not fit at a million customers
    and thousands of simultaneous cascades; this set costs O(keys stored).
    """

    def __init__(self, expected: int) -> None:
        self._bits = max(10, int(np.ceil(np.log2(max(2, 2 * expected)))))
        self._table = np.full(1 << self._bits, _EMPTY, dtype=np.int64)
        self._stored: list[np.ndarray] = []
        self._size = 0

    def add_new(self, keys: np.ndarray) -> np.ndarray:
        """Insert distinct ``keys``; return the mask of those that were not present."""
        if 2 * (self._size + keys.size) > self._table.size:
            self._grow(self._size + keys.size)
        is_new = self._insert(keys)
        self._stored.append(keys[is_new])
        self._size += int(is_new.sum())
        return is_new

    def _slots(self, keys: np.ndarray) -> np.ndarray:
        h = keys.astype(_U64) * _GOLDEN
        return (h >> _U64(64 - self._bits)).astype(np.int64)

    def _insert(self, keys: np.ndarray) -> np.ndarray:
        table, mask = self._table, (1 << self._bits) - 1
        slots = self._slots(keys)
        is_new = np.zeros(keys.size, dtype=bool)
        pending = np.arange(keys.size)
        while pending.size:
            s, k = slots[pending], keys[pending]
            cur = table[s]
            empty = cur == _EMPTY
            tried = pending[empty]
            # Several keys may race for one empty slot; exactly one write survives.
            table[slots[tried]] = keys[tried]
            won = table[slots[tried]] == keys[tried]
            is_new[tried[won]] = True
            moved = pending[~empty & (cur != k)]
            slots[moved] = (slots[moved] + 1) & mask
            pending = np.concatenate([moved, tried[~won]])
        return is_new

    def _grow(self, needed: int) -> None:
        old = np.concatenate(self._stored) if self._stored else np.zeros(0, np.int64)
        self._bits = max(self._bits + 1, int(np.ceil(np.log2(4 * needed))))
        self._table = np.full(1 << self._bits, _EMPTY, dtype=np.int64)
        self._insert(old)
        self._stored = [old]


def _distinct(keys: np.ndarray) -> np.ndarray:
    """Sorted distinct values. ``np.unique`` on int64 takes a hash path in numpy 2.4 that
    is far slower than a plain sort for frontiers of a million keys."""
    s = np.sort(keys)
    if s.size < 2:
        return s
    keep = np.empty(s.size, bool)
    keep[0] = True
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    return s[keep]


def _endpoints(g: igraph.Graph) -> tuple[np.ndarray, np.ndarray]:
    if not g.is_directed():
        raise ConfigError("influence graph must be directed (src influences dst)")
    if g.ecount() == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    # fromiter over the flattened tuples avoids building a list of tuples first
    m = g.ecount()
    flat = np.fromiter(itertools.chain.from_iterable(g.get_edgelist()), np.int64, count=2 * m)
    return flat[0::2].copy(), flat[1::2].copy()


def _weights(g: igraph.Graph) -> np.ndarray:
    if g.ecount() == 0:
        return np.zeros(0)
    if not has_edge_weights(g):
        raise ConfigError("edges have no 'weight' attribute; set it or use mapping='in_degree'")
    w = edge_arrays(g)[2]
    if not np.all(np.isfinite(w) & (w > 0)):
        raise ConfigError("edge weights must be finite and > 0; drop or repair those edges")
    return w


def _indptr(owner: np.ndarray, n: int) -> np.ndarray:
    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(owner, minlength=n), out=indptr[1:])
    return indptr


def _mask(arr: np.ndarray, n: int, name: str) -> np.ndarray:
    a = np.asarray(arr)
    if a.shape != (n,) or a.dtype != np.bool_:
        raise ConfigError(f"{name} must be a boolean array of length {n}; got {a.dtype} {a.shape}")
    return a


def _labels(arr: np.ndarray, n: int) -> np.ndarray:
    a = np.asarray(arr)
    if a.shape != (n,) or not np.issubdtype(a.dtype, np.integer) or (n and a.min() < 0):
        raise ConfigError(f"community must be non-negative integers, one per vertex ({n})")
    return a.astype(np.int64)
