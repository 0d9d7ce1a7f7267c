"""Store selection: `open_store(uri)` picks the implementation from the URI scheme.

- ``duckdb:///path/to/file.duckdb`` (or a bare path ending in .duckdb): embedded DuckDB file.
- ``neo4j://``, ``neo4j+s://``, ``bolt://``, ``bolt+s://``: a Neo4j server.
"""

from __future__ import annotations

from pathlib import Path

from graph.errors import ConfigError
from graph.store.base import (
    EgoNetwork,
    GraphStore,
    IngestSink,
    Maintenance,
    QueryService,
    RunRepository,
    TableSource,
    TagScanner,
    UpsertCounts,
)
from graph.store.options import Neo4jOptions

DEFAULT_STORE_URI = "duckdb:///./guanxi.duckdb"
NEO4J_SCHEMES = ("neo4j://", "neo4j+s://", "neo4j+ssc://", "bolt://", "bolt+s://", "bolt+ssc://")

__all__ = [
    "DEFAULT_STORE_URI",
    "EgoNetwork",
    "GraphStore",
    "IngestSink",
    "Maintenance",
    "Neo4jOptions",
    "QueryService",
    "RunRepository",
    "TableSource",
    "TagScanner",
    "UpsertCounts",
    "open_store",
]


def duckdb_path(uri: str) -> Path:
    """The file path of a duckdb:// URI (``duckdb:///abs`` or ``duckdb:///./rel``)."""
    if uri.startswith("duckdb://"):
        rest = uri[len("duckdb://") :]
        # duckdb:///abs/path -> /abs/path ; duckdb:///./rel -> ./rel
        if rest.startswith("/./") or rest.startswith("/../"):
            rest = rest[1:]
        return Path(rest)
    return Path(uri)


def open_store(
    uri: str,
    *,
    read_only: bool = False,
    neo4j: Neo4jOptions | None = None,
) -> GraphStore:
    """Open the store a URI names; `neo4j` carries credentials and batch sizes for Neo4j.

    Raises
    ------
    ConfigError
        The URI names no known store.
    StoreUnavailable
        The store exists but cannot be opened or reached.
    """
    if uri.startswith(NEO4J_SCHEMES):
        from graph.store.neo4j import Neo4jStore

        opts = neo4j or Neo4jOptions()
        return Neo4jStore(
            uri,
            user=opts.user,
            password=opts.password,
            database=opts.database,
            batch_size=opts.batch_size,
            history_runs=opts.history_runs,
            read_chunk=opts.read_chunk,
            facts=opts.facts,
            graph_tags=opts.graph_tags,
        )
    if uri.startswith("duckdb://") or uri.endswith(".duckdb"):
        from graph.store.duckdb_store import DuckDBStore

        return DuckDBStore(duckdb_path(uri), read_only=read_only, uri=uri)
    raise ConfigError(
        f"unknown store URI {uri!r}; use duckdb:///path/to/file.duckdb or bolt://host:7687"
    )
