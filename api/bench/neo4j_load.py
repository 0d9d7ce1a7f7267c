"""Neo4j benchmark: load, projection and write-back of a generated dataset through the driver.

Why: the Neo4j store must stay usable at bank scale; this measures what the issue asks for —
load rows/s (target >= 50,000 relations/s), the projection read, the write-back of a run, and
the peak RSS of this process and of the server (psutil on the server pid).
"""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

import psutil

from api.bench.peak_rss import PeakRss
from graph.model import PROJECTION_COLUMNS
from graph.store import Neo4jOptions


def _say(msg: str) -> None:
    """Each stage's figures as soon as they exist: a long run cut short still reports them."""
    print(f"bench neo4j: {msg}", file=sys.stderr, flush=True)


def run_neo4j_bench(
    data_dir: Path,
    *,
    bolt_uri: str,
    options: Neo4jOptions,
    server_pid: int | None = None,
    server_dir: Path | None = None,
    clear: bool = True,
    load: bool = True,
    batch_size: int | None = None,
    analyze: bool = True,
    seed: int = 7,
) -> dict:
    """Load `data_dir` into Neo4j, project it and analyse it, timing each stage.

    Parameters
    ----------
    data_dir
        A folder of the four input files (e.g. from ``guanxi generate``).
    bolt_uri, options
        The server, and the credentials and batch sizes to open the store with.
    server_pid, server_dir
        The server's pid, or the ``neo4j_local`` directory to read it from with ``status``;
        without either, the server's RSS is not reported.
    load
        Load ``data_dir`` (False: time projection and analysis of what the store holds).
    clear
        Empty the database first (``MATCH (n) DETACH DELETE n`` in batches).
    batch_size
        Rows per write transaction (default: ``options.batch_size``).
    analyze
        Also run ``analyze`` (projection, metrics, tagging, write-back).

    Returns
    -------
    dict
        ``rows``, ``load_s``, ``rows_per_s`` and ``relations_per_s`` (per table seconds in
        ``load_tables_s``), ``projection_s``, ``analyze`` timings
        (``persist_metrics`` + ``persist_tags`` = write-back), ``peak_rss_mb`` of ``python``
        and ``server``.

    Raises
    ------
    StoreUnavailable, StoreError, LoaderError
    """
    from api import usecases
    from graph.store import open_store
    from loaders.ingest import load_folder

    if server_pid is None and server_dir is not None:
        from graph.store import neo4j_local

        server_pid = neo4j_local.status(Path(server_dir)).get("pid")
    opts = dataclasses.replace(options, batch_size=batch_size) if batch_size else options
    out: dict = {"data_dir": str(data_dir), "bolt_uri": bolt_uri}
    stamps: dict[str, float] = {}

    def progress(stage: str, detail: str) -> None:
        stamps[detail.split(":")[0]] = time.perf_counter()

    with (
        PeakRss({"python": psutil.Process().pid, "server": server_pid}, interval=0.2) as rss,
        open_store(bolt_uri, neo4j=opts) as store,
    ):
        if clear and load:
            t = time.perf_counter()
            store.clear()
            out["clear_s"] = round(time.perf_counter() - t, 2)
        if load:
            t = time.perf_counter()
            report = load_folder(
                store, data_dir, quarantine_dir=Path(data_dir) / "quarantine", progress=progress
            )
            end = time.perf_counter()
            out["load_s"] = round(end - t, 2)
            rows = {k: v.loaded for k, v in report.tables.items()}
            out["rows"] = rows
            out["rows_per_s"] = round(sum(rows.values()) / (end - t))
            order = ["customers", "relations", "transactions", "events"]
            marks = [stamps.get(n) for n in order] + [end]
            per = {}
            for i, n in enumerate(order):
                if marks[i] is not None and marks[i + 1] is not None:
                    per[n] = round(marks[i + 1] - marks[i], 2)
            out["load_tables_s"] = per
            if per.get("relations"):
                out["relations_per_s"] = round(rows["relations"] / per["relations"])
            _say(f"load {out['load_s']} s, {out['rows_per_s']:,} rows/s, per table {per}")

        t = time.perf_counter()
        ids = store.customer_ids()
        rel = store.read_table("relations", list(PROJECTION_COLUMNS))
        out["projection_s"] = round(time.perf_counter() - t, 2)
        out["projection_rows"] = rel.num_rows
        out["projection_rows_per_s"] = round(rel.num_rows / max(out["projection_s"], 1e-9))
        _say(f"projection {out['projection_s']} s, {out['projection_rows_per_s']:,} rows/s")
        del rel, ids

        if analyze:
            res = usecases.analyze(store, seed=seed)
            out["analyze"] = res.timings
            out["write_back_s"] = round(
                res.timings.get("persist_metrics", 0) + res.timings.get("persist_tags", 0), 2
            )
    out["peak_rss_mb"] = {k: round(v / 2**20) for k, v in rss.peak.items()}
    return out
