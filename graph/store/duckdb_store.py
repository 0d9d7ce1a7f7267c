"""The embedded store: one DuckDB file, no server. Every SQL string of the store lives here
and in `graph.store.duckdb_ingest` (the set-based loads: one anti-join per batch, so
re-running a load inserts nothing).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Self

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds

from graph.errors import CustomerNotFound, RunNotFound, StoreError, StoreUnavailable
from graph.failpoints import failpoint
from graph.model import DUCKDB_QUIET, SCHEMAS, TABLES, RunInfo
from graph.ranking import sql_influence_order
from graph.store.base import EgoNetwork, UpsertCounts
from graph.store.common import (
    assemble_ego_network,
    checked_columns,
    checked_page,
    checked_pii_columns,
)
from graph.store.duckdb_ingest import insert_new_keys, is_empty, positioned, unordered
from graph.store.duckdb_lineage import (
    LINEAGE_DDL,
    insert_lineage,
    lineage_frame,
    membership_frame,
)

_DUCK_TYPES = {
    pa.string(): "VARCHAR",
    pa.float64(): "DOUBLE",
    pa.int64(): "BIGINT",
    pa.int32(): "INTEGER",
    pa.bool_(): "BOOLEAN",
    pa.date32(): "DATE",
    pa.timestamp("us"): "TIMESTAMP",
}

_RUN_TABLES_DDL = """
CREATE TABLE IF NOT EXISTS runs (
    run_id VARCHAR PRIMARY KEY, created_at VARCHAR, params VARCHAR, input_counts VARCHAR,
    stats VARCHAR
);
CREATE TABLE IF NOT EXISTS communities (
    run_id VARCHAR, community_id VARCHAR, size BIGINT, density DOUBLE, internal_weight DOUBLE,
    external_weight DOUBLE, leader_id VARCHAR, leader_pagerank DOUBLE
);
CREATE TABLE IF NOT EXISTS tag_assignments (
    run_id VARCHAR, customer_id VARCHAR, tag_id VARCHAR, score DOUBLE, reason VARCHAR
);
CREATE TABLE IF NOT EXISTS tag_catalog (
    run_id VARCHAR, tag_id VARCHAR, name_zh VARCHAR, name_en VARCHAR, category VARCHAR,
    rule VARCHAR, customers BIGINT
);
"""


#: Rows per record batch of :meth:`DuckDBStore.select_batches`.
_STREAM_ROWS = 1 << 20


def _sql_text(text: str) -> str:
    """``text`` as a SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


# Store-wide settings that travel with the data (one row per key and value).
_META_DDL = "CREATE TABLE IF NOT EXISTS meta (key VARCHAR, value VARCHAR, PRIMARY KEY (key, value))"
_PII_KEY = "pii_column"


def _ddl(name: str) -> str:
    cols = ", ".join(f'"{f.name}" {_DUCK_TYPES[f.type]}' for f in SCHEMAS[name])
    return f"CREATE TABLE IF NOT EXISTS {name} ({cols})"


