"""Activation probabilities learnt from the bank's own referral history, and their check.

``guanxi learn-probabilities --history FILE`` scores the learning on a time split: it learns
from the earlier campaigns and predicts, for each later campaign, how many of its
invitations convert, beside the default mapping's prediction, so a planner sees whether the
learnt probabilities describe their customers better before planning with them
(``guanxi plan-referral --probabilities learned --history FILE``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from api.usecases.campaign_setup import CampaignContext, prepare_campaign
from api.usecases.runs import resolve_run
from graph.activation import (
    LearnedProbabilities,
    edge_index,
    expected_conversions,
    learn_probabilities,
)
from graph.errors import ConfigError
from graph.store import GraphStore
from loaders.referral_history import read_history

__all__ = ["learn_from_history", "learned_context", "score_history"]

#: The default mapping learnt probabilities are compared with and shrunk towards.
BASE_MAPPING = "weighted_cascade"


def _placed(ctx: CampaignContext, history: pa.Table) -> dict[str, np.ndarray]:
    """Vertex indices of each invitation's inviter and invitee (-1: not a customer)."""
    ig = ctx.graph
    return {
        "inviter": ig.index_of(history.column("inviter_id")),
        "invitee": ig.index_of(history.column("invitee_id")),
        "converted": pc.is_valid(history.column("converted_at")).to_numpy(zero_copy_only=False),
    }


def learn_from_history(
    ctx: CampaignContext, history: pa.Table
) -> tuple[LearnedProbabilities, dict]:
    """Learn a probability per edge of ``ctx``'s graph from ``history``.

    Returns
    -------
    (LearnedProbabilities, dict)
        The probabilities, and what was used: ``invitations``, ``unknown_customers``
        (invitations naming someone not in the run's graph, left out), ``off_graph``,
        ``conversions``, ``edges_seen``, ``global_scale``.
    """
    base = ctx.model(BASE_MAPPING)
    src, dst = _edges(base.graph)
    at = _placed(ctx, history)
    known = (at["inviter"] >= 0) & (at["invitee"] >= 0)
    learned = learn_probabilities(
        src, dst, base.probs, at["inviter"][known], at["invitee"][known], at["converted"][known]
    )
    return learned, {
        "invitations": int(history.num_rows),
        "unknown_customers": int((~known).sum()),
        "off_graph": learned.off_graph,
        "conversions": learned.conversions,
        "edges_seen": learned.edges_seen,
        "global_scale": round(learned.global_scale, 4),
    }


def learned_context(
    store: GraphStore, history_path: Path, *, run_id: str | None = None
) -> tuple[CampaignContext, dict]:
    """A campaign context of the run whose ``"learned"`` mapping holds the probabilities
    learnt from all of ``history_path``; and what the learning used."""
    ctx = prepare_campaign(store, run_id=resolve_run(store, run_id).run_id)
    learned, used = learn_from_history(ctx, read_history(history_path))
    ctx.use_learned(learned.probs)
    return ctx, used


def score_history(
    store: GraphStore,
    history_path: Path,
    *,
    holdout_share: float = 0.25,
    run_id: str | None = None,
    context: CampaignContext | None = None,
) -> dict:
    """Learn from the earlier campaigns, predict the later ones' conversions, both ways.

    Campaigns are ordered by their first invitation; the last ``holdout_share`` of them are
    held out. For each held-out campaign the prediction is the sum of its invitations'
    probabilities, learnt (from the earlier campaigns only) and default.

    Returns
    -------
    dict
        ``run_id``, ``train_campaigns``, ``test_campaigns``, ``learned_mae`` and
        ``default_mae`` (mean absolute error of predicted vs realised conversions per
        held-out campaign), ``error_ratio`` (learned over default), ``campaigns`` (one
        record per held-out campaign) and ``used`` (what the learning saw).

    Raises
    ------
    ConfigError
        ``holdout_share`` outside (0, 1), or fewer than two campaigns.
    LoaderError
        An unreadable history file.
    """
    if not 0 < holdout_share < 1:
        raise ConfigError(f"holdout_share={holdout_share!r} must lie strictly between 0 and 1")
    history = read_history(history_path)
    ctx = context or prepare_campaign(store, run_id=resolve_run(store, run_id).run_id)
    names, codes = np.unique(
        history.column("campaign_id").to_numpy(zero_copy_only=False), return_inverse=True
    )
    if names.size < 2:
        raise ConfigError(f"{history_path}: a time split needs at least two campaigns")
    started = np.full(names.size, np.iinfo(np.int64).max)
    np.minimum.at(started, codes, history.column("invited_at").cast(pa.int64()).to_numpy())
    by_start = np.argsort(started, kind="stable")
    n_test = max(1, round(names.size * holdout_share))
    test_codes = by_start[-n_test:]
    test = np.isin(codes, test_codes)
    learned, used = learn_from_history(ctx, history.filter(pa.array(~test)))

    base = ctx.model(BASE_MAPPING)
    src, dst = _edges(base.graph)
    at = _placed(ctx, history.filter(pa.array(test)))
    edge = np.full(at["inviter"].size, -1, np.int64)
    known = (at["inviter"] >= 0) & (at["invitee"] >= 0)
    edge[known] = edge_index(src, dst, at["inviter"][known], at["invitee"][known])
    camp = codes[test]
    _, pred_learned = expected_conversions(learned.probs, edge, camp)
    present, pred_default = expected_conversions(base.probs, edge, camp)
    realised = np.bincount(np.searchsorted(present, camp), weights=at["converted"])
    err_l, err_d = np.abs(pred_learned - realised), np.abs(pred_default - realised)
    return {
        "run_id": ctx.run.run_id,
        "train_campaigns": int(names.size - n_test),
        "test_campaigns": int(n_test),
        "learned_mae": round(float(err_l.mean()), 3),
        "default_mae": round(float(err_d.mean()), 3),
        "error_ratio": round(float(err_l.mean() / err_d.mean()), 4) if err_d.mean() else None,
        "campaigns": [
            {
                "campaign_id": str(names[c]),
                "invitations": int((camp == c).sum()),
                "realised": int(r),
                "learned": round(float(pl), 2),
                "default": round(float(pd_), 2),
            }
            for c, r, pl, pd_ in zip(present, realised, pred_learned, pred_default, strict=True)
        ],
        "used": used,
    }


def _edges(g) -> tuple[np.ndarray, np.ndarray]:
    """Source and target vertex of every edge of ``g``, in edge order."""
    edges = np.asarray(g.get_edgelist(), dtype=np.int64).reshape(-1, 2)
    return edges[:, 0], edges[:, 1]
