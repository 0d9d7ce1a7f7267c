"""The analysis engine seam: the pipeline's named stages, their columnar results, one protocol.

An analysis run is five stages, each handing columns (Arrow tables, DataFrames) to the next:

``projection``
    the store's customers and relations become the engine's interaction graph, with the
    run's reference time resolved (so re-analysing the same data gives the same numbers);
``metrics``
    per-customer metrics and communities (:data:`graph.analysis.METRIC_COLUMNS`);
``features``
    the metrics joined with customer, transaction and event features for the rules;
``tags``
    every rule of the catalog evaluated, plus the catalog rows to store with the run;
``persist``
    the run written incomplete and published in one final transaction.

An engine (``local``: igraph and pandas in this process; ``spark``: Spark SQL and GraphX)
implements the stages; the use cases call them in order and never look inside a
:class:`Projection`, so a new engine plugs in without touching the use cases, the CLI or the
HTTP layer.

The ``store`` a stage receives is where the run is registered. The local engine also reads
its input from it; an engine that reads its input elsewhere (spark: the ``source`` it was
built with) ignores it in ``project`` and ``features``, says how many rows it read through
an ``input_counts(store)`` method, and hands DataFrames of its own kind (Spark's) between
its stages: the results' tables are "columnar tables of the engine's kind", and only
``persist`` turns them into what the store keeps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

import pandas as pd

from graph.failpoints import failpoint
from graph.model import RunInfo
from graph.params import AnalysisParams
from graph.store import GraphStore

__all__ = [
    "STAGES",
    "Engine",
    "MetricsResult",
    "Progress",
    "Projection",
    "TagsResult",
    "persist_run",
    "reference_time",
]

#: The pipeline's stages, in the order the use cases call them.
STAGES: tuple[str, ...] = ("projection", "metrics", "features", "tags", "persist")

Progress = Callable[[str, float], None]


def reference_time(as_of: datetime | str | None) -> datetime | None:
    """A run's ``as_of`` as a datetime: stages receive it as the run records it (ISO text)
    or as the projection resolved it."""
    return datetime.fromisoformat(as_of) if isinstance(as_of, str) else as_of


@dataclass(frozen=True)
class Projection:
    """The engine's graph of one run, with the parameters it was built with.

    Attributes
    ----------
    params
        The run's parameters with ``as_of`` resolved; what the run records about itself.
    graph
        Engine-specific (the local engine's :class:`graph.build.InteractionGraph`); only the
        engine that built it reads it.
    """

    params: AnalysisParams
    graph: Any = field(repr=False)


@dataclass(frozen=True)
class MetricsResult:
    """Per-customer metrics, per-community statistics and the run's facts (``stats``).

    ``stats`` is JSON-friendly; its ``timings`` entry (seconds per graph stage) is reported,
    not stored with the run. ``lineage`` (what happened to the previous run's communities,
    ``graph.lineage.LINEAGE_COLUMNS``) is stored with the run when an engine gives it.
    """

    metrics: pd.DataFrame
    communities: pd.DataFrame
    stats: dict[str, Any] = field(default_factory=dict)
    lineage: pd.DataFrame | None = None


@dataclass(frozen=True)
class TagsResult:
    """Tag assignments of one run and the catalog rows (definitions) stored beside them.

    ``assignments`` is of the engine's kind (pandas, or a Spark DataFrame); ``definitions``
    (the catalog's rows, small) is always pandas.
    """

    assignments: pd.DataFrame | Any
    definitions: pd.DataFrame


@runtime_checkable
class Engine(Protocol):
    """The stages an analysis engine implements (see the module docstring).

    Every stage is deterministic for the same inputs and ``params.seed``; the contract test
    (tests/api/engines/test_engine.py) holds every registered engine to the same results.
    """

    name: str

    def project(self, store: GraphStore, params: AnalysisParams) -> Projection:
        """Read customers and relations from ``store`` into the engine's graph."""
        ...

    def metrics(self, projection: Projection, *, progress: Progress | None = None) -> MetricsResult:
        """Compute every metric, the communities and the influence score."""
        ...

    def features(self, store: GraphStore, metrics: pd.DataFrame, *, as_of: Any) -> pd.DataFrame:
        """Join ``metrics`` with the customer, transaction and event features the rules read."""
        ...

    def tags(self, features: pd.DataFrame, catalog: Any, *, run_id: str) -> TagsResult:
        """Evaluate every rule of ``catalog`` on ``features``."""
        ...

    def persist(
        self, store: GraphStore, run: RunInfo, *, metrics: MetricsResult | None, tags: TagsResult
    ) -> dict[str, float]:
        """Write the run (``metrics`` None: only re-tag an existing run); return the timings."""
        ...


def persist_run(
    store: GraphStore,
    run: RunInfo,
    *,
    metrics: MetricsResult | None,
    tags: TagsResult,
    write_run: Callable[[], None] | None = None,
    write_tags: Callable[[], None] | None = None,
) -> dict[str, float]:
    """Write a run incomplete, then publish it in one final store transaction.

    Readers see the previous run or this one, whole: a crash before ``publish_run`` leaves
    the previous run served, and the next analyze removes what this one left behind. The
    failpoints mark the crash-safety test's kill points between the writes. With ``metrics``
    None the run already exists (a re-tag): only its tags are rewritten, nothing published.

    Parameters
    ----------
    write_run, write_tags
        The two writes, when they are not the store's ``write_run`` / ``write_tags`` of
        ``metrics`` and ``tags`` (a Spark run has DuckDB read its Parquet instead); the
        sequence around them, and so its crash safety, is the same for every engine.

    Returns
    -------
    dict
        Seconds spent in ``persist_metrics``, ``persist_tags`` and ``publish`` (those that ran).
    """
    import time

    timings: dict[str, float] = {}
    if metrics is not None:
        failpoint("analyze.projected")
        t = time.perf_counter()
        if write_run is None:
            store.write_run(run, metrics=metrics.metrics, communities=metrics.communities)
        else:
            write_run()
        if metrics.lineage is not None:
            store.write_lineage(run.run_id, metrics.lineage)
        timings["persist_metrics"] = time.perf_counter() - t
        failpoint("analyze.metrics.done")
    t = time.perf_counter()
    if write_tags is None:
        store.write_tags(run.run_id, tags.assignments, tags.definitions)
    else:
        write_tags()
    timings["persist_tags"] = time.perf_counter() - t
    if metrics is not None:
        failpoint("analyze.tags.done")
        t = time.perf_counter()
        store.publish_run(run.run_id)
        timings["publish"] = time.perf_counter() - t
    return timings
