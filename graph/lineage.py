"""Community identity across runs: match new communities to old ones, and say what happened.

Leiden's labels carry no identity between runs, so a saved segment keyed by "community
c0016" would silently mean something else after every refresh. This module keeps ids
stable: the communities of a new run are matched one-to-one to those of the previous run by
their overlap in customers (Jaccard index over a sparse contingency table, optimal
assignment on the pairs at or above a threshold); a matched community keeps its old id, an
unmatched one gets a number never used before in the store. What happened to each community
is recorded as lineage events (Greene, Doyle and Cunningham 2010, "Tracking the evolution of
communities in dynamic social networks"):

``continue``
    a matched pair: the new community keeps the old id;
``split``
    an old community with two or more new candidates (pairs at or above the threshold);
``merge``
    a new community with two or more old candidates;
``birth``
    a new community with no old candidate;
``death``
    an old community with no new candidate.

A split also leaves a ``continue`` for the part that kept the id (and a merge for the one
that absorbed the others), so every id of the new run is explained by the events.

Pure: arrays in, arrays and DataFrames out; vertex indices never leave this module.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

__all__ = [
    "EVENTS",
    "LINEAGE_COLUMNS",
    "Matching",
    "PreviousPartition",
    "community_id",
    "community_number",
    "initial_membership",
    "kept_share",
    "lineage_events",
    "match_communities",
    "normalized_mutual_information",
    "previous_labels",
]

#: Lineage event kinds, in the order rows are listed.
EVENTS: tuple[str, ...] = ("continue", "split", "merge", "birth", "death")

#: Columns of a lineage frame (one row per event); the ids and sizes are lists.
LINEAGE_COLUMNS: tuple[str, ...] = (
    "event",
    "from_ids",
    "to_ids",
    "from_sizes",
    "to_sizes",
    "shared",
    "jaccard",
)

_ID = re.compile(r"c(\d+)\Z")


@dataclass(frozen=True)
class PreviousPartition:
    """The previous complete run's communities, which the next run starts from.

    Attributes
    ----------
    run_id
        The run they come from.
    customer_ids
        Customer id per member (strings).
    community_ids
        Community id of each of them (strings, aligned with ``customer_ids``).
    next_number
        The smallest community number no run in the store has used, so a new community's
        id is never one a saved segment or campaign could already refer to.
    fingerprint
        :func:`graph.communities.community_input_fingerprint` of the run's graph and
        parameters (None for a run from before it was recorded).
    """

    run_id: str
    customer_ids: np.ndarray
    community_ids: np.ndarray
    next_number: int
    fingerprint: str | None = None


@dataclass(frozen=True)
class Matching:
    """The stable ids of a new partition and the events that explain them.

    Attributes
    ----------
    labels
        Community id per new community index (object array of strings).
    lineage
        One row per event, columns :data:`LINEAGE_COLUMNS`.
    next_number
        The smallest community number not used after this matching.
    """

    labels: np.ndarray
    lineage: pd.DataFrame
    next_number: int


def community_number(community: str) -> int | None:
    """The number in an id ``"c0042"`` (42), or None for an id of another shape."""
    m = _ID.match(str(community))
    return int(m.group(1)) if m else None


def community_id(number: int) -> str:
    """The id of community number ``number``: ``"c"`` and at least four digits.

    Examples
    --------
    >>> community_id(7), community_id(12345)
    ('c0007', 'c12345')
    """
    return f"c{int(number):04d}"


def previous_labels(ids: np.ndarray, previous: PreviousPartition) -> np.ndarray:
    """The previous community id of each customer in ``ids`` (None for a newcomer)."""
    where = pd.Index(pd.Series(previous.customer_ids, dtype=object)).get_indexer(
        pd.Series(np.asarray(ids, dtype=object), dtype=object)
    )
    known = np.asarray(previous.community_ids, dtype=object)
    if known.size == 0:
        return np.full(where.size, None, dtype=object)
    return np.where(where >= 0, known[np.maximum(where, 0)], None)


def initial_membership(ids: np.ndarray, previous: PreviousPartition) -> np.ndarray:
    """Leiden's starting partition: each customer's previous community, new ones alone.

    Parameters
    ----------
    ids
        Customer id per vertex of the new graph.
    previous
        The previous run's partition.

    Returns
    -------
    numpy.ndarray
        Community index per vertex (int64, 0..k-1): the previous communities first, in the
        order of their ids, then one singleton per customer the previous run did not have.
    """
    labels = previous_labels(ids, previous)
    new = pd.isna(labels)
    codes = pd.factorize(pd.Series(labels, dtype=object), sort=True)[0].astype(np.int64)
    codes[new] = int(codes.max(initial=-1)) + 1 + np.arange(int(new.sum()))
    # compact: previous communities nobody of this graph belongs to leave no gaps
    return np.unique(codes, return_inverse=True)[1].astype(np.int64)


def _contingency(
    prev_codes: np.ndarray, new_membership: np.ndarray, n_prev: int, n_new: int
) -> sp.csr_matrix:
    """Customers per (previous community, new community); -1 codes are left out."""
    both = (prev_codes >= 0) & (new_membership >= 0)
    ones = np.ones(int(both.sum()), dtype=np.int64)
    table = sp.coo_matrix(
        (ones, (prev_codes[both], new_membership[both])), shape=(n_prev, n_new)
    ).tocsr()
    table.sum_duplicates()
    return table


def _candidates(
    table: sp.csr_matrix, prev_sizes: np.ndarray, new_sizes: np.ndarray, threshold: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pairs (previous, new, shared customers, Jaccard) with Jaccard >= threshold."""
    coo = table.tocoo()
    rows, cols, shared = coo.row, coo.col, coo.data.astype(np.int64)
    jac = shared / (prev_sizes[rows] + new_sizes[cols] - shared)
    keep = jac >= threshold
    order = np.lexsort((cols[keep], rows[keep]))
    return rows[keep][order], cols[keep][order], shared[keep][order], jac[keep][order]