class DuckDBStore:
    """GraphStore over a DuckDB file; also `TagScanner` (it streams a run's tags).

    One connection per store; each thread gets its own cursor, so FastAPI's thread pool can
    read concurrently.
    """

    def __init__(self, path: Path, *, read_only: bool = False, uri: str | None = None) -> None:
        self.path = Path(path)
        self.uri = uri or f"duckdb:///{self.path}"
        self.read_only = read_only
        try:
            if not read_only:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            elif not self.path.exists():
                raise StoreUnavailable(
                    f"{self.path}: no store here yet; run `guanxi load` or `guanxi demo` first"
                )
            self._con = duckdb.connect(str(self.path), read_only=read_only)
            self._con.execute(DUCKDB_QUIET)
        except duckdb.Error as exc:
            raise StoreUnavailable(f"cannot open DuckDB store {self.path}: {exc}") from exc
        self._local = threading.local()
        if not read_only:
            self._create_schema()

    # --- plumbing -------------------------------------------------------------------------
    def _cur(self) -> duckdb.DuckDBPyConnection:
        cur = getattr(self._local, "cur", None)
        if cur is None:
            cur = self._con.cursor()
            self._local.cur = cur
        return cur

    def _create_schema(self) -> None:
        con = self._con
        for name in TABLES:
            con.execute(_ddl(name))
        con.execute(_RUN_TABLES_DDL)
        con.execute(LINEAGE_DDL)
        # runs written before crash safety have no flag; they were complete when written
        con.execute("ALTER TABLE runs ADD COLUMN IF NOT EXISTS complete BOOLEAN DEFAULT true")
        con.execute(_META_DDL)
        con.execute("CREATE UNIQUE INDEX IF NOT EXISTS customers_id_idx ON customers (customer_id)")

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _transaction(self, what: str, **frames: object) -> Iterator[None]:
        """Register `frames` as views, run the block in one transaction, always unregister.

        A DuckDB error rolls the transaction back and surfaces as StoreError naming `what`.
        """
        con = self._cur()
        for name, frame in frames.items():
            con.register(name, frame)
        try:
            con.execute("BEGIN")
            yield
            con.execute("COMMIT")
        except duckdb.Error as exc:
            con.execute("ROLLBACK")
            raise StoreError(f"{what} failed: {exc}") from exc
        finally:
            for name in frames:
                con.unregister(name)

    def _has_table(self, name: str) -> bool:
        q = "SELECT count(*) FROM information_schema.tables WHERE table_name = ?"
        return self._cur().execute(q, [name]).fetchall()[0][0] > 0

    # --- input tables ---------------------------------------------------------------------
    def customer_ids(self) -> pa.Array:
        tbl = self._cur().sql("SELECT customer_id FROM customers").to_arrow_table()
        return tbl.column(0).combine_chunks()

    def upsert_customers(self, table: pa.Table | ds.Dataset) -> UpsertCounts:
        con = self._cur()
        cols = SCHEMAS["customers"].names
        changed = " OR ".join(f'c."{c}" IS DISTINCT FROM b."{c}"' for c in cols[1:])
        sets = ", ".join(f'"{c}" = b."{c}"' for c in cols[1:])
        batch = positioned(con, table)
        with unordered(con), self._transaction("writing customers", _batch=batch):
            updated = 0
            if not is_empty(con, "customers"):
                updated = con.execute(
                    f"UPDATE customers AS c SET {sets} FROM _batch AS b "
                    f"WHERE c.customer_id = b.customer_id AND ({changed})"
                ).fetchall()[0][0]
            inserted = insert_new_keys(con, "customers")
            failpoint("load.customers.batch")
        failpoint("load.customers.done")
        return UpsertCounts(inserted=int(inserted), updated=int(updated))

    def upsert_rows(self, name: str, table: pa.Table | ds.Dataset) -> UpsertCounts:
        if name not in ("relations", "transactions", "events"):
            raise ValueError(f"upsert_rows takes relations, transactions or events, not {name}")
        con = self._cur()
        with unordered(con), self._transaction(f"writing {name}", _batch=positioned(con, table)):
            inserted = insert_new_keys(con, name)
            failpoint(f"load.{name}.batch")
        failpoint(f"load.{name}.done")
        return UpsertCounts(inserted=inserted)

    def counts(self) -> dict[str, int]:
        con = self._cur()
        return {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in TABLES}

    def read_table(self, name: str, columns: Sequence[str] | None = None) -> pa.Table:
        cols = checked_columns(name, columns)
        collist = ", ".join(f'"{c}"' for c in cols)
        return self._cur().sql(f"SELECT {collist} FROM {name}").to_arrow_table()

    def limit_memory(self, limit: str) -> str:
        """Set DuckDB's memory budget (e.g. ``"1GB"``) for this store; returns the previous one.

        Beyond the budget DuckDB spills sorts, joins and aggregates to its temporary
        directory instead of growing, so a caller that holds large frames of its own
        (analyze) keeps the process's peak bounded.
        """
        con = self._cur()
        previous = con.execute("SELECT current_setting('memory_limit')").fetchall()[0][0]
        con.execute("SET memory_limit = ?", [limit])
        return str(previous)

    @contextmanager
    def _query(self, sql: str, frames: dict[str, object]) -> Iterator[duckdb.DuckDBPyRelation]:
        """`sql` as a relation, with `frames` registered as views while the block runs; a
        DuckDB error in it becomes a StoreError naming the statement's first line."""
        con = self._cur()
        for name, frame in frames.items():
            con.register(name, frame)
        try:
            yield con.sql(sql)
        except duckdb.Error as exc:
            head = sql.strip().splitlines()[0][:80] if sql.strip() else ""
            raise StoreError(f"query {head!r} failed: {exc}") from exc
        finally:
            for name in frames:
                con.unregister(name)

    @contextmanager
    def select_batches(self, sql: str, **frames: object) -> Iterator[pa.RecordBatchReader]:
        """As :meth:`select_arrow`, the rows streamed in record batches while the block runs.

        For a caller that turns a large result into columns of its own (the projection's
        relations): the result is never held whole, neither by DuckDB nor in Arrow.

        Raises
        ------
        StoreError
            The statement fails; the message names the first line of the statement.
        """
        with self._query(sql, frames) as rel:
            yield rel.fetch_record_batch(_STREAM_ROWS)

    def select_arrow(self, sql: str, **frames: object) -> pa.Table:
        """One read-only SELECT over the store's tables, and ``frames`` as views, in Arrow.

        Lets a caller aggregate the fact tables where they live (DuckDB spills to disk and
        reads only the columns it needs) instead of reading them whole into memory.

        Raises
        ------
        StoreError
            The statement fails; the message names the first line of the statement.
        """
        with self._query(sql, frames) as rel:
            return rel.to_arrow_table()

    # --- store metadata -------------------------------------------------------------------
    def declare_pii_columns(self, columns: Sequence[str]) -> None:
        names = checked_pii_columns(columns)
        if not names:
            return
        rows = pd.DataFrame({"key": _PII_KEY, "value": sorted(set(names))})
        with self._transaction("declaring PII columns", _pii=rows):
            self._cur().execute("INSERT OR IGNORE INTO meta SELECT key, value FROM _pii")

    def declared_pii_columns(self) -> tuple[str, ...]:
        # a store file written before the meta table existed, opened read-only, has none
        if not self._has_table("meta"):
            return ()
        q = "SELECT value FROM meta WHERE key = ? ORDER BY value"
        return tuple(r[0] for r in self._cur().execute(q, [_PII_KEY]).fetchall())

    # --- runs -----------------------------------------------------------------------------
    def write_run(self, run: RunInfo, *, metrics: pd.DataFrame, communities: pd.DataFrame) -> None:
        """Write a run's record (not yet complete), metrics and communities in one transaction.

        The run stays invisible to every reader until :meth:`publish_run`. What an earlier
        analyze left behind when it died between this and its publish (an incomplete run and
        its rows) is deleted in the same transaction, so leftovers never pile up.
        """
        self._write_run(
            run, metrics.assign(run_id=run.run_id), communities.assign(run_id=run.run_id)
        )

    def write_run_parquet(self, run: RunInfo, *, metrics: str, communities: str) -> None:
        """:meth:`write_run` from Parquet files (folders or globs) that DuckDB reads itself.

        Why: a Spark run's tables are Parquet already; reading them into Python to hand
        them back here would hold every row in this process twice. Same transaction, same
        incomplete record, same :meth:`publish_run` after.
        """
        self._write_run(
            run, self._parquet(metrics, run.run_id), self._parquet(communities, run.run_id)
        )

    def _parquet(self, path: str, run_id: str | None = None) -> duckdb.DuckDBPyRelation:
        """The Parquet at ``path`` (a folder means its ``*.parquet``), with ``run_id`` added."""
        glob = f"{path.rstrip('/')}/*.parquet" if Path(path).is_dir() else path
        tag = "" if run_id is None else ", " + _sql_text(run_id) + " AS run_id"
        return self._cur().sql(f"SELECT *{tag} FROM read_parquet({_sql_text(glob)})")

    def _write_run(self, run: RunInfo, m: object, c: object) -> None:
        con = self._cur()
        with self._transaction(f"writing run {run.run_id}", _m=m, _c=c):
            self._delete_incomplete_runs()
            if not self._has_table("metrics"):
                con.execute("CREATE TABLE metrics AS SELECT * FROM _m LIMIT 0")
                con.execute("CREATE INDEX metrics_run_idx ON metrics (run_id, customer_id)")
            else:
                have = {r[0] for r in con.execute("DESCRIBE metrics").fetchall()}
                # a newer version may compute more metrics: widen the table, keep old runs
                for col, dtype, *_ in con.execute("DESCRIBE SELECT * FROM _m").fetchall():
                    if col not in have:
                        con.execute(f'ALTER TABLE metrics ADD COLUMN "{col}" {dtype}')
            for t in ("metrics", "communities"):
                con.execute(f"DELETE FROM {t} WHERE run_id = ?", [run.run_id])
            con.execute("DELETE FROM runs WHERE run_id = ?", [run.run_id])
            con.execute("INSERT INTO metrics BY NAME SELECT * FROM _m")
            failpoint("analyze.metrics.batch")
            con.execute("INSERT INTO communities BY NAME SELECT * FROM _c")
            failpoint("analyze.communities.batch")
            con.execute(
                "INSERT INTO runs (run_id, created_at, params, input_counts, stats, complete) "
                "VALUES (?, ?, ?, ?, ?, false)",
                [
                    run.run_id,
                    run.created_at,
                    json.dumps(run.params, default=str),
                    json.dumps(run.input_counts),
                    json.dumps(run.stats, default=str),
                ],
            )

    def _delete_incomplete_runs(self) -> None:
        """Delete runs that were written but never published, with all their rows."""
        con = self._cur()
        dead = "SELECT run_id FROM runs WHERE NOT complete"
        for t in ("tag_assignments", "tag_catalog", "communities", "community_lineage"):
            con.execute(f"DELETE FROM {t} WHERE run_id IN ({dead})")
        if self._has_table("metrics"):
            con.execute(f"DELETE FROM metrics WHERE run_id IN ({dead})")
        con.execute("DELETE FROM runs WHERE NOT complete")

    def write_tags(self, run_id: str, assignments: pd.DataFrame, catalog: pd.DataFrame) -> None:
        """Replace a run's tag assignments and catalog in one transaction."""
        self._write_tags(run_id, assignments[["customer_id", "tag_id", "score", "reason"]], catalog)

    def write_tags_parquet(self, run_id: str, assignments: str, catalog: pd.DataFrame) -> None:
        """:meth:`write_tags` with the assignments read by DuckDB from Parquet (see
        :meth:`write_run_parquet`); the catalog is a few hundred rows."""
        rel = self._parquet(assignments).select("customer_id, tag_id, score, reason")
        self._write_tags(run_id, rel, catalog)

    def _write_tags(self, run_id: str, a: object, catalog: pd.DataFrame) -> None:
        con = self._cur()
        # the run id is added in SQL: a column of it beside millions of rows costs memory
        cat = catalog[["tag_id", "name_zh", "name_en", "category", "rule"]].assign(run_id=run_id)
        with self._transaction(f"writing tags of run {run_id}", _a=a, _cat=cat):
            con.execute("DELETE FROM tag_assignments WHERE run_id = ?", [run_id])
            con.execute("DELETE FROM tag_catalog WHERE run_id = ?", [run_id])
            # stored in customer order: a profile lookup then touches one row group (zonemaps)
            con.execute(
                "INSERT INTO tag_assignments BY NAME SELECT *, ?::VARCHAR AS run_id FROM _a "
                "ORDER BY customer_id",
                [run_id],
            )
            failpoint("analyze.tags.batch")
            con.execute(
                "INSERT INTO tag_catalog BY NAME SELECT k.*, coalesce(n.customers, 0) AS customers "
                "FROM _cat k LEFT JOIN (SELECT tag_id, count(*) AS customers FROM _a "
                "GROUP BY tag_id) n USING (tag_id)"
            )

    def write_lineage(self, run_id: str, lineage: pd.DataFrame) -> None:
        """Replace the lineage rows of a written, not yet published run (one transaction).

        Raises
        ------
        RunNotFound
            No run `run_id` was written.
        """
        con = self._cur()
        if not con.execute("SELECT count(*) FROM runs WHERE run_id = ?", [run_id]).fetchall()[0][0]:
            raise RunNotFound(run_id)
        with self._transaction(f"writing the community lineage of run {run_id}"):
            insert_lineage(con, run_id, lineage)

    def read_lineage(self, run_id: str) -> pd.DataFrame:
        self._check_run(run_id)
        return lineage_frame(self._cur(), run_id, has_table=self._has_table("community_lineage"))

    def read_membership(self, run_id: str) -> pd.DataFrame:
        self._check_run(run_id)
        return membership_frame(self._cur(), run_id)

    def publish_run(self, run_id: str) -> None:
        """Make a written run visible to readers: one UPDATE in one transaction.

        Raises
        ------
        RunNotFound
            No run `run_id` was written (or an analyze deleted it as a leftover).
        """
        with self._transaction(f"publishing run {run_id}"):
            n = (
                self._cur()
                .execute("UPDATE runs SET complete = true WHERE run_id = ?", [run_id])
                .fetchall()[0][0]
            )
        if n == 0:
            raise RunNotFound(run_id)
        failpoint("analyze.published")

    def _complete_only(self) -> str:
        """The WHERE that keeps complete runs (a read-only file older than the flag has none)."""
        if self.read_only and not self._has_column("runs", "complete"):
            return "true"
        return "complete"

    def _has_column(self, table: str, column: str) -> bool:
        q = (
            "SELECT count(*) FROM information_schema.columns "
            "WHERE table_name = ? AND column_name = ?"
        )
        return self._cur().execute(q, [table, column]).fetchall()[0][0] > 0

    def list_runs(self) -> list[RunInfo]:
        """Complete runs only, newest first: a run being written (or left by a crash) is not one."""
        rows = (
            self._cur()
            .execute(
                "SELECT run_id, created_at, params, input_counts, stats FROM runs "
                f"WHERE {self._complete_only()} ORDER BY created_at DESC, run_id DESC"
            )
            .fetchall()
        )
        return [
            RunInfo(r[0], r[1], json.loads(r[2]), json.loads(r[3]), json.loads(r[4])) for r in rows
        ]

    def _check_run(self, run_id: str) -> None:
        q = f"SELECT count(*) FROM runs WHERE run_id = ? AND {self._complete_only()}"
        if self._cur().execute(q, [run_id]).fetchall()[0][0] == 0:
            raise RunNotFound(run_id)

    def read_metrics(
        self, run_id: str, *, customer_ids: Sequence[str] | None = None
    ) -> pd.DataFrame:
        self._check_run(run_id)
        con = self._cur()
        if customer_ids is None:
            df = con.execute(
                "SELECT * EXCLUDE (run_id) FROM metrics WHERE run_id = ? ORDER BY customer_id",
                [run_id],
            ).df()
        else:
            df = con.execute(
                "SELECT * EXCLUDE (run_id) FROM metrics WHERE run_id = ? "
                "AND customer_id IN (SELECT unnest(?::VARCHAR[]))",
                [run_id, list(customer_ids)],
            ).df()
        return df

    def read_communities(self, run_id: str) -> pd.DataFrame:
        self._check_run(run_id)
        return (
            self._cur()
            .execute(
                "SELECT * EXCLUDE (run_id) FROM communities WHERE run_id = ? "
                "ORDER BY size DESC, community_id",
                [run_id],
            )
            .df()
        )

    def read_tags(
        self,
        run_id: str,
        *,
        customer_id: str | None = None,
        tag_id: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> pd.DataFrame:
        checked_page(limit=limit, offset=offset)
        where, args = ["run_id = ?"], [run_id]
        if customer_id is not None:
            where.append("customer_id = ?")
            args.append(customer_id)
        if tag_id is not None:
            where.append("tag_id = ?")
            args.append(tag_id)
        sql = (
            "SELECT customer_id, tag_id, score, reason, run_id FROM tag_assignments WHERE "
            + " AND ".join(where)
            + " ORDER BY score DESC, customer_id, tag_id"
        )
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            args += [int(limit), int(offset)]
        return self._cur().execute(sql, args).df()

    def scan_tags(self, run_id: str, *, batch_size: int = 200_000) -> Iterator[pa.RecordBatch]:
        """Every assignment of a run as Arrow batches, unsorted: memory stays at one batch.

        The API builds its in-memory profile index from this; ``read_tags`` of a whole run
        would sort and convert ~10M rows at once at a million customers.
        """
        self._check_run(run_id)
        rel = self._cur().sql(
            "SELECT customer_id, tag_id, score, reason FROM tag_assignments WHERE run_id = ?",
            params=[run_id],
        )
        yield from rel.to_arrow_reader(batch_size)

    def read_catalog(self, run_id: str) -> pd.DataFrame:
        return (
            self._cur()
            .execute(
                "SELECT tag_id, name_zh, name_en, category, rule, customers AS count "
                "FROM tag_catalog WHERE run_id = ? ORDER BY category, tag_id",
                [run_id],
            )
            .df()
        )

    def top_influencers(
        self,
        run_id: str,
        *,
        limit: int,
        offset: int = 0,
        community_id: str | None = None,
        tag_id: str | None = None,
    ) -> pd.DataFrame:
        """Customers of a run in the order of `graph.ranking` (influence, then id)."""
        checked_page(limit=limit, offset=offset)
        self._check_run(run_id)
        where, args = ["m.run_id = ?"], [run_id]
        if community_id is not None:
            where.append("m.community_id = ?")
            args.append(community_id)
        if tag_id is not None:
            where.append(
                "m.customer_id IN (SELECT customer_id FROM tag_assignments "
                "WHERE run_id = ? AND tag_id = ?)"
            )
            args += [run_id, tag_id]
        sql = (
            "SELECT m.* EXCLUDE (run_id) FROM metrics m WHERE "
            + " AND ".join(where)
            + " ORDER BY "
            + sql_influence_order(influence="m.influence", customer_id="m.customer_id")
            + " LIMIT ? OFFSET ?"
        )
        return self._cur().execute(sql, [*args, int(limit), int(offset)]).df()

    def get_customer(self, customer_id: str) -> dict:
        cur = self._cur().execute("SELECT * FROM customers WHERE customer_id = ?", [customer_id])
        rows = cur.fetchall()
        if not rows:
            raise CustomerNotFound(customer_id)
        row = rows[0]
        names = [d[0] for d in cur.description]
        return dict(zip(names, row, strict=True))

    def ego_network(self, customer_id: str, *, hops: int, limit: int) -> EgoNetwork:
        """Neighbours within `hops` and the relations among them (`common.assemble_ego_network`)."""
        self.get_customer(customer_id)
        con = self._cur()

        def first_hop(cid: str, n: int) -> list[str]:
            return (
                con.execute(
                    "SELECT other, sum(w) AS w FROM ("
                    " SELECT dst_id AS other, coalesce(count, 1) AS w FROM relations"
                    "  WHERE src_id = ?"
                    " UNION ALL"
                    " SELECT src_id AS other, coalesce(count, 1) AS w FROM relations"
                    "  WHERE dst_id = ?)"
                    " GROUP BY other ORDER BY w DESC, other LIMIT ?",
                    [cid, cid, n],
                )
                .df()["other"]
                .tolist()
            )

        def second_hop(frontier: list[str], exclude: list[str], n: int) -> list[str]:
            return (
                con.execute(
                    "SELECT other, sum(w) AS w FROM ("
                    " SELECT dst_id AS other, coalesce(count, 1) AS w FROM relations"
                    "  WHERE src_id IN (SELECT unnest(?::VARCHAR[]))"
                    " UNION ALL"
                    " SELECT src_id AS other, coalesce(count, 1) AS w FROM relations"
                    "  WHERE dst_id IN (SELECT unnest(?::VARCHAR[])))"
                    " WHERE other NOT IN (SELECT unnest(?::VARCHAR[]))"
                    " GROUP BY other ORDER BY w DESC, other LIMIT ?",
                    [frontier, frontier, exclude, n],
                )
                .df()["other"]
                .tolist()
            )

        def edges_among(ids: list[str]) -> pd.DataFrame:
            return con.execute(
                "SELECT src_id, dst_id, type, count(*) AS interactions, "
                "sum(coalesce(count, 1)) AS weight FROM relations "
                "WHERE src_id IN (SELECT unnest(?::VARCHAR[])) "
                "AND dst_id IN (SELECT unnest(?::VARCHAR[])) "
                "GROUP BY src_id, dst_id, type ORDER BY weight DESC, src_id, dst_id, type",
                [ids, ids],
            ).df()

        return assemble_ego_network(
            customer_id,
            hops=hops,
            limit=limit,
            first_hop=first_hop,
            second_hop=second_hop,
            edges_among=edges_among,
            runs=self,
        )
