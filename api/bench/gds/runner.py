"""Run the GDS benchmark: start or reach a Neo4j with GDS, prepare the data, compare.

What it holds: :func:`run_gds_bench`, which owns the server (a local one on free ports, or
the one at ``store_uri``), the store and the clean-up of the GDS graphs and weighted edges.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import socket
from pathlib import Path
from typing import Any, cast
from urllib.parse import urlparse

import psutil

from api.bench.gds.compare import compare
from api.bench.gds.data import ensure_data, ensure_loaded
from api.bench.gds.params import (
    BETWEENNESS_SAMPLES,
    DAMPING,
    G_NAT,
    G_UND,
    PAGERANK_MAX_ITERATIONS,
    PAGERANK_TOLERANCE,
    RESOLUTION,
)
from api.bench.gds.table import gds_table
from api.settings import Neo4jSettings, get_settings
from graph.store.neo4j import Neo4jStore
from graph.store.neo4j.gds import Gds


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _local_server_pid(uri: str) -> int | None:
    """Pid of the process listening on the URI's port, when that is this machine."""
    parsed = urlparse(uri)
    if parsed.hostname not in ("localhost", "127.0.0.1", "::1"):
        return None
    port = parsed.port or 7687
    with contextlib.suppress(psutil.Error, OSError):
        for c in psutil.net_connections(kind="tcp"):
            if c.status == psutil.CONN_LISTEN and c.laddr and c.laddr.port == port and c.pid:
                return int(c.pid)
    return None


def run_gds_bench(
    *,
    customers: int,
    store_uri: str | None,
    workdir: Path,
    seed: int = 42,
    console: Any = None,
    full_analyze: bool = True,
    concurrency: int | None = None,
    repeats: int = 2,
    neo4j: Neo4jSettings | None = None,
) -> dict:
    """Time guanxi and Neo4j GDS on the same weighted graph from the same Neo4j store.

    Parameters
    ----------
    customers
        Size of the generated data set (seed 7).
    store_uri
        ``bolt://...`` of a running Neo4j with GDS (credentials from `neo4j`); the data is
        loaded only if the store holds no customers.
        ``None`` starts a local server with GDS in ``workdir/neo4j`` on free ports (and
        stops it at the end), loading the generated data unless it holds it already.
    workdir
        Scratch folder: ``data/`` (generated input, reused when it matches), ``neo4j/``.
    seed
        Seed of Leiden (both sides) and of the betweenness pivots (both sides).
    console
        A rich Console for progress and the table (default: stderr).
    full_analyze
        Also time the complete ``api.usecases.analyze`` (writes a run into the store).
    concurrency
        ``concurrency`` passed to every GDS procedure (default: the server's default).
    repeats
        Runs of each side (alternating GDS, guanxi); the fastest run of each side is
        reported, so GDS is measured with a warm JVM (its first call of each procedure
        loads and compiles code) and both sides read a warm page cache. Every run's total
        and the first run's per-measure times are kept in ``runs``.
    neo4j
        The Neo4j settings (default: the process's): credentials and database of
        `store_uri`, and the heap and page cache of a local server when they were set
        (unset: sized for `customers`).

    Returns
    -------
    dict
        ``guanxi_total_s``, ``gds_total_s``, ``ratio`` (guanxi / GDS), ``pagerank_spearman``,
        ``modularity_guanxi``, ``modularity_gds``, ``top100_overlap``, per-measure seconds
        in ``guanxi_s`` / ``gds_s``, ``memory_mb``, ``guanxi_full_analyze_s``, further
        agreement figures in ``agreement``, and the machine's load average.

    Raises
    ------
    StoreUnavailable, StoreError, ConfigError
        The server cannot be started or reached, lacks GDS, or a statement failed.
    """
    from rich.console import Console

    from graph.errors import ConfigError, StoreUnavailable
    from graph.store import NEO4J_SCHEMES, neo4j_local, open_store

    neo4j = neo4j or get_settings().neo4j

    console = console or Console(stderr=True)
    say = lambda msg: console.print(f"[bold]bench gds[/bold] {msg}")  # noqa: E731
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    data_dir = workdir / "data"
    result: dict[str, Any] = {
        "customers": int(customers),
        "seed": int(seed),
        "machine": {"cpus": os.cpu_count(), "loadavg_start": list(os.getloadavg())},
        "params": {
            "damping": DAMPING,
            "resolution": RESOLUTION,
            "betweenness_samples": BETWEENNESS_SAMPLES,
            "pagerank_tolerance_gds": PAGERANK_TOLERANCE,
            "pagerank_max_iterations_gds": PAGERANK_MAX_ITERATIONS,
            "gds_concurrency": concurrency,
        },
    }

    if store_uri is not None and not store_uri.startswith(NEO4J_SCHEMES):
        raise ConfigError(
            f"--peer gds compares on a Neo4j store; {store_uri!r} is not a bolt:// or neo4j:// "
            "URI (leave --store out to start a local Neo4j with GDS)"
        )
    own_server = store_uri is None
    server_dir = workdir / "neo4j"
    try:
        if own_server:
            say(f"starting a local Neo4j with GDS in {server_dir}")
            chosen = neo4j.model_fields_set
            heap = neo4j.heap if "heap" in chosen else "8g" if customers >= 500_000 else "4g"
            page = (
                neo4j.pagecache if "pagecache" in chosen else "2g" if customers >= 500_000 else "1g"
            )
            info = neo4j_local.start(
                server_dir,
                bolt_port=_free_port(),
                http_port=_free_port(),
                gds=True,
                heap=heap,
                pagecache=page,
            )
            uri, user, password = info["bolt_uri"], info["user"], info["password"]
            server_pid = info.get("pid")
            result["server"] = {
                "local": True,
                "heap": heap,
                "pagecache": page,
                "startup_s": info.get("startup_seconds"),
            }
        else:
            uri = store_uri
            user = neo4j.user
            password = neo4j.password_value() or ""
            if not password:
                raise StoreUnavailable(f"no password for Neo4j at {uri}; set NEO4J_PASSWORD")
            server_pid = _local_server_pid(uri)
            result["server"] = {"local": False, "uri": uri}
        result["server"]["pid_known"] = server_pid is not None

        options = dataclasses.replace(neo4j.store_options(), user=user, password=password)
        store = open_store(uri, neo4j=options)
        # the GDS calls go through the store's own connection and statement registry
        gds = Gds(cast(Neo4jStore, store))
        try:
            try:
                result["gds_version"] = gds.version()
            except Exception as exc:
                raise ConfigError(
                    f"the Neo4j server at {uri} has no Graph Data Science library "
                    f"(`guanxi neo4j local start --gds` starts one that has): {exc}"
                ) from exc
            if own_server or store.counts().get("customers", 0) == 0:
                result["data"] = ensure_data(customers, data_dir, say)
                result["data"].update(
                    ensure_loaded(store, customers, data_dir, own_server=own_server, say=say)
                )
            result.update(
                compare(
                    gds,
                    store,
                    server_pid=server_pid,
                    seed=seed,
                    concurrency=concurrency,
                    full_analyze=full_analyze,
                    repeats=max(1, int(repeats)),
                    say=say,
                )
            )
        finally:
            with contextlib.suppress(Exception):
                gds.drop_graphs([G_NAT, G_UND])
            with contextlib.suppress(Exception):
                gds.remove_weighted()
            store.close()
    finally:
        if own_server:
            say("stopping the local Neo4j")
            neo4j_local.stop(server_dir)
    result["machine"]["loadavg_end"] = list(os.getloadavg())
    console.print(gds_table(result))
    return result
