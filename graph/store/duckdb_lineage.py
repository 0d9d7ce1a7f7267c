"""Community lineage and membership in the DuckDB store (the SQL of `DuckDBStore`'s methods).

A run's lineage rows (what happened to the previous run's communities) live in
``community_lineage``, keyed by run id and position; they are written while the run is
incomplete and deleted with it when it never gets published, like its metrics.
"""

from __future__ import annotations

import duckdb
import pandas as pd
import pyarrow as pa

from graph.store.lineage_rows import LINEAGE_FIELDS, empty_lineage, typed_lineage

__all__ = ["LINEAGE_DDL", "insert_lineage", "lineage_frame", "membership_frame"]

LINEAGE_DDL = (
    "CREATE TABLE IF NOT EXISTS community_lineage (run_id VARCHAR, seq BIGINT, event VARCHAR, "
    "from_ids VARCHAR[], to_ids VARCHAR[], from_sizes BIGINT[], to_sizes BIGINT[], "
    "shared BIGINT, jaccard DOUBLE)"
)

_SCHEMA = pa.schema(
    [
        ("run_id", pa.string()),
        ("seq", pa.int64()),
        ("event", pa.string()),
        ("from_ids", pa.list_(pa.string())),
        ("to_ids", pa.list_(pa.string())),
        ("from_sizes", pa.list_(pa.int64())),
        ("to_sizes", pa.list_(pa.int64())),
        ("shared", pa.int64()),
        ("jaccard", pa.float64()),
    ]
)


def insert_lineage(con: duckdb.DuckDBPyConnection, run_id: str, lineage: pd.DataFrame) -> None:
    """Replace the lineage rows of ``run_id`` (inside the caller's transaction)."""
    rows = typed_lineage(lineage)
    rows.insert(0, "seq", range(len(rows)))
    rows.insert(0, "run_id", run_id)
    con.execute("DELETE FROM community_lineage WHERE run_id = ?", [run_id])
    if rows.empty:  # a run without communities (no customers) has no lineage
        return
    con.register("_lineage", pa.Table.from_pandas(rows, schema=_SCHEMA, preserve_index=False))
    try:
        con.execute("INSERT INTO community_lineage SELECT * FROM _lineage")
    finally:
        con.unregister("_lineage")


def lineage_frame(con: duckdb.DuckDBPyConnection, run_id: str, *, has_table: bool) -> pd.DataFrame:
    """The lineage rows of ``run_id`` in their order (lists as Python lists)."""
    if not has_table:
        return empty_lineage()
    rows = con.execute(
        "SELECT event, from_ids, to_ids, from_sizes, to_sizes, shared, jaccard "
        "FROM community_lineage WHERE run_id = ? ORDER BY seq",
        [run_id],
    ).fetchall()
    return typed_lineage(pd.DataFrame(rows, columns=list(LINEAGE_FIELDS)))


def membership_frame(con: duckdb.DuckDBPyConnection, run_id: str) -> pd.DataFrame:
    """Every customer of ``run_id`` with its community id, by customer id."""
    return con.execute(
        "SELECT customer_id, community_id FROM metrics WHERE run_id = ? ORDER BY customer_id",
        [run_id],
    ).df()
