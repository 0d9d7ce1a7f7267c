"""What every referral campaign on a run shares: its parameters' checks and its context.

:class:`CampaignParams` is what a plan or a seed-list evaluation is asked for;
:class:`CampaignContext` is what does not depend on the campaign (the run's projection,
consent, communities, catalog), built once by :func:`prepare_campaign` and reused by every
plan on that run (the HTTP app keeps one). Eligibility: marketing consent (a null counts as
*no* consent, because the bank may only contact customers who said yes) and none of the
run's excluded risk tags.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from api.engines.local import project_graph
from api.usecases.runs import resolve_run
from graph.build import InteractionGraph
from graph.campaign import LEARNED, InfluenceModel, influence_model
from graph.diffusion import MAPPINGS
from graph.errors import ConfigError
from graph.model import RunInfo
from graph.params import AnalysisParams
from graph.store import GraphStore

__all__ = [
    "DEFAULT_EXCLUDE_TAGS",
    "CampaignContext",
    "CampaignParams",
    "prepare_campaign",
    "vertex_mask",
]

#: Risk tags that make a customer unfit to carry a referral offer, by default.
DEFAULT_EXCLUDE_TAGS: tuple[str, ...] = ("fraud_risk", "credit_risk")


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
        ``"exponential"`` ``1 - exp(-w / 5)``; ``"constant"`` ``p = 0.05`` on every tie;
        ``"learned"`` the probabilities learnt from a referral history
        (:mod:`api.usecases.probabilities`, attached with :meth:`CampaignContext.use_learned`).
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
        if self.mapping not in (*MAPPINGS, LEARNED):
            raise ConfigError(
                f"activation mapping {self.mapping!r} is unknown; use one of {(*MAPPINGS, LEARNED)}"
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
        """The influence model (probabilities and CSR arrays) for ``mapping``, built once.

        Raises
        ------
        ConfigError
            ``mapping`` is ``"learned"`` and no probabilities were learnt for this context
            (:meth:`use_learned`).
        """
        if mapping == LEARNED and LEARNED not in self._models:
            raise ConfigError(
                "learned probabilities need a referral history: pass --history FILE "
                "(see guanxi learn-probabilities)"
            )
        if mapping not in self._models:
            self._models[mapping] = influence_model(self.graph.graph, mapping=mapping)
        return self._models[mapping]

    def use_learned(self, probs: np.ndarray) -> InfluenceModel:
        """Plan with ``probs`` (one per edge of the graph) under the mapping ``"learned"``."""
        self._models[LEARNED] = influence_model(self.graph.graph, mapping=LEARNED, probs=probs)
        return self._models[LEARNED]


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


def vertex_mask(ig: InteractionGraph, customer_ids) -> np.ndarray:
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
