"""POST /campaigns/referral-plan: seed customers for a referral campaign (operator or above)."""

from __future__ import annotations

import threading
from typing import Annotated

from fastapi import APIRouter, Depends

from api.http.auth import Caller
from api.http.deps import ReadsDep, requires
from api.http.schemas import ReferralPlanRequest, error_responses
from api.usecases.campaigns import CampaignContext, CampaignParams, plan_referral, prepare_campaign

router = APIRouter(tags=["campaigns"])
PlannerDep = Annotated[Caller, Depends(requires("operator", action="campaign planning"))]

# The projection and eligibility of a run are built once and shared by later plans: building
# them is most of a plan's cost at a million customers. One run is kept (the latest used).
_contexts: dict[str, CampaignContext] = {}
_lock = threading.Lock()


def _context(reads, run_id: str | None) -> CampaignContext:
    from api.usecases import resolve_run

    run = resolve_run(reads.store, run_id).run_id
    with _lock:
        ctx = _contexts.get(run)
        if ctx is None:
            ctx = prepare_campaign(reads.store, run_id=run)
            _contexts.clear()
            _contexts[run] = ctx
        return ctx


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
def referral_plan(body: ReferralPlanRequest, reads: ReadsDep, caller: PlannerDep) -> dict:
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
        from tagging import parse_segment

        parse_segment(body.target)  # a malformed expression fails before any graph work
    ctx = _context(reads, body.run_id)
    return plan_referral(reads.store, params, run_id=ctx.run.run_id, context=ctx)
