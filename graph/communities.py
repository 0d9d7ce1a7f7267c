"""Community detection (Leiden) and per-community statistics.

Communities are found on the undirected weighted view: two customers who interact a
lot belong together whichever of them starts the conversation.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

import igraph as ig
import numpy as np
import pandas as pd

from graph.build import edge_arrays, igraph_weights

__all__ = [
    "Communities",
    "community_input_fingerprint",
    "community_labels",
    "community_stats",
    "leiden_communities",
]

#: Leiden objectives by their name here, and igraph's name for each.
_OBJECTIVES = {"modularity": "modularity", "cpm": "CPM"}


@dataclass(frozen=True)
class Communities:
    """A partition of the customers and how it was obtained.

    Attributes
    ----------
    membership
        Community index per vertex (int64), numbered by descending size so that 0 is
        the largest; ties in size are ordered by their lowest vertex index. The
        numbering is reproducible for the same graph, parameters and seed, but
        carries no meaning across runs on different data.
    method
        Algorithm name (``"leiden"``).
    params
        Parameters the algorithm ran with (objective, resolution, iterations,
        weights).
    seed
        Seed of the run.
    modularity
        Weighted modularity of the partition at ``params["resolution"]`` (at 1 for the
        ``"cpm"`` objective, whose resolution is a density).
    """

    membership: np.ndarray
    method: str
    params: dict[str, Any] = field(default_factory=dict)
    seed: int = 0
    modularity: float = 0.0

    @property
    def count(self) -> int:
        """Number of communities (isolated customers are each their own)."""
        return int(self.membership.max() + 1) if self.membership.size else 0


def leiden_communities(
    g: ig.Graph,
    *,
    resolution: float = 1.0,
    iterations: int = 2,
    seed: int = 0,
    weights: str | None = "weight",
    initial: np.ndarray | None = None,
    objective: str = "modularity",
) -> Communities:
    """Leiden communities of an undirected graph, reproducible by seed.

    Leiden (Traag et al. 2019) rather than Louvain because it guarantees connected
    communities: a community can be described as "these customers and their ties"
    without hidden disconnected fragments.

    igraph draws from Python's :mod:`random` module; this function seeds it with
    ``seed`` right before the call and restores the caller's random state afterwards,
    so the result depends only on the inputs and nothing else in the process is
    disturbed (not thread-safe against other users of :mod:`random` meanwhile).

    Parameters
    ----------
    g
        Undirected graph (use :meth:`InteractionGraph.undirected`).
    resolution
        With ``objective="modularity"`` the modularity resolution (above 1: more, smaller
        communities); with ``"cpm"`` the Constant Potts Model's density threshold, in
        tie-weight units per pair of members (a group is a community when its ties average
        more than this per pair), which unlike modularity does not depend on the size of
        the whole graph.
    iterations
        Leiden passes; ``-1`` runs until a pass no longer improves the partition.
    seed
        Seed of the randomised refinement and node order.
    weights
        Edge attribute with tie strength, or ``None`` for unweighted.
    initial
        Starting community index per vertex (a warm start, e.g.
        :func:`graph.lineage.initial_membership` of the previous run). Leiden then refines
        yesterday's partition instead of rebuilding one from singletons, so a small change
        in the data moves few customers; the result still depends only on the graph, the
        parameters, ``initial`` and ``seed``. ``params["warm_start"]`` records which it was.
    objective
        ``"modularity"`` or ``"cpm"`` (see ``resolution``).

    Returns
    -------
    Communities

    Raises
    ------
    ValueError
        If ``g`` is directed (Leiden modularity here is the undirected one), or ``initial``
        does not give one index in 0..n-1 per vertex.
    """
    if g.is_directed():
        raise ValueError("leiden_communities needs an undirected graph; pass g.undirected()")
    if objective not in _OBJECTIVES:
        raise ValueError(f"objective {objective!r}: use one of {sorted(_OBJECTIVES)}")
    start = None
    if initial is not None:
        start = np.asarray(initial, dtype=np.int64)
        n = g.vcount()
        if start.shape != (n,) or (n and (start.min() < 0 or start.max() >= n)):
            raise ValueError(
                f"initial membership has shape {start.shape}; give one index in 0..{n - 1} "
                "per vertex"
            )
        start = start.tolist()
    values = igraph_weights(g, weights, sequence=True)
    if values is None:
        weights = None
    state = random.getstate()
    try:
        random.seed(seed)
        clustering = g.community_leiden(
            objective_function=_OBJECTIVES[objective],
            weights=values,
            resolution=resolution,
            n_iterations=iterations,
            initial_membership=start,
        )
    finally:
        random.setstate(state)
    membership = _by_size(np.asarray(clustering.membership, dtype=np.int64))
    if g.ecount():
        # CPM's resolution is no modularity resolution: report plain modularity then
        at = resolution if objective == "modularity" else 1.0
        modularity = g.modularity(membership.tolist(), weights=values, resolution=at)
    else:
        modularity = 0.0
    return Communities(
        membership=membership,
        method="leiden",
        params={
            "objective": objective,
            "resolution": float(resolution),
            "iterations": int(iterations),
            "weights": weights,
            "warm_start": start is not None,
        },
        seed=int(seed),
        modularity=float(modularity),
    )


def community_input_fingerprint(g: ig.Graph, ids: np.ndarray, params: dict[str, Any]) -> str:
    """A digest of everything community detection reads: customers, ties, weights, parameters.

    Two runs with the same fingerprint partition the very same graph the same way; a warm
    start on an unchanged graph then keeps the previous partition as it is (zero Leiden
    passes), so re-analysing unchanged data changes no community, as it changes no metric.
    """
    import hashlib
    import json

    src, dst, w = edge_arrays(g)
    # weights to 6 decimals: a store that sums a customer's relations in another order
    # (Neo4j) differs in the last bits, which is no change of the data
    weights = np.round(np.asarray(w, dtype=np.float64), 6)
    h = hashlib.sha256()
    h.update("\x1f".join(map(str, ids)).encode())
    for arr in (src.astype(np.int64), dst.astype(np.int64), weights):
        h.update(np.ascontiguousarray(arr).tobytes())
    h.update(json.dumps(params, sort_keys=True, default=str).encode())
    return h.hexdigest()


def community_labels(membership: np.ndarray) -> np.ndarray:
    """Display ids ``"c0000"``, ``"c0001"``, ... (zero-padded to at least 4 digits).

    Examples
    --------
    >>> community_labels(np.array([1, 0, 1])).tolist()
    ['c0001', 'c0000', 'c0001']
    """
    membership = np.asarray(membership, dtype=np.int64)
    count = int(membership.max() + 1) if membership.size else 0
    width = max(4, len(str(max(count - 1, 0))))
    names = np.array([f"c{i:0{width}d}" for i in range(count)], dtype=object)
    return names[membership] if membership.size else np.empty(0, dtype=object)


def community_stats(g: ig.Graph, membership: np.ndarray, *, pagerank: np.ndarray) -> pd.DataFrame:
    """Size, cohesion and leader of each community.

    Parameters
    ----------
    g
        Undirected weighted simple graph the communities were found on.
    membership
        Community index per vertex, numbered 0..k-1.
    pagerank
        PageRank per vertex; the leader is the member with the highest PageRank
        (ties go to the lower vertex index, i.e. the smaller customer id).

    Returns
    -------
    pandas.DataFrame
        One row per community index, in index order: ``community`` (int),
        ``size``, ``density`` (internal ties / possible pairs; 0 for a single
        customer), ``internal_weight`` (summed strength of ties inside),
        ``external_weight`` (summed strength of ties leaving the community),
        ``leader_vertex`` (vertex index) and ``leader_pagerank``.
    """
    membership = np.asarray(membership, dtype=np.int64)
    k = int(membership.max() + 1) if membership.size else 0
    src, dst, w = edge_arrays(g)
    cs, cd = membership[src], membership[dst]
    inside = cs == cd
    size = np.bincount(membership, minlength=k)
    internal_edges = np.bincount(cs[inside], minlength=k)
    internal_weight = np.bincount(cs[inside], weights=w[inside], minlength=k)
    external_weight = np.bincount(cs[~inside], weights=w[~inside], minlength=k) + np.bincount(
        cd[~inside], weights=w[~inside], minlength=k
    )
    pairs = size * (size - 1) / 2
    density = np.divide(internal_edges, pairs, out=np.zeros(k), where=pairs > 0)
    order = np.lexsort((np.arange(membership.size), -np.asarray(pagerank), membership))
    first = np.ones(order.size, dtype=bool)
    first[1:] = membership[order][1:] != membership[order][:-1]
    leaders = order[first]
    return pd.DataFrame(
        {
            "community": np.arange(k),
            "size": size.astype(np.int64),
            "density": density,
            "internal_weight": internal_weight.astype(np.float64),
            "external_weight": external_weight.astype(np.float64),
            "leader_vertex": leaders.astype(np.int64),
            "leader_pagerank": np.asarray(pagerank)[leaders],
        }
    )


def _by_size(membership: np.ndarray) -> np.ndarray:
    """Renumber communities by descending size, ties by lowest member index."""
    if membership.size == 0:
        return membership
    k = int(membership.max() + 1)
    size = np.bincount(membership, minlength=k)
    first_member = np.full(k, membership.size, dtype=np.int64)
    np.minimum.at(first_member, membership, np.arange(membership.size))
    present = np.flatnonzero(size > 0)
    ranked = present[np.lexsort((first_member[present], -size[present]))]
    new = np.empty(k, dtype=np.int64)
    new[ranked] = np.arange(ranked.size)
    return new[membership]
