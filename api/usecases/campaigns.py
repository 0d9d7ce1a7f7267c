"""Referral campaign planner: which eligible customers to seed so an offer reaches the most people.

The use case behind ``guanxi plan-referral`` and ``POST /campaigns/referral-plan``. It only
validates, gathers and renders; the algorithm is the pure :func:`graph.campaign.plan_campaign`:

1. the interaction graph comes from the same projection as the run's analysis
   (:func:`api.engines.local.project_graph` with the run's stored parameters), so the plan
   describes the graph the run's metrics and tags were computed on;
2. eligibility: marketing consent (a null counts as *no* consent, because the bank may only
   contact customers who said yes) and none of the run's excluded risk tags;
3. the planner picks and scores seeds and baselines; this module names them (tags,
   community, reason) and renders the plan as JSON-ready data or CSV.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from api.engines.local import project_graph
from api.usecases.runs import resolve_run
from graph.build import InteractionGraph
from graph.campaign import (
    BaselineOutcome,
    CampaignPlan,
    InfluenceModel,
    influence_model,
    plan_campaign,
)
from graph.diffusion import MAPPINGS
from graph.errors import ConfigError, RuleError
from graph.model import RunInfo
from graph.params import AnalysisParams
from graph.store import GraphStore
from tagging import evaluate_segment, parse_segment, segment_tags

__all__ = [
    "CampaignContext",
    "CampaignParams",
    "plan_referral",
    "plan_to_csv",
    "prepare_campaign",
]

Progress = Callable[[str, float], None]

#: Risk tags that make a customer unfit to carry a referral offer, by default.
DEFAULT_EXCLUDE_TAGS: tuple[str, ...] = ("fraud_risk", "credit_risk")

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


@dataclass(frozen=True)
class CampaignParams:
    """What a referral campaign plan is asked for.

    Attributes
    ----------
    k
        Budget: number of seed customers to contact (>= 1). Fewer are returned when fewer
        customers are eligible (after the caps).
    target
        Optional segment expression over the run's tags (``"young_customer AND NOT
        churn_risk"``); only reached members of the segment count towards reach.
    max_per_community
        Optional cap on seeds per community (the run's ``community_id``), so one social
        circle is not flooded with offers. Customers without a community each count as
        their own community.
    exclude_tags
        Customers holding any of these tags in the run are never seeds. Every id must be a
        tag the run knows: a misspelt risk tag would otherwise exclude nobody, silently.
    mapping
        How a tie's interaction weight becomes the probability that ``src`` convinces
        ``dst`` (see :func:`graph.diffusion.activation_probabilities`):
        ``"weighted_cascade"`` (default) ``p = w_uv / in_strength(v)``, each customer's
        susceptibility 1 shared among the people who talk to them in proportion to how
        much; ``"in_degree"`` the classic weighted cascade ``1 / in_degree(v)``;
        ``"exponential"`` ``1 - exp(-w / 5)``; ``"constant"`` ``p = 0.05`` on every tie.
    epsilon
        IMM approximation slack in (0, 1); ``None`` lets the planner choose
        (:func:`graph.campaign.default_epsilon`: looser on large graphs).
    mc_runs
        Monte Carlo worlds for reach and its confidence interval; ``None`` lets the planner
        choose (:func:`graph.campaign.default_mc_runs`: fewer on large graphs).
    seed
        Seeds IMM's sampler and selects the Monte Carlo worlds: the same store, run,
        parameters and seed give the same plan.
    """

    k: int
    target: str | None = None
    max_per_community: int | None = None
    exclude_tags: tuple[str, ...] = DEFAULT_EXCLUDE_TAGS
    mapping: str = "weighted_cascade"
    epsilon: float | None = None
    mc_runs: int | None = None
    seed: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "exclude_tags", tuple(self.exclude_tags))
        if isinstance(self.k, bool) or not isinstance(self.k, int) or self.k < 1:
            raise ConfigError(f"campaign budget k={self.k!r} must be a positive integer")
        if self.max_per_community is not None and self.max_per_community < 1:
            raise ConfigError(
                f"max_per_community={self.max_per_community!r} must be >= 1, or omitted"
            )
        if self.mapping not in MAPPINGS:
            raise ConfigError(
                f"activation mapping {self.mapping!r} is unknown; use one of {MAPPINGS}"
            )
        if self.epsilon is not None and not 0 < self.epsilon < 1:
            raise ConfigError(f"epsilon={self.epsilon!r} must lie strictly between 0 and 1")
        if self.mc_runs is not None and self.mc_runs < 2:
            raise ConfigError(f"mc_runs={self.mc_runs!r} must be >= 2 (a CI needs two worlds)")


@dataclass
class CampaignContext:
    """Everything a plan needs that does not depend on the campaign: build once, plan many.

    Rebuilding the interaction graph of a million customers takes tens of seconds, while
    a plan's constraints change per request; the HTTP app and the tests keep one context
    per (store, run) and pass it to :func:`plan_referral`. A context is a snapshot: it goes
    stale when the store's relations or consents change.

    Attributes
    ----------
    run
        The analysis run the context was built for.
    graph
        The run's projection: the interaction graph built with its type weights, half-life
        and ``as_of``.
    consent
        Boolean per vertex; null or missing consent is False.
    community, community_names
        Integer label per vertex, and label -> ``community_id`` (None for customers the
        run left without a community, who each get a label of their own).
    out_strength
        Weighted out-strength per vertex, cited in seed reasons.
    known_tags
        Tag ids of the run's catalog, for checking ``exclude_tags`` and targets.
    """

    run: RunInfo
    graph: InteractionGraph
    consent: np.ndarray
    community: np.ndarray
    community_names: np.ndarray
    out_strength: np.ndarray
    known_tags: frozenset[str]
    _models: dict[str, InfluenceModel] = field(default_factory=dict, repr=False)

    def model(self, mapping: str) -> InfluenceModel:
        """The influence model (probabilities and CSR arrays) for ``mapping``, built once."""
        if mapping not in self._models:
            self._models[mapping] = influence_model(self.graph.graph, mapping=mapping)
        return self._models[mapping]


def prepare_campaign(store: GraphStore, *, run_id: str | None = None) -> CampaignContext:
    """Read what every plan on ``run_id`` shares: graph, consent, communities, catalog.

    Raises
    ------
    RunNotFound
        No such run (or no run yet).
    ConfigError
        The run's stored graph parameters are invalid.
    """
    run = resolve_run(store, run_id)
    known = frozenset(store.read_catalog(run.run_id)["tag_id"].astype(str))
    ig = project_graph(store, AnalysisParams.from_dict(run.params)).graph
    metrics = store.read_metrics(run.run_id)
    labels, names = _communities(ig, metrics)
    strength = np.full(ig.n, np.nan)
    idx = ig.index_of(metrics["customer_id"].astype(str).to_numpy())
    ok = idx >= 0
    strength[idx[ok]] = metrics["out_strength"].to_numpy(dtype=float)[ok]
    return CampaignContext(
        run=run,
        graph=ig,
        consent=_consent(store, ig),
        community=labels,
        community_names=names,
        out_strength=strength,
        known_tags=known,
    )


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
    say = progress or (lambda stage, frac: None)
    timings: dict[str, float] = {}
    t_all = time.perf_counter()
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
        risky |= _mask(ig, held[tag]["customer_id"])
    eligible = ctx.consent & ~risky
    target = None
    if tree is not None:
        members = evaluate_segment(
            tree,
            pd.concat([held[tid] for tid in sorted(target_tags)], ignore_index=True),
            all_customer_ids=ig.ids.tolist(),
        )
        target = _mask(ig, members)
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

    t = time.perf_counter()
    seeds = _seed_rows(store, run.run_id, ctx, plan, targeted=target is not None)
    timings["report"] = time.perf_counter() - t
    timings["total"] = time.perf_counter() - t_all
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
        "reach_per_community": _per_community(plan.reach.community_reach, ctx.community_names),
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


# --- helpers ------------------------------------------------------------------------------
def _mask(ig: InteractionGraph, customer_ids) -> np.ndarray:
    """Boolean per vertex: True for the given customers (ids outside the graph ignored)."""
    out = np.zeros(ig.n, bool)
    idx = ig.index_of(np.asarray(customer_ids, dtype=object).astype(str))
    out[idx[idx >= 0]] = True
    return out


def _consent(store: GraphStore, ig: InteractionGraph) -> np.ndarray:
    """Consent per vertex; null or missing consent counts as no consent."""
    tbl = store.read_table("customers", ["customer_id", "marketing_consent"])
    flag = tbl.column("marketing_consent").fill_null(False).to_numpy(zero_copy_only=False)
    idx = ig.index_of(tbl.column("customer_id"))
    out = np.zeros(ig.n, bool)
    ok = idx >= 0
    out[idx[ok]] = flag[ok].astype(bool)
    return out


def _communities(ig: InteractionGraph, metrics: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """Integer community label per vertex and the label -> community_id names.

    A customer missing from the run's metrics, or with a null community, gets a label of
    their own (named None), so a per-community cap never lumps them together.
    """
    comm = np.full(ig.n, None, dtype=object)
    idx = ig.index_of(metrics["customer_id"].astype(str).to_numpy())
    ok = idx >= 0
    comm[idx[ok]] = metrics["community_id"].to_numpy(dtype=object)[ok]
    missing = pd.isna(comm)
    codes, uniques = pd.factorize(pd.Series(comm[~missing], dtype=object).astype(str))
    labels = np.empty(ig.n, np.int64)
    labels[~missing] = codes
    labels[missing] = len(uniques) + np.arange(int(missing.sum()))
    names = np.concatenate([np.asarray(uniques, dtype=object), np.full(int(missing.sum()), None)])
    return labels, names


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


def _per_community(reach: np.ndarray | None, names: np.ndarray) -> dict[str, float]:
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
