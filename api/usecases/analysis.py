"""Analysis as a use case: projection, metrics and communities, tags, persisted as one run.

The run is written incomplete and published in one final store transaction, so readers see
either the previous run or this one, whole.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import pandas as pd

from api.usecases.runs import new_run_id
from graph.failpoints import failpoint
from graph.model import RunInfo
from graph.store import GraphStore

Progress = Callable[[str, float], None]


@dataclass(frozen=True)
class AnalyzeResult:
    run: RunInfo
    timings: dict[str, float]


def analyze(
    store: GraphStore,
    *,
    seed: int = 42,
    rules_path: str | None = None,
    progress: Progress | None = None,
    params_overrides: dict | None = None,
) -> AnalyzeResult:
    """Project the store into igraph, compute metrics and communities, tag, persist as a run.

    The run is written incomplete (metrics and communities, then tags) and published in one
    final store transaction, so readers see either the previous run or this one, whole.
    """
    from graph.analysis import analyze_graph
    from graph.build import build_interaction_graph
    from graph.params import AnalysisParams
    from tagging import default_catalog, load_rules, merge_catalogs

    say = progress or (lambda stage, frac: None)
    timings: dict[str, float] = {}
    params = AnalysisParams(seed=seed, **(params_overrides or {}))
    catalog = default_catalog()
    if rules_path:
        catalog = merge_catalogs(catalog, load_rules(rules_path))  # fails before any write

    t = time.perf_counter()
    say("projection", 0.0)
    ids = store.customer_ids()
    relations = store.read_table("relations", ["src_id", "dst_id", "type", "occurred_at", "count"])
    if params.as_of is None:
        # one reference time for decay and for every feature window: the newest event in
        # the data, so re-analysing the same data gives the same numbers on any day
        params = replace(
            params,
            as_of=_newest(
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
    del relations  # the graph holds what the metrics need; keep the peak low at 1M
    timings["projection"] = time.perf_counter() - t
    say("projection", 1.0)

    result = analyze_graph(g, params, progress=lambda stage, frac: say("graph metrics", frac))
    del g
    timings.update({f"graph.{k}": v for k, v in result.stats.get("timings", {}).items()})

    failpoint("analyze.projected")
    now = datetime.now(UTC)
    run = RunInfo(
        run_id=new_run_id(now),
        created_at=now.isoformat(timespec="microseconds"),
        params=params.to_dict(),
        input_counts=store.counts(),
        stats={k: v for k, v in result.stats.items() if k != "timings"},
    )
    t = time.perf_counter()
    say("persist metrics", 0.0)
    store.write_run(run, metrics=result.metrics, communities=result.communities)
    timings["persist_metrics"] = time.perf_counter() - t
    say("persist metrics", 1.0)

    failpoint("analyze.metrics.done")

    say("tagging", 0.0)
    timings.update(tag_run(store, run, result.metrics, catalog=catalog))
    failpoint("analyze.tags.done")
    say("tagging", 1.0)
    # the run becomes visible only now, complete; a crash before this leaves readers the
    # previous run, and the next analyze removes what this one left behind
    t = time.perf_counter()
    store.publish_run(run.run_id)
    timings["publish"] = time.perf_counter() - t
    return AnalyzeResult(run=run, timings={k: round(v, 3) for k, v in timings.items()})


def tag_run(
    store: GraphStore, run: RunInfo, metrics: pd.DataFrame, *, catalog=None
) -> dict[str, float]:
    """Features + every rule + persistence for one run; returns the timings (seconds).

    Raises
    ------
    RuleError
        A rule of the catalog does not evaluate; nothing is written.
    """
    from tagging import compute_features, default_catalog, evaluate

    catalog = catalog or default_catalog()
    as_of = run.params.get("as_of")
    t = time.perf_counter()
    features = compute_features(
        store.read_table("customers"),
        store.read_table("transactions"),
        store.read_table("events"),
        metrics,
        as_of=datetime.fromisoformat(as_of) if isinstance(as_of, str) else as_of,
        relations=store.read_table("relations", ["src_id", "dst_id", "type"]),
    )
    assignments = evaluate(catalog, features, run_id=run.run_id)
    tagging_s = time.perf_counter() - t
    t = time.perf_counter()
    store.write_tags(run.run_id, assignments, catalog_frame(catalog, assignments))
    return {"tagging": tagging_s, "persist_tags": time.perf_counter() - t}


def _newest(*tables) -> datetime | None:
    import pyarrow.compute as pc

    stamps = [pc.max(t.column("occurred_at")).as_py() for t in tables if t.num_rows]
    stamps = [x for x in stamps if x is not None]
    return max(stamps) if stamps else None


def catalog_frame(catalog, assignments: pd.DataFrame) -> pd.DataFrame:
    """The catalog as rows, with the tags of families (prefers:*, interest:*) that occurred."""
    from tagging import tag_definitions

    return tag_definitions(catalog, assignments)