def _assign(rows: np.ndarray, cols: np.ndarray, jac: np.ndarray) -> np.ndarray:
    """Indices of the candidate pairs of a maximum-total-Jaccard one-to-one matching.

    The candidate graph falls apart into small components (a community has at most
    ``1 / threshold`` candidates on either side), so each is solved densely on its own.
    """
    if rows.size == 0:
        return np.empty(0, dtype=np.int64)
    ur, r = np.unique(rows, return_inverse=True)
    uc, c = np.unique(cols, return_inverse=True)
    nr = ur.size
    adj = sp.coo_matrix((np.ones(rows.size), (r, nr + c)), shape=(nr + uc.size,) * 2)
    _, comp = connected_components(adj, directed=False)
    pair_comp = comp[r]
    # imported here: scipy.optimize is ~0.4 s of every CLI start, and only a run with
    # competing community matches needs it
    from scipy.optimize import linear_sum_assignment

    chosen: list[np.ndarray] = []
    order = np.argsort(pair_comp, kind="stable")
    bounds = np.flatnonzero(np.diff(pair_comp[order])) + 1
    for part in np.split(order, bounds):
        if part.size == 1:
            chosen.append(part)
            continue
        pr, pr_inv = np.unique(r[part], return_inverse=True)
        pc, pc_inv = np.unique(c[part], return_inverse=True)
        weight = np.zeros((pr.size, pc.size))
        index = np.full((pr.size, pc.size), -1, dtype=np.int64)
        weight[pr_inv, pc_inv] = jac[part]
        index[pr_inv, pc_inv] = part
        ri, ci = linear_sum_assignment(weight, maximize=True)
        picked = index[ri, ci]
        chosen.append(picked[picked >= 0])
    return np.sort(np.concatenate(chosen))


