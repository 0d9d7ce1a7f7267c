"""Influence: one 0-100 score per customer from the percentiles of several metrics.

No single centrality captures "influencer": PageRank rewards being listened to by the
listened-to, betweenness rewards bridging circles, coreness rewards a solid place in
the dense centre, referral cascades and 2-hop reach measure proven and potential
spread. The score is a weighted mean of each metric's percentile, so metrics on
wildly different scales (PageRank ~1e-6, reach ~1e4) contribute as configured and the
score reads the same on any dataset size.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from graph.errors import ConfigError

__all__ = [
    "DEFAULT_INFLUENCE_WEIGHTS",
    "INFLUENCE_METRICS",
    "grouped_percentile_ranks",
    "influence_scores",
    "percentile_ranks",
]

#: Metrics the influence score may combine.
INFLUENCE_METRICS: tuple[str, ...] = (
    "pagerank",
    "in_strength",
    "out_strength",
    "in_degree",
    "out_degree",
    "degree",
    "betweenness",
    "coreness",
    "clustering",
    "reach_2hop",
    "neighbor_communities",
    "referrals_direct",
    "referral_downstream",
    "referral_depth",
)

#: PageRank leads because it already folds in who listens to whom and how strongly;
#: proven referral cascades and received interaction strength come next; betweenness
#: credits brokers; coreness and reach add embeddedness and potential audience.
DEFAULT_INFLUENCE_WEIGHTS: dict[str, float] = {
    "pagerank": 0.35,
    "in_strength": 0.15,
    "betweenness": 0.15,
    "referral_downstream": 0.15,
    "coreness": 0.10,
    "reach_2hop": 0.10,
}


def percentile_ranks(values: np.ndarray) -> np.ndarray:
    """Share of the *other* customers with a strictly lower value, in percent (0-100).

    Ties share the lower rank, so a metric most customers have at 0 (referrals, say)
    gives them all 0 instead of a flattering mid rank; the unique maximum gets 100.
    NaN counts as the lowest value.

    Examples
    --------
    >>> percentile_ranks(np.array([0.0, 0.0, 5.0, 1.0])).tolist()
    [0.0, 0.0, 100.0, 66.66666666666667]
    """
    v = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=-np.inf)
    n = v.size
    if n < 2:
        return np.zeros(n)
    below = np.searchsorted(np.sort(v), v, side="left")
    return 100.0 * below / (n - 1)


def grouped_percentile_ranks(values: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """:func:`percentile_ranks` computed within each group (e.g. community).

    A customer alone in a group has no peer to outrank and gets 0, so within-community
    tags never fire on isolated customers.

    Examples
    --------
    >>> grouped_percentile_ranks(np.array([3.0, 1.0, 2.0, 9.0]), np.array([0, 0, 0, 1])).tolist()
    [100.0, 0.0, 50.0, 0.0]
    """
    v = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=-np.inf)
    groups = np.asarray(groups)
    n = v.size
    out = np.zeros(n)
    if n == 0:
        return out
    order = np.lexsort((v, groups))
    gs, vs = groups[order], v[order]
    pos = np.arange(n)
    new_group = np.ones(n, dtype=bool)
    new_group[1:] = gs[1:] != gs[:-1]
    new_run = new_group.copy()
    new_run[1:] |= vs[1:] != vs[:-1]
    group_start = np.maximum.accumulate(np.where(new_group, pos, 0))
    run_start = np.maximum.accumulate(np.where(new_run, pos, 0))
    group_id = np.cumsum(new_group) - 1
    group_size = np.bincount(group_id)[group_id]
    below = run_start - group_start
    pct = np.divide(100.0 * below, group_size - 1, out=np.zeros(n), where=group_size > 1)
    out[order] = pct
    return out


def influence_scores(
    metrics: Mapping[str, np.ndarray], *, weights: Mapping[str, float] | None = None
) -> np.ndarray:
    """Weighted mean of metric percentiles, 0-100.

    Parameters
    ----------
    metrics
        Metric name -> values aligned with the customers; must contain every metric
        with a non-zero weight.
    weights
        Metric -> weight (normalised to sum 1); defaults to
        :data:`DEFAULT_INFLUENCE_WEIGHTS`.

    Returns
    -------
    numpy.ndarray
        float64 score per customer.

    Raises
    ------
    ConfigError
        If a weighted metric is missing, a weight is negative, or all are zero.

    Examples
    --------
    >>> influence_scores({"pagerank": np.array([0.1, 0.3, 0.2]),
    ...                   "coreness": np.array([1, 1, 2])},
    ...                  weights={"pagerank": 3, "coreness": 1}).tolist()
    [0.0, 75.0, 62.5]
    """
    weights = dict(DEFAULT_INFLUENCE_WEIGHTS if weights is None else weights)
    if any(w < 0 for w in weights.values()) or sum(weights.values()) <= 0:
        raise ConfigError(f"influence weights {weights!r} must be >= 0 with a positive sum")
    used = {k: w for k, w in weights.items() if w > 0}
    missing = sorted(set(used) - set(metrics))
    if missing:
        raise ConfigError(f"influence weights name metric(s) {missing!r} that were not computed")
    total = sum(used.values())
    n = len(next(iter(metrics.values()))) if metrics else 0
    score = np.zeros(n)
    for name, w in used.items():
        score += (w / total) * percentile_ranks(metrics[name])
    return score
