"""Use cases shared by the CLI and the HTTP API: ingest, analyse, tag, explain, plan.

This is the only place that wires the packages together: loaders feed the store, the store
feeds `graph` (projection and metrics) and `tagging` (features and rules), and the results go
back to the store as one run.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from graph.errors import RunNotFound
from graph.failpoints import failpoint
from graph.model import RunInfo
from graph.store import GraphStore, open_store
from loaders.generate import generate, write_dataset
from loaders.ingest import LoadReport, load_folder

Progress = Callable[[str, float], None]


def open_configured_store(uri: str, *, read_only: bool = False) -> GraphStore:
    """Open a store with credentials from settings (Neo4j) — the one door the edges use."""
    from api.settings import get_settings

    s = get_settings()
    pw = s.neo4j_password.get_secret_value() if s.neo4j_password else None
    return open_store(uri, read_only=read_only, neo4j_user=s.neo4j_user, neo4j_password=pw)


# --- data -----------------------------------------------------------------------------------
def generate_dataset(customers: int, *, seed: int, out: Path, fmt: str = "csv") -> dict:
    t0 = time.perf_counter()
    data = generate(customers, seed=seed)
    t1 = time.perf_counter()
    paths = write_dataset(data, out, fmt=fmt)
    t2 = time.perf_counter()
    rows = {name: t.num_rows for name, t in data.tables().items()}
    return {
        "out": str(out),
        "files": {k: str(v) for k, v in paths.items()},
        "rows": rows,
        "generate_s": round(t1 - t0, 3),
        "write_s": round(t2 - t1, 3),
    }


def load(
    store: GraphStore,
    folder: Path,
    *,
    quarantine_dir: Path | None = None,
    progress: Callable[[str, str], None] | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    pii_columns: Sequence[str] = (),
    quarantine_raw: bool = False,
) -> LoadReport:
    """Load a folder of contract tables (see `loaders.ingest.load_folder`).

    Raises
    ------
    MissingFile, MissingColumns, UnreadableFile, ConfigError, StoreError
    """
    return load_folder(
        store,
        folder,
        quarantine_dir=quarantine_dir,
        progress=progress,
        encoding=encoding,
        delimiter=delimiter,
        pii_columns=pii_columns,
        quarantine_raw=quarantine_raw,
    )


# --- runs -----------------------------------------------------------------------------------
def new_run_id(now: datetime) -> str:
    """Sortable by time to the microsecond, so two runs in one second keep their order."""
    stamp = now.strftime("%Y%m%dT%H%M%S%f")
    suffix = hashlib.sha1(now.isoformat().encode()).hexdigest()[:6]
    return f"r{stamp}-{suffix}"


def latest_run(store: GraphStore) -> RunInfo:
    """The newest run.

    Raises
    ------
    RunNotFound
        No analysis has been run on this store yet.
    """
    runs = store.list_runs()
    if not runs:
        raise RunNotFound(None)
    return runs[0]


def resolve_run(store: GraphStore, run_id: str | None) -> RunInfo:
    if run_id is None:
        return latest_run(store)
    for r in store.list_runs():
        if r.run_id == run_id:
            return r
    raise RunNotFound(run_id)


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


# --- reading results ----------------------------------------------------------------------
def influencers(
    store: GraphStore,
    *,
    limit: int,
    offset: int = 0,
    community_id: str | None = None,
    tag_id: str | None = None,
    run_id: str | None = None,
) -> tuple[RunInfo, pd.DataFrame]:
    run = resolve_run(store, run_id)
    df = store.top_influencers(
        run.run_id, limit=limit, offset=offset, community_id=community_id, tag_id=tag_id
    )
    return run, df.rename(columns={"influence": "score"})


def tag_coverage(store: GraphStore, *, run_id: str | None = None) -> pd.DataFrame:
    run = resolve_run(store, run_id)
    return store.read_catalog(run.run_id)


def customer_profile(
    store: GraphStore,
    customer_id: str,
    *,
    unmasked: bool = False,
    run_id: str | None = None,
    pii_columns: tuple[str, ...] | None = None,
) -> dict:
    """Attributes (PII masked unless `unmasked`), metrics and tags with reasons.

    The CLI is a viewer-level surface, so its profiles are masked like the API's: name, phone,
    id_number, the columns of ``GUANXI_PII_COLUMNS`` and those the store declares.

    Parameters
    ----------
    pii_columns
        Extra columns to mask besides the store's declaration; default from settings.

    Raises
    ------
    CustomerNotFound, RunNotFound
    """
    from api.masking import public_attributes, served_pii_columns

    if pii_columns is None:
        from api.settings import get_settings

        pii_columns = get_settings().pii_columns
    columns = served_pii_columns(store, pii_columns)
    attrs = store.get_customer(customer_id)
    profile: dict = {
        "customer_id": customer_id,
        "attributes": public_attributes(attrs, unmasked=unmasked, columns=columns),
    }
    runs = store.list_runs()
    if not runs:
        profile.update(run_id=None, metrics={}, tags=[])
        return profile
    run = resolve_run(store, run_id)
    m = store.read_metrics(run.run_id, customer_ids=[customer_id])
    profile["run_id"] = run.run_id
    profile["metrics"] = _jsonable(m.iloc[0].to_dict()) if len(m) else {}
    profile["community_id"] = profile["metrics"].get("community_id")
    tags = store.read_tags(run.run_id, customer_id=customer_id)
    profile["tags"] = [
        {"tag_id": r.tag_id, "score": float(r.score), "reason": r.reason} for r in tags.itertuples()
    ]
    return profile


def _jsonable(d: dict) -> dict:
    out = {}
    for k, v in d.items():
        if hasattr(v, "item"):
            v = v.item()
        if isinstance(v, float) and v != v:
            v = None
        out[k] = v
    return out


def segment(
    store: GraphStore, expr: str, *, run_id: str | None = None
) -> tuple[RunInfo, list[str]]:
    """Customers whose tags satisfy a boolean tag expression, in id order.

    Raises
    ------
    RuleError
        The expression does not parse (the message names the position).
    """
    from tagging import evaluate_segment, parse_segment

    tree = parse_segment(expr)  # parse before touching the store
    run = resolve_run(store, run_id)
    assignments = store.read_tags(run.run_id)
    known = store.read_catalog(run.run_id)["tag_id"]
    members = evaluate_segment(
        tree, assignments, all_customer_ids=store.customer_ids().to_pylist(), known_tags=known
    )
    return run, sorted(str(c) for c in members)


def tags_diff(store: GraphStore, run_a: str, run_b: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    from tagging import diff_assignments

    resolve_run(store, run_a)
    resolve_run(store, run_b)
    return diff_assignments(store.read_tags(run_a), store.read_tags(run_b))


def export_metrics(store: GraphStore, out: Path, *, run_id: str | None = None) -> int:
    run = resolve_run(store, run_id)
    df = store.read_metrics(run.run_id)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".parquet":
        df.to_parquet(out, index=False)
    elif out.suffix == ".csv":
        df.to_csv(out, index=False)
    else:
        from graph.errors import ConfigError

        raise ConfigError(f"{out}: use a .csv or .parquet file name")
    return len(df)


def open_default(uri: str | None) -> GraphStore:
    from api.settings import get_settings

    return open_configured_store(uri or get_settings().store)


__all__ = [
    "analyze",
    "customer_profile",
    "export_metrics",
    "generate_dataset",
    "influencers",
    "latest_run",
    "load",
    "open_configured_store",
    "open_default",
    "segment",
    "tag_coverage",
    "tags_diff",
]
