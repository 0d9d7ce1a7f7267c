"""Analysis as a use case: the engine's stages (projection, metrics, features, tags, persist).

The run is written incomplete and published in one final store transaction, so readers see
either the previous run or this one, whole. Which engine computes it is a name
(:func:`api.engines.get_engine`); this module only sequences the stages, times them and
reports progress.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from api.engines import get_engine
from api.usecases.runs import new_run_id
from api.usecases.stores import memory_budget
from graph.model import RunInfo
from graph.parallel import StagePeaks, release_memory
from graph.store import GraphStore

Progress = Callable[[str, float], None]

#: DuckDB's own memory budget while a DuckDB store is analysed: the run holds the graph,
#: the metrics, the feature table and the assignments itself, and beyond this DuckDB
#: spills its sorts, joins and aggregates (feature aggregation, the sorted tag write) to
#: disk instead of growing beside them.
DUCKDB_MEMORY_BUDGET = "1GB"


@dataclass(frozen=True)
class AnalyzeResult:
    """The run as stored, seconds per stage and each stage's peak resident memory.

    ``peak_rss_mb`` has the keys of ``timings`` where a stage was measured on its own
    (``graph.*`` from the engine, ``persist`` for the persist steps together) and ``max``,
    the run's peak in this process; a value is None where the platform cannot tell.
    """

    run: RunInfo
    timings: dict[str, float]
    peak_rss_mb: dict[str, float | None] = field(default_factory=dict)


def analyze(
    store: GraphStore,
    *,
    seed: int = 42,
    rules_path: str | None = None,
    progress: Progress | None = None,
    params_overrides: dict | None = None,
    engine: str = "local",
    engine_options: dict | None = None,
) -> AnalyzeResult:
    """Project the store, compute metrics and communities, tag, persist as a new run.

    Parameters
    ----------
    store
        Store holding the customers, relations, transactions and events.
    seed
        Drives every randomised step; the same data and seed give the same run.
    rules_path
        A user tag file (TOML) merged over the default catalog; read before any work.
    progress
        Called as ``progress(stage, fraction)``.
    params_overrides
        :class:`graph.params.AnalysisParams` fields to change.
    engine
        Name of the analysis engine (:data:`api.engines.ENGINES`).
    engine_options
        What the engine is built with (spark: ``source``, ``master``, ``conf``, ``out_dir``,
        ...; see :func:`api.engines.get_engine`). An engine that reads its own input
        registers the run in ``store`` and reports its input counts itself.

    Returns
    -------
    AnalyzeResult
        The run as stored, and seconds per stage.

    Raises
    ------
    ConfigError
        An unknown engine or an invalid parameter (before any work).
    RuleError
        The rule file or a rule does not evaluate; nothing is written.
    """
    from graph.params import AnalysisParams
    from tagging import default_catalog, load_rules, merge_catalogs

    eng = get_engine(engine, **(engine_options or {}))
    say = progress or (lambda stage, frac: None)
    timings: dict[str, float] = {}
    peaks = StagePeaks()
    params = AnalysisParams(seed=seed, **(params_overrides or {}))
    catalog = default_catalog()
    if rules_path:
        catalog = merge_catalogs(catalog, load_rules(rules_path))  # fails before any write

    with memory_budget(store, DUCKDB_MEMORY_BUDGET):
        return _stages(eng, store, params, catalog, say, timings, peaks)


def _stages(
    eng: Any,
    store: GraphStore,
    params: Any,
    catalog: Any,
    say: Progress,
    timings: dict[str, float],
    peaks: StagePeaks,
) -> AnalyzeResult:
    """The stages of :func:`analyze`, timed into ``timings`` and measured into ``peaks``."""
    from tagging.quality import definition_fingerprints

    t = time.perf_counter()
    say("projection", 0.0)
    with peaks.stage("projection"):
        projection = eng.project(store, params)
        release_memory()  # the relations read for the graph
    params = projection.params
    timings["projection"] = time.perf_counter() - t
    say("projection", 1.0)

    with peaks.stage("graph"):
        result = eng.metrics(projection, progress=lambda stage, frac: say("graph metrics", frac))
        del projection  # the metrics hold what the rest needs; keep the peak low at 1M
        release_memory()
    timings.update({f"graph.{k}": v for k, v in result.stats.get("timings", {}).items()})
    graph_peaks = getattr(eng, "stage_peaks_mb", None) or {}
    if graph_peaks:  # the engine measured its stages: they replace the one figure
        peaks.mb.pop("graph")
        peaks.update({f"graph.{k}": v for k, v in graph_peaks.items()})

    now = datetime.now(UTC)
    run = RunInfo(
        run_id=new_run_id(now),
        created_at=now.isoformat(timespec="microseconds"),
        params=params.to_dict(),
        input_counts=eng.input_counts(store) if hasattr(eng, "input_counts") else store.counts(),
        stats={
            **{k: v for k, v in result.stats.items() if k != "timings"},
            "tag_definitions": definition_fingerprints(catalog),
        },
    )
    say("tagging", 0.0)
    t = time.perf_counter()
    with peaks.stage("tagging.features"):
        features = eng.features(store, result.metrics, as_of=params.as_of)
        release_memory()
    with peaks.stage("tagging.rules"):
        tags = eng.tags(features, catalog, run_id=run.run_id)
        del features
        release_memory()
    for part in ("tagging.features", "tagging.rules"):  # the stage's peak is its parts' larger
        peaks.add("tagging", peaks.mb[part])
    timings["tagging"] = time.perf_counter() - t
    say("tagging", 1.0)

    say("persist", 0.0)
    with peaks.stage("persist"):
        timings.update(eng.persist(store, run, metrics=result, tags=tags))
    say("persist", 1.0)
    peaks.mb["max"] = peaks.maximum()
    return AnalyzeResult(
        run=run, timings={k: round(v, 3) for k, v in timings.items()}, peak_rss_mb=peaks.mb
    )


def tag_run(
    store: GraphStore,
    run: RunInfo,
    metrics: pd.DataFrame,
    *,
    catalog=None,
    engine: str = "local",
) -> dict[str, float]:
    """Features + every rule + persistence again for an existing run; returns the timings.

    Raises
    ------
    ConfigError
        An unknown engine.
    RuleError
        A rule of the catalog does not evaluate; nothing is written.
    """
    from tagging import default_catalog

    eng = get_engine(engine)
    catalog = catalog or default_catalog()
    t = time.perf_counter()
    features = eng.features(store, metrics, as_of=run.params.get("as_of"))
    tags = eng.tags(features, catalog, run_id=run.run_id)
    del features
    timings = {"tagging": time.perf_counter() - t}
    timings.update(eng.persist(store, run, metrics=None, tags=tags))
    return timings


def catalog_frame(catalog, assignments: pd.DataFrame) -> pd.DataFrame:
    """The catalog as rows, with the tags of families (prefers:*, interest:*) that occurred."""
    from tagging import tag_definitions

    return tag_definitions(catalog, assignments)
