"""Parameters of one graph analysis run, as one frozen, JSON-friendly record.

Every number that changes a metric lives here, so a run can store exactly what it used
(``to_dict``) and a tag reason can cite it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from graph.build import DEFAULT_TYPE_WEIGHTS
from graph.errors import ConfigError
from graph.influence import DEFAULT_INFLUENCE_WEIGHTS, INFLUENCE_METRICS

__all__ = ["AnalysisParams"]


@dataclass(frozen=True)
class AnalysisParams:
    """Knobs of :func:`graph.analysis.analyze_graph` and of the graph build.

    Attributes
    ----------
    type_weights
        Weight of one interaction per relation type (see
        :data:`graph.build.DEFAULT_TYPE_WEIGHTS`); merged over the defaults.
    half_life_days
        Age at which an interaction counts half.
    as_of
        Reference time for ages; ``None`` uses the latest interaction in the data so
        that re-running on the same data reproduces the same weights.
    damping
        PageRank damping: the chance a random walker follows a tie rather than
        jumping anywhere. 0.85 is the customary value and the networkx default.
    resolution
        Leiden resolution: for ``community_objective="modularity"`` above 1 gives more,
        smaller communities; for ``"cpm"`` the tie weight per pair of members a community
        must exceed (see :func:`graph.communities.leiden_communities`). 4.0 because at 1
        modularity's resolution limit merges groups of a few dozen customers into blobs
        whose size grows with the customer base: against the generator's planted
        communities 4 recovers them better at every size evaluated, and also the departments
        of the real email-Eu-core network, and its ids are steadier under churn (README,
        "Community resolution").
    community_objective
        ``"modularity"`` or ``"cpm"`` (Constant Potts Model). README, "Community
        resolution", has the evaluation against planted communities behind the default.
    community_match_threshold
        Jaccard index (shared customers / customers in either) at or above which a new
        community may take the id of a previous run's community
        (:func:`graph.lineage.match_communities`). 0.3 follows Greene, Doyle and Cunningham
        (2010): a community that kept a third of its extent is recognisably the same group,
        while a tenth-sized splinter of a large one is not; it also bounds a community's
        candidates at three on either side, which keeps the assignment small.
    leiden_iterations
        Leiden passes. 2 keeps a 1M-customer / 10M-tie graph near a minute on two
        cores while each further pass gains little modularity; ``-1`` iterates until
        the partition is stable (fine for graphs of a few hundred thousand ties).
    seed
        Seed of every randomised step (Leiden, betweenness pivots, reach sketches):
        the same data, parameters and seed give identical results.
    exact_betweenness_max_vertices
        Exact betweenness costs O(V·E); above this many customers a pivot-sampled
        estimate is used instead.
    betweenness_samples
        Number of random source pivots for the estimate; its rank correlation with
        the exact values stays high well below this on social graphs.
    reach_exact_walk_budget
        ``reach_2hop`` is counted exactly, cheapest customers first, until this many
        2-step walks have been spent; the rest (contacts of hubs) are estimated with
        sketches, because exact counting next to a hub costs its degree per contact.
    reach_sketch_size
        Number of min-hash sketches for the estimate (relative error about
        ``1 / sqrt(size - 2)``).
    influence_weights
        Weight of each metric's percentile in the influence score (see
        :data:`graph.influence.DEFAULT_INFLUENCE_WEIGHTS`).
    """

    type_weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_TYPE_WEIGHTS))
    half_life_days: float = 180.0
    as_of: datetime | None = None
    damping: float = 0.85
    resolution: float = 4.0
    community_objective: str = "modularity"
    leiden_iterations: int = 2
    community_match_threshold: float = 0.3
    seed: int = 42
    exact_betweenness_max_vertices: int = 5000
    betweenness_samples: int = 64
    reach_exact_walk_budget: int = 200_000_000
    reach_sketch_size: int = 64
    influence_weights: Mapping[str, float] = field(
        default_factory=lambda: dict(DEFAULT_INFLUENCE_WEIGHTS)
    )

    def __post_init__(self) -> None:
        def bad(name: str, rule: str) -> ConfigError:
            return ConfigError(f"analysis parameter {name} = {getattr(self, name)!r}: {rule}")

        if not (self.half_life_days > 0 and math.isfinite(self.half_life_days)):
            raise bad("half_life_days", "must be a positive number of days")
        if not 0 < self.damping < 1:
            raise bad("damping", "must lie strictly between 0 and 1")
        if not (self.resolution > 0 and math.isfinite(self.resolution)):
            raise bad("resolution", "must be positive")
        if self.community_objective not in ("modularity", "cpm"):
            raise bad("community_objective", "must be 'modularity' or 'cpm'")
        if not 0 < self.community_match_threshold <= 1:
            raise bad("community_match_threshold", "must lie in (0, 1]")
        if self.leiden_iterations == 0 or self.leiden_iterations < -1:
            raise bad("leiden_iterations", "must be a positive count, or -1 for until stable")
        if self.exact_betweenness_max_vertices < 0:
            raise bad("exact_betweenness_max_vertices", "must be >= 0")
        if self.betweenness_samples < 1:
            raise bad("betweenness_samples", "must be >= 1")
        if self.reach_exact_walk_budget < 0:
            raise bad("reach_exact_walk_budget", "must be >= 0")
        if self.reach_sketch_size < 3:
            raise bad("reach_sketch_size", "must be >= 3")
        for name, w in self.type_weights.items():
            if not (math.isfinite(w) and w >= 0):
                raise ConfigError(f"type weight {name!r} = {w!r} must be finite and >= 0")
        unknown = sorted(set(self.influence_weights) - set(INFLUENCE_METRICS))
        if unknown:
            raise ConfigError(
                f"influence_weights names unknown metric(s) {unknown!r}; "
                f"choose from {list(INFLUENCE_METRICS)!r}"
            )
        if any(not (math.isfinite(w) and w >= 0) for w in self.influence_weights.values()) or (
            sum(self.influence_weights.values()) <= 0
        ):
            raise bad("influence_weights", "weights must be >= 0 with a positive sum")

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-serialisable dict (``as_of`` as ISO-8601 or ``None``)."""
        return {
            "type_weights": {k: float(v) for k, v in self.type_weights.items()},
            "half_life_days": float(self.half_life_days),
            "as_of": None if self.as_of is None else self.as_of.isoformat(),
            "damping": float(self.damping),
            "resolution": float(self.resolution),
            "community_objective": str(self.community_objective),
            "leiden_iterations": int(self.leiden_iterations),
            "community_match_threshold": float(self.community_match_threshold),
            "seed": int(self.seed),
            "exact_betweenness_max_vertices": int(self.exact_betweenness_max_vertices),
            "betweenness_samples": int(self.betweenness_samples),
            "reach_exact_walk_budget": int(self.reach_exact_walk_budget),
            "reach_sketch_size": int(self.reach_sketch_size),
            "influence_weights": {k: float(v) for k, v in self.influence_weights.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AnalysisParams:
        """Inverse of :meth:`to_dict`; unknown keys raise :class:`ConfigError`.

        Raises
        ------
        ConfigError
            On an unknown key or an invalid value.
        """
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown analysis parameter(s) {unknown!r}")
        values = dict(data)
        if isinstance(values.get("as_of"), str):
            values["as_of"] = datetime.fromisoformat(values["as_of"])
        return cls(**values)