def lineage_events(
    prev_labels: np.ndarray, new_labels: np.ndarray, *, threshold: float
) -> pd.DataFrame:
    """The events between two labelled partitions of the same customers.

    Parameters
    ----------
    prev_labels, new_labels
        Community id per customer in the previous and the new run (object arrays aligned
        on customers); None where a customer is not in that run.
    threshold
        Jaccard index at or above which a pair is a candidate (see the module docstring).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`LINEAGE_COLUMNS`, rows ordered by :data:`EVENTS` then ids. Sizes
        count each run's own customers; ``shared`` and ``jaccard`` compare the union of the
        ``from`` communities with the union of the ``to`` ones.

    Notes
    -----
    ``continue`` rows are the ids present in both runs: :func:`match_communities` gives a
    matched community its previous id and every other one a number no run used, so between
    a run and the one it was matched against these are exactly the matched pairs. The other
    events follow from the candidate pairs alone.
    """
    prev_labels = np.asarray(prev_labels, dtype=object)
    new_labels = np.asarray(new_labels, dtype=object)
    p_present = pd.notna(prev_labels)
    n_present = pd.notna(new_labels)
    p_codes, p_ids = pd.factorize(pd.Series(prev_labels, dtype=object), sort=True)
    n_codes, n_ids = pd.factorize(pd.Series(new_labels, dtype=object), sort=True)
    p_codes = np.where(p_present, p_codes, -1)
    n_codes = np.where(n_present, n_codes, -1)
    p_sizes = np.bincount(p_codes[p_codes >= 0], minlength=len(p_ids)).astype(np.int64)
    n_sizes = np.bincount(n_codes[n_codes >= 0], minlength=len(n_ids)).astype(np.int64)
    table = _contingency(p_codes, n_codes, len(p_ids), len(n_ids))
    rows, cols, _, _ = _candidates(table, p_sizes, n_sizes, threshold)
    p_ids = np.asarray(p_ids, dtype=object)
    n_ids = np.asarray(n_ids, dtype=object)
    coo = table.tocoo()
    pairs = zip(coo.row.tolist(), coo.col.tolist(), strict=True)
    shared_of = dict(zip(pairs, coo.data.tolist(), strict=True))

    def row(event: str, olds: list[int], news: list[int]) -> dict:
        common = int(sum(shared_of.get((a, b), 0) for a in olds for b in news))
        union = int(p_sizes[olds].sum() + n_sizes[news].sum()) - common
        return {
            "event": event,
            "from_ids": [str(p_ids[a]) for a in olds],
            "to_ids": [str(n_ids[b]) for b in news],
            "from_sizes": [int(p_sizes[a]) for a in olds],
            "to_sizes": [int(n_sizes[b]) for b in news],
            "shared": common,
            "jaccard": common / union if union else 0.0,
        }

    out: list[dict] = []
    p_index = {str(x): i for i, x in enumerate(p_ids)}
    n_index = {str(x): i for i, x in enumerate(n_ids)}
    for same in sorted(set(p_index) & set(n_index)):
        out.append(row("continue", [p_index[same]], [n_index[same]]))
    succ: dict[int, list[int]] = {}
    pred: dict[int, list[int]] = {}
    for a, b in zip(rows.tolist(), cols.tolist(), strict=True):
        succ.setdefault(a, []).append(b)
        pred.setdefault(b, []).append(a)
    for a in sorted(succ, key=lambda i: str(p_ids[i])):
        if len(succ[a]) >= 2:
            out.append(row("split", [a], sorted(succ[a], key=lambda i: str(n_ids[i]))))
    for b in sorted(pred, key=lambda i: str(n_ids[i])):
        if len(pred[b]) >= 2:
            out.append(row("merge", sorted(pred[b], key=lambda i: str(p_ids[i])), [b]))
    for b in sorted(set(range(len(n_ids))) - set(pred), key=lambda i: str(n_ids[i])):
        out.append(row("birth", [], [b]))
    for a in sorted(set(range(len(p_ids))) - set(succ), key=lambda i: str(p_ids[i])):
        out.append(row("death", [a], []))
    return pd.DataFrame(out, columns=list(LINEAGE_COLUMNS))


