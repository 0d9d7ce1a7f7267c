"""Activation probabilities learnt from a referral history (pure).

The planner's default probability of a tie is a fixed mapping of interaction weight
(:func:`graph.diffusion.activation_probabilities`). A bank that has run referral campaigns
knows better: who was invited by whom, and who converted. Following the Bernoulli estimator
of Goyal, Bonchi and Lakshmanan (WSDM 2010), a tie's probability is its share of invitations
that converted; since most ties were never or rarely used to invite anyone, each estimate is
shrunk towards a prior, level by level:

1. **global**: the history's conversions over what the default mapping predicted for the
   same invitations (the default is a normalisation, not a calibrated rate);
2. **inviter**: each inviter's conversions over their calibrated expectation, with
   ``inviter_strength`` pseudo-conversions at the global rate (some customers persuade far
   more of the people they invite than others);
3. **tie**: ``(converted + tie_strength * prior) / (invited + tie_strength)`` with the
   inviter-level probability as the prior, so a tie with a long record speaks for itself.

Ties without invitations get the calibrated prior of steps 1-2; exposures between customers
with no tie in the influence graph cannot be placed on one and are counted, not used.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from graph.errors import ConfigError

__all__ = ["LearnedProbabilities", "edge_index", "expected_conversions", "learn_probabilities"]

_MAX_P = 0.99


@dataclass(frozen=True)
class LearnedProbabilities:
    """Per-edge probabilities learnt from invitations, with what the learning saw.

    Attributes
    ----------
    probs
        Activation probability per edge of the influence graph, in its edge order.
    global_scale
        Conversions over the default's prediction for the same invitations.
    exposures, conversions
        Invitations (and conversions) placed on an edge of the graph.
    off_graph
        Invitations between customers with no tie in the graph (not used).
    edges_seen
        Edges with at least one invitation.
    params
        The shrinkage strengths used.
    """

    probs: np.ndarray = field(repr=False)
    global_scale: float
    exposures: int
    conversions: int
    off_graph: int
    edges_seen: int
    params: dict = field(default_factory=dict)


def learn_probabilities(
    edge_src: np.ndarray,
    edge_dst: np.ndarray,
    default: np.ndarray,
    inviter: np.ndarray,
    invitee: np.ndarray,
    converted: np.ndarray,
    *,
    inviter_strength: float = 2.0,
    tie_strength: float = 5.0,
) -> LearnedProbabilities:
    """Learn one activation probability per edge from invitations and their outcomes.

    Parameters
    ----------
    edge_src, edge_dst
        Vertex indices of each edge of the influence graph (``src`` influences ``dst``);
        at most one edge per ordered pair.
    default
        The default mapping's probability per edge (the prior's shape).
    inviter, invitee
        Vertex indices of each invitation (an exposure of ``invitee`` to ``inviter``).
    converted
        Boolean per invitation: the invitee converted on it.
    inviter_strength
        Pseudo-conversions pulling an inviter's rate towards the global one.
    tie_strength
        Pseudo-invitations pulling a tie's rate towards its inviter's.

    Returns
    -------
    LearnedProbabilities

    Raises
    ------
    ConfigError
        Arrays of mismatched lengths, or strengths that are not positive.

    Examples
    --------
    >>> src, dst = np.array([0, 0]), np.array([1, 2])
    >>> got = learn_probabilities(src, dst, np.array([0.5, 0.5]), np.array([0, 0, 0, 0]),
    ...                           np.array([1, 1, 1, 1]), np.array([True, False, False, False]))
    >>> round(got.global_scale, 3), got.exposures, got.off_graph  # (1 + 1) / (2.0 + 1)
    (0.667, 4, 0)
    >>> bool(got.probs[0] < 0.5 and got.probs[1] < 0.5)
    True
    """
    m = len(edge_src)
    if len(edge_dst) != m or len(default) != m:
        raise ConfigError("edge_src, edge_dst and default must have one entry per edge")
    if not len(inviter) == len(invitee) == len(converted):
        raise ConfigError("inviter, invitee and converted must have one entry per invitation")
    if not (inviter_strength > 0 and tie_strength > 0):
        raise ConfigError("inviter_strength and tie_strength must be positive")
    default = np.asarray(default, dtype=np.float64)
    converted = np.asarray(converted, dtype=bool)
    edge_of = edge_index(edge_src, edge_dst, inviter, invitee)
    on = edge_of >= 0
    edge = edge_of[on]
    conv = converted[on]
    invited = np.bincount(edge, minlength=m)
    won = np.bincount(edge, weights=conv, minlength=m)

    predicted = float(default[edge].sum())
    scale = (float(conv.sum()) + 1.0) / (predicted + 1.0)
    src = np.asarray(edge_src, np.int64)
    n = int(src.max(initial=-1)) + 1
    by = src[edge]
    inv_won = np.bincount(by, weights=conv, minlength=n)
    inv_expect = np.bincount(by, weights=scale * default[edge], minlength=n)
    rate = (inv_won + inviter_strength) / (inv_expect + inviter_strength)
    prior = np.minimum(scale * rate[src] * default, _MAX_P)
    probs = np.minimum((won + tie_strength * prior) / (invited + tie_strength), _MAX_P)
    return LearnedProbabilities(
        probs=probs,
        global_scale=scale,
        exposures=int(on.sum()),
        conversions=int(conv.sum()),
        off_graph=int((~on).sum()),
        edges_seen=int((invited > 0).sum()),
        params={"inviter_strength": inviter_strength, "tie_strength": tie_strength},
    )


def edge_index(
    edge_src: np.ndarray, edge_dst: np.ndarray, inviter: np.ndarray, invitee: np.ndarray
) -> np.ndarray:
    """The edge of each invitation (inviter -> invitee), or -1 where the graph has none.

    Examples
    --------
    >>> edge_index(np.array([0, 1]), np.array([1, 2]), np.array([1, 2]), np.array([2, 0]))
    array([ 1, -1])
    """
    src, dst = np.asarray(edge_src, np.int64), np.asarray(edge_dst, np.int64)
    a, b = np.asarray(inviter, np.int64), np.asarray(invitee, np.int64)
    n = int(max(src.max(initial=-1), dst.max(initial=-1), a.max(initial=-1), b.max(initial=-1)))
    n += 1
    key = src * n + dst
    order = np.argsort(key, kind="stable")
    wanted = a * n + b
    if key.size == 0:
        return np.full(wanted.size, -1, np.int64)
    at = np.minimum(np.searchsorted(key[order], wanted), key.size - 1)
    return np.where(key[order][at] == wanted, order[at], -1).astype(np.int64)


def expected_conversions(
    probs: np.ndarray, edge_of: np.ndarray, campaign: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Predicted conversions per campaign: the sum of its invitations' edge probabilities.

    Parameters
    ----------
    probs
        Probability per edge.
    edge_of
        Edge index of each invitation (-1 for one off the graph, which counts zero).
    campaign
        Non-negative campaign code of each invitation.

    Returns
    -------
    (campaigns, predicted)
        The campaign codes present, in ascending order, and each one's prediction.
    """
    p = np.where(edge_of >= 0, probs[np.maximum(edge_of, 0)], 0.0)
    codes, inv = np.unique(campaign, return_inverse=True)
    return codes, np.bincount(inv, weights=p, minlength=codes.size)
