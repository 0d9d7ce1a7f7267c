"""Referral campaign planner: which eligible customers to seed so an offer reaches the most people.

The use case behind ``guanxi plan-referral`` and ``POST /campaigns/referral-plan``. It only
validates, gathers and renders; the algorithm is the pure :func:`graph.campaign.plan_campaign`:

1. the interaction graph comes from the same projection as the run's analysis (the
   :class:`~api.usecases.campaign_setup.CampaignContext`), so the plan describes the graph
   the run's metrics and tags were computed on;
2. eligibility: marketing consent and none of the run's excluded risk tags
   (:mod:`api.usecases.campaign_setup`);
3. the planner picks and scores seeds and baselines; this module names them (tags,
   community, reason) and renders the plan as JSON-ready data or CSV.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from api.usecases.campaign_setup import (
    CampaignContext,
    CampaignParams,
    prepare_campaign,
    vertex_mask,
)
from api.usecases.runs import resolve_run
from graph.campaign import BaselineOutcome, CampaignPlan, InfluenceModel, plan_campaign
from graph.errors import ConfigError, RuleError
from graph.model import RunInfo
from graph.store import GraphStore
from tagging import evaluate_segment, parse_segment, segment_tags

__all__ = [
    "PlannedCampaign",
    "build_plan",
    "plan_referral",
    "plan_report",
    "plan_to_csv",
    "reach_by_community",
]

Progress = Callable[[str, float], None]


#: Tags worth naming in a seed's reason: they say why the customer is a good messenger.
_NOTABLE_TAGS: tuple[str, ...] = (
    "opinion_leader",
    "high_influence",
    "super_referrer",
    "community_core",
    "bridge",
    "socially_active",
)

# The plan lists the communities it reaches most; the rest stay in the totals.
_REACH_PER_COMMUNITY_TOP = 20


@dataclass
class PlannedCampaign:
    """A plan with what it was made on: the context, the masks and the influence model.

    :func:`plan_referral` renders it; the seed-list evaluation scores a planner's own list
    against it, on the same worlds and under the same masks.
    """

    run: RunInfo
    context: CampaignContext
    model: InfluenceModel
    plan: CampaignPlan
    eligible: np.ndarray
    risky: np.ndarray
    target: np.ndarray | None
    timings: dict[str, float]


def build_plan(
    store: GraphStore,
    params: CampaignParams,
    *,
    run_id: str | None = None,
    context: CampaignContext | None = None,
    progress: Progress | None = None,
) -> PlannedCampaign:
    """Check the campaign, gather its masks and plan it; arguments and errors as in
    :func:`plan_referral`, which renders the result."""
    say = progress or (lambda stage, frac: None)
    timings: dict[str, float] = {}
    tree = parse_segment(params.target) if params.target is not None else None
    if context is not None and run_id is not None and context.run.run_id != run_id:
        raise ConfigError(f"context is for run {context.run.run_id!r}, not {run_id!r}")
    run = context.run if context is not None else resolve_run(store, run_id)
    known_tags = (
        context.known_tags
        if context is not None
        else frozenset(store.read_catalog(run.run_id)["tag_id"].astype(str))
    )
    target_tags = set() if tree is None else {tid for tid, _ in segment_tags(tree)}
    if tree is not None:
        for tid, pos in segment_tags(tree):
            if tid not in known_tags:
                raise RuleError(f"target segment: unknown tag {tid!r}", position=pos)
    unknown = sorted(set(params.exclude_tags) - known_tags)
    if unknown:
        raise ConfigError(
            f"exclude_tags {unknown!r} are not tags of run {run.run_id!r}; "
            "check the spelling (a misspelt risk tag would exclude nobody)"
        )

    say("projection", 0.0)
    t = time.perf_counter()
    ctx = context if context is not None else prepare_campaign(store, run_id=run.run_id)
    ig, n = ctx.graph, ctx.graph.n
    timings["projection"] = time.perf_counter() - t
    say("projection", 1.0)

    say("constraints", 0.0)
    t = time.perf_counter()
    held = {
        tid: store.read_tags(run.run_id, tag_id=tid)[["customer_id", "tag_id"]]
        for tid in sorted(set(params.exclude_tags) | target_tags)
    }
    risky = np.zeros(n, bool)
    for tag in params.exclude_tags:
        risky |= vertex_mask(ig, held[tag]["customer_id"])
    eligible = ctx.consent & ~risky
    target = None
    if tree is not None:
        members = evaluate_segment(
            tree,
            pd.concat([held[tid] for tid in sorted(target_tags)], ignore_index=True),
            all_customer_ids=ig.ids.tolist(),
        )
        target = vertex_mask(ig, members)
        if not target.any():
            raise ConfigError(
                f"target segment {params.target!r} has no members in run {run.run_id!r}"
            )
    timings["constraints"] = time.perf_counter() - t
    say("constraints", 1.0)

    t = time.perf_counter()
    model = ctx.model(params.mapping)
    timings["probabilities"] = time.perf_counter() - t
    plan = plan_campaign(
        model,
        ig.ids,
        params.k,
        eligible=eligible,
        community=ctx.community,
        max_per_community=params.max_per_community,
        target=target,
        epsilon=params.epsilon,
        mc_runs=params.mc_runs,
        seed=params.seed,
        progress=say,
    )
    timings.update(plan.timings)
    return PlannedCampaign(run, ctx, model, plan, eligible, risky, target, timings)


def plan_referral(
    store: GraphStore,
    params: CampaignParams,
    *,
    run_id: str | None = None,
    context: CampaignContext | None = None,
    progress: Progress | None = None,
) -> dict:
    """Plan a referral campaign: IMM seeds, their expected reach, and the baselines'.

    Parameters
    ----------
    store
        Store holding the customers, relations and the analysis run (read only).
    params
        The campaign's budget, constraints and model settings.
    run_id
        Analysis run whose tags, communities and graph parameters to use; the newest when
        None.
    context
        A :func:`prepare_campaign` result to reuse instead of rebuilding the graph; it
        must belong to ``run_id`` when both are given.
    progress
        Called as ``progress(stage, fraction)``.

    Returns
    -------
    dict
        JSON-ready plan: ``run_id``, ``params`` (as resolved), ``seeds`` (``rank``,
        ``customer_id``, ``marginal_gain``, ``community_id``, ``tags``, ``reason``),
        ``expected_reach``, ``reach_ci`` ``[lo, hi]`` (95%, Monte Carlo error only),
        ``reach_per_community`` (top 20 communities by expected reach), ``baselines``
        (name -> expected reach on the same worlds), ``baseline_details`` (name -> reach,
        CI, seed ids, ratio and paired uplift of the plan over it), ``customers``,
        ``eligible``, ``excluded`` (``no_consent``; ``risk_tags`` = consenting customers
        holding an excluded tag, so ``eligible + no_consent + risk_tags == customers``),
        ``target_size``, ``model`` (IMM details) and ``timings_s``.

    Raises
    ------
    RuleError
        The target expression does not parse or names an unknown tag (raised before the
        graph is built).
    ConfigError
        An excluded tag the run does not know, an empty target segment, a context of
        another run, or a bad parameter.
    RunNotFound
        No such run (or no run yet).

    Notes
    -----
    Reach is a model estimate: the Independent Cascade assumption and the mapping from
    interaction weight to probability are not fitted to observed referral outcomes, so
    compare plans with each other rather than reading the absolute number as a forecast.
    """
    t_all = time.perf_counter()
    planned = build_plan(store, params, run_id=run_id, context=context, progress=progress)
    report = plan_report(store, params, planned)
    report["timings_s"]["total"] = round(time.perf_counter() - t_all, 3)
    return report


def plan_report(store: GraphStore, params: CampaignParams, planned: PlannedCampaign) -> dict:
    """The JSON-ready plan :func:`plan_referral` returns (without the total time)."""
    run, ctx, model, plan = planned.run, planned.context, planned.model, planned.plan
    timings, target, risky = dict(planned.timings), planned.target, planned.risky
    n = ctx.graph.n
    t = time.perf_counter()
    seeds = _seed_rows(store, run.run_id, ctx, plan, targeted=target is not None)
    timings["report"] = time.perf_counter() - t
    return {
        "run_id": run.run_id,
        "params": {
            **asdict(params),
            "exclude_tags": list(params.exclude_tags),
            "epsilon": plan.epsilon,
            "mc_runs": plan.mc_runs,
        },
        "seeds": seeds,
        "expected_reach": round(plan.reach.mean, 2),
        "reach_ci": [round(plan.reach.ci_low, 2), round(plan.reach.ci_high, 2)],
        "reach_per_community": reach_by_community(plan.reach.community_reach, ctx.community_names),
        "baselines": {name: round(b.reach.mean, 2) for name, b in plan.baselines.items()},
        "baseline_details": {name: _baseline_detail(b) for name, b in plan.baselines.items()},
        "customers": n,
        "eligible": plan.eligible,
        "excluded": {
            "no_consent": int((~ctx.consent).sum()),
            "risk_tags": int((ctx.consent & risky).sum()),
        },
        "target_size": plan.target_size,
        "model": {
            "diffusion": "independent_cascade",
            "mapping": params.mapping,
            "method": "imm",
            "rr_sets": plan.rr_sets,
            "imm_estimated_reach": round(plan.imm_estimated_reach, 2),
            "guarantee_capped": plan.guarantee_capped,
            "upper_bound": None if plan.upper_bound is None else round(plan.upper_bound, 2),
            "edges": int(model.graph.ecount()),
        },
        "timings_s": {k: round(v, 3) for k, v in timings.items()},
    }


def plan_to_csv(plan: dict) -> str:
    """The plan's seed list as CSV (one row per seed, tags joined with ``;``).

    Columns: rank, customer_id, marginal_gain, community_id, tags, reason. The plan's
    totals (expected reach, CI, baselines) stay in the JSON; the CSV is the contact list.
    """
    buf = io.StringIO()
    cols = ["rank", "customer_id", "marginal_gain", "community_id", "tags", "reason"]
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    w.writeheader()
    for s in plan["seeds"]:
        w.writerow({**{c: s.get(c) for c in cols}, "tags": ";".join(s.get("tags", []))})
    return buf.getvalue()


def _seed_rows(
    store: GraphStore, run_id: str, ctx: CampaignContext, plan: CampaignPlan, *, targeted: bool
) -> list[dict]:
    """One row per seed: its tags (read now: only the k seeds'), community and reason."""
    rows = []
    whom = "segment customers" if targeted else "customers"
    for rank, (v, cid, gain) in enumerate(
        zip(plan.seeds, plan.seed_ids, plan.marginal_gain, strict=True), start=1
    ):
        tags = sorted(set(store.read_tags(run_id, customer_id=str(cid))["tag_id"].astype(str)))
        community = ctx.community_names[ctx.community[v]]
        strength = ctx.out_strength[v]
        notable = [t for t in _NOTABLE_TAGS if t in tags]
        parts = [f"adds ~{gain:.0f} expected {whom} (marginal gain)"]
        parts.append(f"community {community}" if community is not None else "no community")
        if np.isfinite(strength):
            parts.append(f"out-strength {strength:.1f}")
        if notable:
            parts.append("holds " + ", ".join(notable))
        rows.append(
            {
                "rank": rank,
                "customer_id": str(cid),
                "marginal_gain": round(float(gain), 2),
                "community_id": community,
                "tags": tags,
                "reason": "; ".join(parts),
            }
        )
    return rows


def reach_by_community(reach: np.ndarray | None, names: np.ndarray) -> dict[str, float]:
    """Expected reach per community id, the top 20 communities, zeros left out."""
    if reach is None or reach.size == 0:
        return {}
    named = np.flatnonzero(pd.notna(names[: reach.size]))
    top = named[np.argsort(-reach[named], kind="stable")][:_REACH_PER_COMMUNITY_TOP]
    return {str(names[c]): round(float(reach[c]), 2) for c in top if reach[c] > 0}


def _baseline_detail(b: BaselineOutcome) -> dict:
    """Reach, CI and seeds of one baseline, and the plan's paired uplift over it."""
    lo, hi = b.uplift_ci
    return {
        "method": b.method,
        "expected_reach": round(b.reach.mean, 2),
        "reach_ci": [round(b.reach.ci_low, 2), round(b.reach.ci_high, 2)],
        "ratio": None if b.ratio is None else round(b.ratio, 4),
        "uplift": round(b.uplift, 2),
        "uplift_ci": [round(lo, 2), round(hi, 2)],
        "seeds": [str(c) for c in b.seed_ids],
    }
