"""Set-based loads into the DuckDB store: each batch inserted with one anti-join.

A batch is inserted with one anti-join against the natural key (much faster than a
multi-column primary key with ON CONFLICT), so re-running a load inserts nothing.
Customers are the exception: a newer customers file updates the attributes of customers
already present (`DuckDBStore.upsert_customers`).

Within a batch, only rows whose natural key hashes like another row's go through
`DISTINCT ON`; the rest (nearly all) are unique by construction and are inserted as they
are, and the anti-join is left out while the table is empty: a first load runs faster and
needs far less memory than one `DISTINCT ON` over the whole batch.

The functions take the caller's cursor, inside the caller's transaction, with the batch
registered as the view ``_batch`` (see :func:`positioned`).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.dataset as ds

from graph.model import NATURAL_KEYS, SCHEMAS

__all__ = ["insert_new_keys", "is_empty", "positioned", "unordered"]


def positioned(
    con: duckdb.DuckDBPyConnection, rows: pa.Table | ds.Dataset
) -> pa.Table | ds.Dataset | duckdb.DuckDBPyRelation:
    """`rows` plus `_pos`, each row's place in it (the other columns are not copied).

    A dataset (the loader's spooled batches, a Spark run's validated input) carries its
    `_pos` already. One of Parquet files is scanned by DuckDB's own reader: through
    Arrow's dataset scanner the batches pass through this process's Arrow memory pool,
    which keeps what it allocated, so the process's peak would grow with the table.
    """
    if "_pos" in rows.schema.names:
        if isinstance(rows, ds.FileSystemDataset) and rows.format.default_extname == "parquet":
            return con.read_parquet(list(rows.files))
        return rows
    return rows.append_column("_pos", pa.array(np.arange(rows.num_rows, dtype=np.int64)))


@contextmanager
def unordered(con: duckdb.DuckDBPyConnection) -> Iterator[None]:
    """Let bulk inserts write rows in any order, as they are stored in no particular order.

    With insertion order kept, DuckDB writes a parallel insert as row groups that the next
    checkpoint rewrites. The setting is put back afterwards.
    """
    before = con.execute("SELECT current_setting('preserve_insertion_order')").fetchall()[0][0]
    con.execute("SET preserve_insertion_order = false")
    try:
        yield
    finally:
        con.execute(f"SET preserve_insertion_order = {'true' if before else 'false'}")


def is_empty(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether table `name` has no row (read without counting them all)."""
    q = f"SELECT count(*) FROM (SELECT 1 FROM {name} LIMIT 1)"
    return con.execute(q).fetchall()[0][0] == 0


def _repeated_key_hashes(con: duckdb.DuckDBPyConnection, key: Sequence[str]) -> pa.Table:
    """Hashes of the natural key that occur on more than one row of `_batch`.

    A row whose key hash occurs once has a key no other row has, so only the rows with a
    repeated hash (a few percent) need `DISTINCT ON`. Sorting the hashes in numpy is cheaper
    than a DuckDB GROUP BY over all of them.
    """
    keylist = ", ".join(f'"{k}"' for k in key)
    col = con.sql(f"SELECT hash({keylist}) AS h FROM _batch").to_arrow_table().column(0)
    h = np.sort(col.to_numpy())
    repeated = np.unique(h[1:][h[1:] == h[:-1]])
    return pa.table({"h": pa.array(repeated, pa.uint64())})


def insert_new_keys(con: duckdb.DuckDBPyConnection, name: str) -> int:
    """Insert the rows of `_batch` whose natural key the table lacks, one row per key."""
    collist = ", ".join(f'"{c}"' for c in SCHEMAS[name].names)
    key = NATURAL_KEYS[name]
    keylist = ", ".join(f'"{k}"' for k in key)
    bkeys = ", ".join(f'b."{k}"' for k in key)
    on = " AND ".join(f't."{k}" IS NOT DISTINCT FROM b."{k}"' for k in key)
    conditions = []
    if not is_empty(con, name):
        # first, so that the stored table stays the build side of this anti-join
        conditions.append(f"NOT EXISTS (SELECT 1 FROM {name} AS t WHERE {on})")
    repeated = _repeated_key_hashes(con, key)
    if repeated.num_rows == 0:
        where = f" WHERE {conditions[0]}" if conditions else ""
        q = f"INSERT INTO {name} ({collist}) SELECT {collist} FROM _batch AS b{where}"
        return int(con.execute(q).fetchall()[0][0])
    in_repeated = f"hash({bkeys}) IN (SELECT h FROM _repeated)"
    once = " AND ".join([*conditions, f"NOT {in_repeated}"])
    shared = " AND ".join([*conditions, in_repeated])
    con.register("_repeated", repeated)
    try:
        inserted = con.execute(
            f"INSERT INTO {name} ({collist}) SELECT {collist} FROM _batch AS b WHERE {once}"
        ).fetchall()[0][0]
        # of the rows sharing a key, the batch's first is kept
        inserted += con.execute(
            f"INSERT INTO {name} ({collist}) SELECT DISTINCT ON ({keylist}) {collist} "
            f"FROM _batch AS b WHERE {shared} ORDER BY b._pos"
        ).fetchall()[0][0]
    finally:
        con.unregister("_repeated")
    return int(inserted)
