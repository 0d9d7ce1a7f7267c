"""POST /campaigns/referral-plan and /campaigns/evaluate: plan a referral campaign, or judge a
planner's own seed list beside the plan (operator or above)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from api import usecases
from api.http.auth import Caller
from api.http.deps import ReadsDep, requires
from api.http.schemas import EvaluateSeedsRequest, ReferralPlanRequest, error_responses
from api.usecases.campaign_setup import CampaignContext, CampaignParams, prepare_campaign
from api.usecases.campaigns import plan_referral

router = APIRouter(tags=["campaigns"])
PlannerDep = Annotated[Caller, Depends(requires("operator", action="campaign planning"))]


class CampaignContexts:
    """The app's campaign contexts by (store uri, run id): built once, shared by later plans.

    Building a run's projection and eligibility is most of a plan's cost at a million
    customers. One context is kept (the latest used): a newer run makes the old one stale,
    and each holds a whole interaction graph. Keyed by store as well as run, so an app
    pointed at another store never plans on the first store's graph.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, str], CampaignContext] = {}

    def keys(self) -> list[tuple[str, str]]:
        """The (store uri, run id) pairs held now."""
        with self._lock:
            return list(self._entries)

    def get(self, key: tuple[str, str], build: Callable[[], CampaignContext]) -> CampaignContext:
        """The context under ``key``, built with ``build()`` (once) when missing."""
        with self._lock:
            ctx = self._entries.get(key)
            if ctx is None:
                ctx = build()
                self._entries.clear()
                self._entries[key] = ctx
            return ctx


def _context(request: Request, reads, run_id: str | None) -> CampaignContext:
    from api.usecases import resolve_run

    store = reads.store
    run = resolve_run(store, run_id).run_id
    contexts: CampaignContexts = request.app.state.guanxi.campaigns
    return contexts.get((store.uri, run), lambda: prepare_campaign(store, run_id=run))


_EXAMPLE = {
    "run_id": "r20261123T180548-fa6b95",
    "seeds": [
        {
            "rank": 1,
            "customer_id": "C0003169",
            "marginal_gain": 201.3,
            "community_id": "c0016",
            "tags": ["high_influence", "bridge"],
            "reason": "adds ~201 expected customers (marginal gain); community c0016",
        }
    ],
    "expected_reach": 974.2,
    "reach_ci": [951.0, 997.4],
    "baselines": {"top_degree": 891.4, "top_out_strength": 918.8, "top_pagerank": 964.1},
}


@router.post(
    "/campaigns/referral-plan",
    summary="Choose k seed customers that maximise expected referral reach (IMM)",
    responses={
        200: {"description": "The plan", "content": {"application/json": {"example": _EXAMPLE}}},
        **error_responses(401, 403, 404, 422, 503),
    },
)
def referral_plan(
    body: ReferralPlanRequest, request: Request, reads: ReadsDep, caller: PlannerDep
) -> dict:
    """Seeds never lack marketing consent nor hold an excluded risk tag; every figure is
    evaluated on the same simulated cascades as the top-degree and top-PageRank baselines.
    Carries customer ids only (no PII)."""
    params = CampaignParams(
        k=body.k,
        target=body.target,
        max_per_community=body.max_per_community,
        exclude_tags=tuple(body.exclude_tags),
        seed=body.seed,
    )
    if body.target is not None:
        usecases.check_segment(body.target)  # a malformed one fails before any graph work
    ctx = _context(request, reads, body.run_id)
    return plan_referral(reads.store, params, run_id=ctx.run.run_id, context=ctx)


@router.post(
    "/campaigns/evaluate",
    summary="Judge a seed list: its reach, IMM's plan for as many seeds, the upper bound",
    responses=error_responses(401, 403, 404, 422, 503),
)
def evaluate_seed_list(
    body: EvaluateSeedsRequest, request: Request, reads: ReadsDep, caller: PlannerDep
) -> dict:
    """Reach of the list with its interval, per hop and per community, beside the IMM plan
    and baselines on the same simulated cascades, and OPIM-C's upper bound on the best
    possible for that many seeds. An id that is not a customer of the run is refused (422)
    naming its position. Carries customer ids only (no PII)."""
    from api.usecases.seed_evaluation import evaluate_seeds, seed_list

    seeds = seed_list(body.seeds)
    params = CampaignParams(
        k=len(set(seeds.ids)),
        target=body.target,
        max_per_community=body.max_per_community,
        exclude_tags=tuple(body.exclude_tags),
        seed=body.seed,
    )
    if body.target is not None:
        usecases.check_segment(body.target)
    ctx = _context(request, reads, body.run_id)
    return evaluate_seeds(reads.store, seeds, params, run_id=ctx.run.run_id, context=ctx)