def match_communities(
    prev_labels: np.ndarray,
    new_membership: np.ndarray,
    *,
    threshold: float,
    next_number: int,
) -> Matching:
    """Stable ids for a new partition: matched communities keep the previous id.

    Parameters
    ----------
    prev_labels
        Previous community id per vertex of the new graph (object array; None for a
        customer the previous run did not have).
    new_membership
        New community index per vertex (0..k-1, numbered by size as
        :func:`graph.communities.leiden_communities` does).
    threshold
        Jaccard index at or above which a (previous, new) pair may be matched; see
        :data:`graph.params.AnalysisParams.community_match_threshold`.
    next_number
        The smallest community number never used in the store; unmatched new communities
        are numbered from here, largest first.

    Returns
    -------
    Matching
    """
    prev_labels = np.asarray(prev_labels, dtype=object)
    new_membership = np.asarray(new_membership, dtype=np.int64)
    present = pd.notna(prev_labels)
    p_codes, p_ids = pd.factorize(pd.Series(prev_labels, dtype=object), sort=True)
    p_codes = np.where(present, p_codes, -1)
    k = int(new_membership.max() + 1) if new_membership.size else 0
    p_sizes = np.bincount(p_codes[p_codes >= 0], minlength=len(p_ids)).astype(np.int64)
    n_sizes = np.bincount(new_membership, minlength=k).astype(np.int64)
    table = _contingency(p_codes, new_membership, len(p_ids), k)
    rows, cols, _, jac = _candidates(table, p_sizes, n_sizes, threshold)
    chosen = _assign(rows, cols, jac)
    labels = np.empty(k, dtype=object)
    taken = np.zeros(k, dtype=bool)
    p_ids = np.asarray(p_ids, dtype=object)
    labels[cols[chosen]] = p_ids[rows[chosen]]
    taken[cols[chosen]] = True
    numbers = [community_number(x) for x in p_ids]
    start = max([next_number, *[n + 1 for n in numbers if n is not None]])
    fresh = np.flatnonzero(~taken)
    labels[fresh] = [community_id(start + i) for i in range(fresh.size)]
    vertex_labels = labels[new_membership] if k else np.empty(0, dtype=object)
    lineage = lineage_events(
        np.where(present, prev_labels, None), vertex_labels, threshold=threshold
    )
    return Matching(labels=labels, lineage=lineage, next_number=start + int(fresh.size))


def kept_share(prev_labels: np.ndarray, new_labels: np.ndarray) -> tuple[float, int, int]:
    """Share of the customers of both runs whose community id did not change.

    Returns
    -------
    tuple
        ``(share, kept, compared)``; the share is 0.0 when no customer is in both runs.
    """
    prev_labels = np.asarray(prev_labels, dtype=object)
    new_labels = np.asarray(new_labels, dtype=object)
    both = pd.notna(prev_labels) & pd.notna(new_labels)
    kept = int(np.sum(prev_labels[both] == new_labels[both]))
    compared = int(both.sum())
    return (kept / compared if compared else 0.0), kept, compared


def normalized_mutual_information(a: np.ndarray, b: np.ndarray) -> float:
    """NMI of two partitions of the same customers: ``2 I(A;B) / (H(A) + H(B))``.

    The arithmetic normalisation of Danon et al. (2005), the one igraph's
    ``compare_communities(method="nmi")`` uses; 1.0 when both partitions are a single
    community (nothing to disagree on).

    Parameters
    ----------
    a, b
        Community label per customer (any hashable labels), aligned.
    """
    a_codes = pd.factorize(pd.Series(np.asarray(a, dtype=object)))[0]
    b_codes = pd.factorize(pd.Series(np.asarray(b, dtype=object)))[0]
    n = a_codes.size
    if n == 0:
        return 1.0
    table = _contingency(a_codes, b_codes, int(a_codes.max()) + 1, int(b_codes.max()) + 1)
    coo = table.tocoo()
    pa_ = np.bincount(a_codes) / n
    pb_ = np.bincount(b_codes) / n
    pij = coo.data / n
    mi = float(np.sum(pij * np.log(pij / (pa_[coo.row] * pb_[coo.col]))))
    ha = float(-np.sum(pa_ * np.log(pa_)))
    hb = float(-np.sum(pb_ * np.log(pb_)))
    if ha + hb == 0:
        return 1.0
    return 2.0 * mi / (ha + hb)
