"""Persist a Spark run: Parquet written by the executors, then the run registered in a store.

Layout under ``<out_dir>/<run_id>/``: ``metrics/``, ``communities/``, ``tag_assignments/``,
``quarantine/``, ``input/<table>/`` (the validated input; Parquet part files, one folder per
table, as Spark writes them),
``tag_definitions.parquet`` (the catalog rows, a few hundred at most) and ``run.json``. The
folder is the run's output on the cluster and needs nothing from the store.

Registering it in the store goes through the store's own run methods
(:func:`api.engines.base.persist_run`: ``write_run``, ``write_tags``, ``publish_run``), so the
run is crash-safe and every read command sees it as it sees a local run. A DuckDB store
with a local ``out_dir`` reads the run's Parquet itself (``write_run_parquet``,
``write_tags_parquet``: ``INSERT ... SELECT FROM read_parquet``), so no result table passes
through this process. Otherwise those methods take tables and the Parquet is read back:
with a local ``out_dir`` by ``pyarrow.parquet`` straight from the files (the Spark
driver's JVM holds none of it); with a cluster URI through Spark's Arrow transfer. The
validated input tables are upserted through the store's load path either way (a DuckDB
store with a local ``out_dir`` scans their part files).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from api.engines.base import MetricsResult, TagsResult, persist_run
from graph.model import RunInfo
from graph.store import GraphStore
from graph.store.duckdb_store import DuckDBStore

__all__ = ["persist_spark_run", "run_folder"]


def run_folder(out_dir: str, run_id: str) -> str:
    """``<out_dir>/<run_id>``, the run's output folder (a path or a URI)."""
    return f"{out_dir.rstrip('/')}/{run_id}"


def _local_path(uri: str) -> Path | None:
    """The local path of ``uri`` (a path or ``file:``), None for a cluster file system."""
    parsed = urlparse(uri)
    if parsed.scheme in ("", "file"):
        return Path(parsed.path if parsed.scheme else uri)
    return None


def _read_arrow(df: Any, uri: str) -> pa.Table:
    """The written table as Arrow: from the files when local, else through Spark's Arrow."""
    local = _local_path(uri)
    if local is not None:
        return pq.read_table(local)
    return df.sparkSession.read.parquet(uri).toArrow()


def _read_back(df: Any, uri: str) -> pd.DataFrame:
    """The written table as pandas (what the store's run methods take)."""
    return _read_arrow(df, uri).to_pandas()


def persist_spark_run(
    store: GraphStore,
    run: RunInfo,
    *,
    out_dir: str,
    metrics: MetricsResult | None,
    tags: TagsResult,
    quarantine: Any = None,
    inputs: dict[str, Any] | None = None,
) -> dict[str, float]:
    """Write the run's Parquet, then register it in ``store`` (see the module docstring).

    ``inputs`` (the validated tables) are written under ``input/`` and upserted into the
    store first, because the read commands (``customer``, ``segment``, profiles) read
    customers, transactions and events from it; the store's upsert keeps one row per
    natural key, as a load does.

    Returns
    -------
    dict
        Seconds spent in ``write_parquet`` and the store's ``persist_*`` / ``publish`` steps.
    """
    from pyspark.sql import functions as F

    timings: dict[str, float] = {}
    t = time.perf_counter()
    folder = run_folder(out_dir, run.run_id)
    parts: dict[str, Any] = {"tag_assignments": tags.assignments}
    if metrics is not None:
        parts["metrics"] = metrics.metrics.orderBy("customer_id")
        parts["communities"] = metrics.communities.orderBy("community_id")
    if quarantine is not None:
        parts["quarantine"] = quarantine
    for name, df in parts.items():
        df.write.mode("overwrite").parquet(f"{folder}/{name}")
    record = json.dumps(
        {
            "run_id": run.run_id,
            "created_at": run.created_at,
            "params": run.params,
            "input_counts": run.input_counts,
            "stats": run.stats,
        },
        default=str,
        indent=2,
    )
    local = _local_path(folder)
    if local is not None:
        tags.definitions.to_parquet(local / "tag_definitions.parquet", index=False)
        (local / "run.json").write_text(record)
    else:  # a cluster file system: one small file each, written through Spark
        spark = tags.assignments.sparkSession
        defs = spark.createDataFrame(tags.definitions).coalesce(1)
        defs.write.mode("overwrite").parquet(f"{folder}/tag_definitions.parquet")
        one = spark.createDataFrame([(record,)], "value string").coalesce(1)
        one.write.mode("overwrite").text(f"{folder}/run.json")

    for name, df in (inputs or {}).items():
        # _pos: the row's place, which the store's upsert orders a key's rows by (the input
        # holds one row per key); unique, so a DuckDB store can scan the files as they are
        df.withColumn("_pos", F.monotonically_increasing_id()).write.mode("overwrite").parquet(
            f"{folder}/input/{name}"
        )
    timings["write_parquet"] = time.perf_counter() - t

    t = time.perf_counter()
    local_folder = _local_path(folder)
    in_duckdb = local_folder is not None and isinstance(store, DuckDBStore)
    for name in ("customers", "relations", "transactions", "events"):
        if name not in (inputs or {}):
            continue
        if in_duckdb:
            # DuckDB scans the part files: no input table passes through this process
            rows = ds.dataset(local_folder / "input" / name, format="parquet")
        else:
            rows = _read_arrow(inputs[name], f"{folder}/input/{name}").drop_columns(["_pos"])
        if name == "customers":
            store.upsert_customers(rows)
        else:
            store.upsert_rows(name, rows)
    timings["register_input"] = time.perf_counter() - t

    if in_duckdb:
        timings.update(_register_parquet(store, run, local_folder, metrics, tags))
        return timings
    # the quarantine stays in its Parquet (a load keeps it in files too, not in the store)
    read = {
        name: _read_back(df, f"{folder}/{name}")
        for name, df in parts.items()
        if name != "quarantine"
    }
    local_metrics = None
    if metrics is not None:
        local_metrics = MetricsResult(
            metrics=read["metrics"], communities=read["communities"], stats=metrics.stats
        )
    local_tags = TagsResult(assignments=read["tag_assignments"], definitions=tags.definitions)
    timings.update(persist_run(store, run, metrics=local_metrics, tags=local_tags))
    return timings


def _register_parquet(
    store: DuckDBStore,
    run: RunInfo,
    folder: Path,
    metrics: MetricsResult | None,
    tags: TagsResult,
) -> dict[str, float]:
    """:func:`api.engines.base.persist_run` with DuckDB reading the run's Parquet.

    No table passes through this process: ``write_run_parquet`` / ``write_tags_parquet``
    are ``INSERT ... SELECT FROM read_parquet(...)`` in the store's transaction, then the
    run is published as any other.
    """
    return persist_run(
        store,
        run,
        metrics=metrics,
        tags=tags,
        write_run=lambda: store.write_run_parquet(
            run, metrics=str(folder / "metrics"), communities=str(folder / "communities")
        ),
        write_tags=lambda: store.write_tags_parquet(
            run.run_id, str(folder / "tag_assignments"), tags.definitions
        ),
    )
