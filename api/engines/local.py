"""The ``local`` analysis engine: igraph for the graph, pandas and Arrow for features and tags.

Everything runs in this process on the columns the store returns; it is the engine every
other engine is checked against (tests/api/engines/test_engine.py).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from typing import Any

import pandas as pd

from api.engines.base import MetricsResult, Progress, Projection, TagsResult, persist_run
from graph.model import PROJECTION_COLUMNS, RunInfo
from graph.params import AnalysisParams
from graph.store import GraphStore

__all__ = ["LocalEngine", "project_graph"]


def project_graph(store: GraphStore, params: AnalysisParams) -> Projection:
    """Build the run's interaction graph from the store's customers and relations.

    Analysis and campaign planning both project through here, so a plan describes the very
    graph its run's metrics and tags were computed on (same type weights, half-life and
    reference time). Without ``params.as_of`` the reference time is the newest event in the
    data, so re-analysing the same data gives the same numbers on any day.

    Returns
    -------
    Projection
        ``graph`` is a :class:`graph.build.InteractionGraph`; ``params`` has ``as_of`` set
        (None only when the store holds no dated row at all).

    Raises
    ------
    ConfigError
        The relations lack a column the graph needs, or a parameter is invalid.
    """
    from graph.build import build_interaction_graph, newest_timestamp

    ids = store.customer_ids()
    relations = store.read_table("relations", list(PROJECTION_COLUMNS))
    if params.as_of is None:
        params = replace(
            params,
            as_of=newest_timestamp(
                relations,
                store.read_table("transactions", ["occurred_at"]),
                store.read_table("events", ["occurred_at"]),
            ),
        )
    g = build_interaction_graph(
        ids,
        relations,
        type_weights=params.type_weights,
        half_life_days=params.half_life_days,
        as_of=params.as_of,
    )
    return Projection(params=params, graph=g)


class LocalEngine:
    """Today's in-process path behind the :class:`api.engines.base.Engine` stages."""

    name = "local"

    def project(self, store: GraphStore, params: AnalysisParams) -> Projection:
        """See :func:`project_graph`."""
        return project_graph(store, params)

    def metrics(self, projection: Projection, *, progress: Progress | None = None) -> MetricsResult:
        """Every metric and the communities, by :func:`graph.analysis.analyze_graph`.

        Raises
        ------
        ConfigError
            The influence weights name a metric that is not computed.
        """
        from graph.analysis import analyze_graph

        res = analyze_graph(projection.graph, projection.params, progress=progress)
        return MetricsResult(metrics=res.metrics, communities=res.communities, stats=res.stats)

    def features(self, store: GraphStore, metrics: pd.DataFrame, *, as_of: Any) -> pd.DataFrame:
        """Customer, transaction, event and relation features joined with ``metrics``."""
        from tagging import compute_features

        return compute_features(
            store.read_table("customers"),
            store.read_table("transactions"),
            store.read_table("events"),
            metrics,
            as_of=datetime.fromisoformat(as_of) if isinstance(as_of, str) else as_of,
            relations=store.read_table("relations", ["src_id", "dst_id", "type"]),
        )

    def tags(self, features: pd.DataFrame, catalog: Any, *, run_id: str) -> TagsResult:
        """Every rule of ``catalog``, and the catalog rows of the tags that occurred.

        Raises
        ------
        RuleError
            A rule does not evaluate on these features.
        """
        from tagging import evaluate, tag_definitions

        assignments = evaluate(catalog, features, run_id=run_id)
        return TagsResult(
            assignments=assignments, definitions=tag_definitions(catalog, assignments)
        )

    def persist(
        self, store: GraphStore, run: RunInfo, *, metrics: MetricsResult | None, tags: TagsResult
    ) -> dict[str, float]:
        """See :func:`api.engines.base.persist_run`."""
        return persist_run(store, run, metrics=metrics, tags=tags)
