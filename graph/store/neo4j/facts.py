"""The columnar half of the Neo4j store: transactions, events and tag assignments in DuckDB.

Why beside Neo4j and not in it: nothing in Browser walks a transaction or an event (an
analyst explores customers, their relations, communities and tags), while analysis reads
them all, every run, as columns. As nodes they were most of the graph (many per
customer) and tagging read every one back through Bolt, a Python value per cell; a DuckDB
file reads them as Arrow without a copy. Every tag assignment of a run (several per
customer) lives here too, for the same reason: ``read_tags``, ``scan_tags`` and segments read
whole runs, and one ``HAS_TAG`` relationship per assignment was most of the write-back. The
graph keeps what exploration needs (`graph.store.neo4j.runs`): ``c.tags``, labels, and
``HAS_TAG`` for the graph's tag categories.

The file is a `graph.store.duckdb_store.DuckDBStore` (its natural-key upserts, reads and tag
tables are the DuckDB store's own code, so both stores give the same answers; its other
tables stay empty), opened for
one operation at a time: DuckDB lets one process write a file, and ``guanxi serve`` and
``guanxi load`` may both use the store; an open that finds the file locked waits for it.

Where: a setting (``GUANXI_NEO4J_FACTS``), else :func:`facts_path_for` the server's data
directory (inside the local server's ``--dir``) when that directory is on this machine.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pyarrow as pa

from graph.errors import StoreUnavailable
from graph.store.base import UpsertCounts

__all__ = ["FACT_TABLES", "Facts", "facts_path_for"]

#: The contract tables kept in the facts file rather than in the graph.
FACT_TABLES = ("transactions", "events")
#: How long an open waits for another process's hold on the file.
LOCK_WAIT_SECONDS = 60.0


def facts_path_for(data_dir: str | os.PathLike[str]) -> Path:
    """The default facts file of a Neo4j server whose data directory is `data_dir`.

    Inside the data directory, so a local server's folder holds both halves of its store;
    ``neo4j-admin database import`` replaces only the database's own folders beside it.
    """
    return Path(data_dir) / "guanxi" / "facts.duckdb"


class Facts:
    """The facts file of one Neo4j store (see the module docstring).

    Parameters
    ----------
    path
        The DuckDB file; created with its folder on first write.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    @contextmanager
    def _open(self, *, write: bool) -> Iterator:
        """The file as a DuckDB store for one operation; None for a read before any write."""
        from graph.store.duckdb_store import DuckDBStore

        if not write and not self.path.exists():
            yield None
            return
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
        while True:
            try:
                db = DuckDBStore(self.path)
                break
            except StoreUnavailable as exc:
                if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                    raise StoreUnavailable(
                        f"facts file {self.path} of the Neo4j store: {exc}; set "
                        "GUANXI_NEO4J_FACTS to a writable file if this one is not"
                    ) from exc
                time.sleep(0.2)
        try:
            yield db
        finally:
            db.close()

    def upsert_rows(self, name: str, table: pa.Table) -> UpsertCounts:
        """Insert the transactions or events whose natural key is new (one transaction)."""
        with self._open(write=True) as db:
            return db.upsert_rows(name, table)

    def read_table(self, name: str, columns: Sequence[str]) -> pa.Table:
        with self._open(write=False) as db:
            if db is None:
                from graph.model import SCHEMAS

                return SCHEMAS[name].empty_table().select(list(columns))
            return db.read_table(name, columns)

    def counts(self) -> dict[str, int]:
        """Rows of `FACT_TABLES`."""
        with self._open(write=False) as db:
            if db is None:
                return dict.fromkeys(FACT_TABLES, 0)
            got = db.counts()
            return {t: got[t] for t in FACT_TABLES}

    def replace_tags(self, run_id: str, assignments: pd.DataFrame, catalog: pd.DataFrame) -> None:
        """Replace a run's assignments (one transaction); an empty frame deletes them."""
        with self._open(write=True) as db:
            db.write_tags(run_id, assignments, catalog)

    def read_tags(
        self,
        run_id: str,
        *,
        customer_id: str | None = None,
        tag_id: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> pd.DataFrame:
        """A run's assignments in the DuckDB store's order (score, customer, tag)."""
        with self._open(write=True) as db:  # read-write: the tag tables exist even if empty
            return db.read_tags(
                run_id, customer_id=customer_id, tag_id=tag_id, limit=limit, offset=offset
            )

    def clear(self) -> None:
        """Delete the file (tests, benchmarks, a full refresh)."""
        for p in (self.path, self.path.with_name(self.path.name + ".wal")):
            p.unlink(missing_ok=True)
