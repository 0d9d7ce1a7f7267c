"""The production store: a Neo4j 5 server over Bolt, behind the `graph.store` protocols.

Graph model (what an analyst sees in Neo4j Browser)::

    (:Customer {customer_id, name, ..., birth_date: Date, registered_at: LocalDateTime,
                <metrics of the latest run>, metrics_run_id, community_id})
    (:Customer)-[:REFERRAL|TRANSFER|LIKE|COMMENT|SHARE|MESSAGE|FAMILY|COLLEAGUE
                 {occurred_at: LocalDateTime, amount, count, channel, attributes}]->(:Customer)
    (:Customer {..., tags: [every tag id of the latest run]})
    (:Customer)-[:IN_COMMUNITY]->(:Community {run_id, community_id, size, density, ...})
    (:Customer)-[:HAS_TAG {run_id, score, reason}]->(:Tag {tag_id, name_zh, name_en, ...})
        for the tags of the graph's categories (social and risk by default)
    (:Run {run_id, created_at, params, input_counts, stats, catalog, ...})
    (:GuanxiMeta {key, value: [strings]})   store metadata, e.g. the declared PII columns
    plus the social and risk tags of the latest run as labels (:OpinionLeader, :Bridge, ...)

Transactions, events and every tag assignment (with its reason) are kept columnar beside the
graph, in the store's facts file (`facts`, which says why).

The package, one concept per module: `statements` (the registry; the Cypher itself in
`ingest_statements`, `run_statements`, `gds_statements`), `codec` (Arrow <-> Cypher values,
chunk bounds), `session` (the driver), `loads` (staged loads), `facts` (the columnar half),
`runs` (the run repository). This class wires them to the protocols and answers the queries.

Reads of whole tables (``read_table``: the projection, the features) are chunked by customer
(``read_chunk`` customers per chunk; boundaries are every n-th customer_id in the server's
order). Each chunk comes back as ONE record of column lists, which avoids a Python ``Record``
per row; two chunks are read at once. Parallel writers were tried and rejected: concurrent
relation loaders on a small machine mostly fail with ``Transaction.Outdated`` and retry.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Self

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds

from graph.errors import CustomerNotFound, StoreUnavailable
from graph.model import PROJECTION_COLUMNS, SCHEMAS, TABLES, RunInfo
from graph.store.base import EgoNetwork, UpsertCounts
from graph.store.common import (
    assemble_ego_network,
    checked_columns,
    checked_page,
    checked_pii_columns,
)
from graph.store.neo4j import loads
from graph.store.neo4j.codec import (
    arrow_from_columns,
    arrow_from_records,
    chunk_ranges,
    conform,
    frame,
)
from graph.store.neo4j.facts import FACT_TABLES, Facts, facts_path_for
from graph.store.neo4j.runs import Runs
from graph.store.neo4j.session import Bolt
from graph.store.neo4j.statements import REL_TYPES, registry, stmt
from graph.store.options import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_GRAPH_TAGS,
    DEFAULT_HISTORY_RUNS,
    DEFAULT_READ_CHUNK,
)

__all__ = ["Neo4jStore"]

_CUST = SCHEMAS["customers"]
#: Chunks of a table read in flight at once (sessions of their own).
_READ_WORKERS = 2
_EDGE_DTYPES = {
    "src_id": "str",
    "dst_id": "str",
    "type": "str",
    "interactions": "int64",
    "weight": "float64",
}


class Neo4jStore:
    """GraphStore over a Neo4j 5 server (Bolt); also `TagScanner` and `Maintenance`.

    Parameters
    ----------
    uri : str
        ``bolt://``, ``bolt+s://``, ``neo4j://`` or ``neo4j+s://`` URI.
    user, password : str or None
        Credentials (user default ``neo4j``); a missing password is refused. The store reads
        no environment: `api.settings` passes these (``NEO4J_USER``, ``NEO4J_PASSWORD``).
    database : str or None
        Database name (default: the server's default database).
    batch_size : int or None
        Rows per write transaction (default `DEFAULT_BATCH_SIZE`).
    history_runs : int or None
        Runs whose tag assignments are kept (default `DEFAULT_HISTORY_RUNS`).
    read_chunk : int or None
        Customers per chunk of a table read (default `DEFAULT_READ_CHUNK`).
    facts : str or None
        The facts file (`graph.store.neo4j.facts`); default `facts_path_for` the server's
        data directory, when that directory is on this machine.
    graph_tags : sequence of str or None
        Tag categories written as ``HAS_TAG`` (default `DEFAULT_GRAPH_TAGS`).

    Raises
    ------
    StoreUnavailable
        The server cannot be reached or refuses the credentials.
    StoreError
        Setting up the schema failed.
    """

    def __init__(
        self,
        uri: str,
        *,
        user: str | None = None,
        password: str | None = None,
        database: str | None = None,
        batch_size: int | None = None,
        history_runs: int | None = None,
        read_chunk: int | None = None,
        facts: str | None = None,
        graph_tags: Sequence[str] | None = None,
    ) -> None:
        self.uri = uri
        self.database = database or None
        self.batch_size = batch_size or DEFAULT_BATCH_SIZE
        self.history_runs = max(1, history_runs or DEFAULT_HISTORY_RUNS)
        #: customers per read chunk (``read_table``), about 10x as many relations or events
        self.read_chunk = max(1, read_chunk or DEFAULT_READ_CHUNK)
        user = user or "neo4j"
        if not password:
            raise StoreUnavailable(
                f"no password for Neo4j at {uri}; set NEO4J_PASSWORD (user {user!r})"
            )
        self._bolt = Bolt(
            uri, user=user, password=password, database=self.database, batch_size=self.batch_size
        )
        try:
            for s in registry():
                if s.name.startswith("schema.") and s.name != "schema.await_indexes":
                    self._bolt.write(s)
            self._bolt.read(stmt("schema.await_indexes"))
            self.facts = Facts(facts or self._default_facts())
        except BaseException:
            self._bolt.close()
            raise
        self._runs = Runs(
            self._bolt,
            self.facts,
            history_runs=self.history_runs,
            graph_tags=DEFAULT_GRAPH_TAGS if graph_tags is None else tuple(graph_tags),
        )

    def _default_facts(self) -> str:
        """`facts_path_for` the server's data directory, which must be on this machine."""
        data = self._bolt.read(stmt("server.data_directory"))
        where = Path(data[0][0]) if data and data[0][0] else None
        if where is None or not where.is_dir():
            raise StoreUnavailable(
                f"Neo4j at {self.uri} keeps its data in {where}, not on this machine: set "
                "GUANXI_NEO4J_FACTS to the file its transactions, events and tag assignments "
                "are kept in (a DuckDB file, shared by every process that uses this store)"
            )
        return str(facts_path_for(where))

    @property
    def bolt(self) -> Bolt:
        """The store's connection, for code that sends registered statements of its own
        (the GDS benchmark, `graph.store.neo4j.gds`) and for tests' raw checks."""
        return self._bolt

    def close(self) -> None:
        self._bolt.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- Maintenance ------------------------------------------------------------------------
    def clear(self) -> int:
        """Delete every node and relationship of the database (tests, benchmarks). Returns nodes.

        Relationships go first, in batches: a DETACH DELETE of well-connected nodes would pull
        all their relationships into one transaction and exceed the server's memory limit.
        """
        self._bolt.repeat_until_done(stmt("admin.delete_all_relationships_batch"), {})
        self.facts.clear()
        return self._bolt.repeat_until_done(stmt("admin.delete_all_batch"), {})

    # --- IngestSink -------------------------------------------------------------------------
    def customer_ids(self) -> pa.Array:
        vis = loads.visibility(self._bolt)
        s, params = (
            (stmt("customers.ids"), {}) if vis is None else (stmt("customers.ids.visible"), vis)
        )
        ids = self._bolt.read(s, params, consume=lambda res: res.single(strict=True)[0])
        return pa.array(ids, pa.string())

    def upsert_customers(self, table: pa.Table | ds.Dataset) -> UpsertCounts:
        """Insert new customers, update changed ones: visible all at once, when committed."""
        return loads.upsert_customers(self._bolt, _in_order(table))

    def upsert_rows(self, name: str, table: pa.Table | ds.Dataset) -> UpsertCounts:
        """Insert relations (a staged load), transactions or events (the facts file) whose
        natural key is new."""
        table = _in_order(table)
        if name in FACT_TABLES:
            return self.facts.upsert_rows(name, conform(table, name))
        return loads.upsert_rows(self._bolt, name, table)

    def declare_pii_columns(self, columns: Sequence[str]) -> None:
        names = checked_pii_columns(columns)
        if names:
            params = {"key": "pii_columns", "values": sorted(set(names))}
            self._bolt.write(stmt("meta.add_values"), params)

    # --- TableSource ------------------------------------------------------------------------
    def counts(self) -> dict[str, int]:
        """Rows of each table that readers see (a pending load's rows are not counted)."""
        vis = loads.visibility(self._bolt)
        suffix, p = ("", {}) if vis is None else (".visible", vis)
        read = self._bolt.read
        out = {"customers": read(stmt("counts.customers" + suffix), p)[0][0]}
        rel = stmt("counts.relations" + suffix)
        out["relations"] = sum(read(rel, p, sub=t)[0][0] for t in REL_TYPES.values())
        out |= self.facts.counts()
        return {t: int(out[t]) for t in TABLES}

    def read_table(self, name: str, columns: Sequence[str] | None = None) -> pa.Table:
        cols = checked_columns(name, columns)
        if name in FACT_TABLES:
            return self.facts.read_table(name, cols)
        schema = SCHEMAS[name]
        vis = loads.visibility(self._bolt)
        lean = name == "relations" and set(cols) <= set(PROJECTION_COLUMNS)
        read = registry().chunk(
            f"{name}.read_chunk"
            + ("_projection" if lean else "")
            + ("" if vis is None else ".visible")
        )

        def chunk(bounds: tuple[str, str | None]) -> pa.Table:
            lo, hi = bounds
            params = {**(vis or {}), "lo": lo}
            if hi is not None:
                params["hi"] = hi
            return self._bolt.read(
                read.for_bounds(hi),
                params,
                consume=lambda res: arrow_from_columns(res.single(strict=True), schema),
            )

        # two chunks in flight: the server matches one while this process decodes the other
        with ThreadPoolExecutor(_READ_WORKERS) as pool:
            parts = list(pool.map(chunk, self._chunk_bounds()))
        return pa.concat_tables(parts).select(cols).combine_chunks()

    def _chunk_bounds(self) -> list[tuple[str, str | None]]:
        """[lo, hi) customer_id ranges of about ``read_chunk`` customers each, covering all ids.

        Reads are chunked by customer so that each chunk comes back as one record of column
        lists (no Python object per row) and the server never collects a whole table at once;
        see `codec.chunk_ranges` for why some cuts are dropped.
        """
        cuts = self._bolt.read(stmt("customers.chunk_cuts"), {"step": self.read_chunk})[0][0]
        return chunk_ranges(cuts)

    def declared_pii_columns(self) -> tuple[str, ...]:
        rows = self._bolt.read(stmt("meta.get_values"), {"key": "pii_columns"})
        return tuple(sorted(rows[0][0] or [])) if rows else ()

    # --- RunRepository ----------------------------------------------------------------------
    def write_run(self, run: RunInfo, *, metrics: pd.DataFrame, communities: pd.DataFrame) -> None:
        """Write a run as incomplete (unlisted until `publish_run`); see `runs.Runs`."""
        self._runs.write_run(run, metrics=metrics, communities=communities)

    def write_tags(self, run_id: str, assignments: pd.DataFrame, catalog: pd.DataFrame) -> None:
        self._runs.write_tags(run_id, assignments, catalog)

    def publish_run(self, run_id: str) -> None:
        """Make a written run the one readers see (one transaction), then tidy up after it.

        Raises
        ------
        RunNotFound
            No run `run_id` was written.
        """
        self._runs.publish_run(run_id)

    def list_runs(self) -> list[RunInfo]:
        return self._runs.list_runs()

    def write_lineage(self, run_id: str, lineage: pd.DataFrame) -> None:
        self._runs.write_lineage(run_id, lineage)

    def read_lineage(self, run_id: str) -> pd.DataFrame:
        return self._runs.read_lineage(run_id)

    def read_membership(self, run_id: str) -> pd.DataFrame:
        return self._runs.read_membership(run_id)

    def read_metrics(
        self, run_id: str, *, customer_ids: Sequence[str] | None = None
    ) -> pd.DataFrame:
        return self._runs.read_metrics(run_id, customer_ids=customer_ids)

    def read_communities(self, run_id: str) -> pd.DataFrame:
        return self._runs.read_communities(run_id)

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
        return self._runs.read_tags(
            run_id, customer_id=customer_id, tag_id=tag_id, limit=limit, offset=offset
        )

    def read_catalog(self, run_id: str) -> pd.DataFrame:
        return self._runs.read_catalog(run_id)

    # --- TagScanner -------------------------------------------------------------------------
    def scan_tags(self, run_id: str, *, batch_size: int = 200_000) -> Iterator[pa.RecordBatch]:
        """Every assignment of a run as Arrow batches (read once, from the facts file)."""
        df = self.read_tags(run_id)[["customer_id", "tag_id", "score", "reason"]]
        table = pa.Table.from_pandas(df, preserve_index=False)
        yield from table.to_batches(max_chunksize=batch_size)

    # --- QueryService -----------------------------------------------------------------------
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
        return self._runs.top_influencers(
            run_id, limit=limit, offset=offset, community_id=community_id, tag_id=tag_id
        )

    def get_customer(self, customer_id: str) -> dict:
        vis = loads.visibility(self._bolt)
        if vis is None:
            rows = self._bolt.read(stmt("customers.get"), {"customer_id": customer_id})
        else:
            params = {**vis, "customer_id": customer_id}
            rows = self._bolt.read(stmt("customers.get.visible"), params)
        if not rows:
            raise CustomerNotFound(customer_id)
        tbl = arrow_from_records([rows[0]], _CUST, _CUST.names)
        return {k: v[0] for k, v in tbl.to_pydict().items()}

    def ego_network(self, customer_id: str, *, hops: int, limit: int) -> EgoNetwork:
        """Neighbours within `hops` and the relations among them (`common.assemble_ego_network`).

        Relations of a pending load are skipped, as every reader skips them.
        """
        self.get_customer(customer_id)
        pending = (loads.visibility(self._bolt) or {}).get("pending", [])
        read = self._bolt.read

        def first_hop(cid: str, n: int) -> list[str]:
            params = {"customer_id": cid, "limit": n, "pending": pending}
            return [r[0] for r in read(stmt("ego.first_hop"), params)]

        def second_hop(frontier: list[str], exclude: list[str], n: int) -> list[str]:
            params = {"frontier": frontier, "exclude": exclude, "limit": n, "pending": pending}
            return [r[0] for r in read(stmt("ego.second_hop"), params)]

        def edges_among(ids: list[str]) -> pd.DataFrame:
            rows = read(stmt("ego.edges"), {"ids": ids, "pending": pending})
            return frame(rows, list(_EDGE_DTYPES), _EDGE_DTYPES)

        return assemble_ego_network(
            customer_id,
            hops=hops,
            limit=limit,
            first_hop=first_hop,
            second_hop=second_hop,
            edges_among=edges_among,
            runs=self,
        )


def _in_order(rows: pa.Table | ds.Dataset) -> pa.Table:
    """`rows` as one table in `_pos` order, without `_pos`: the driver path keeps the first
    of the rows sharing a key in the order it is given them."""
    if not isinstance(rows, pa.Table):  # spooled batches: the driver path takes a table
        rows = rows.to_table()
    if "_pos" not in rows.column_names:
        return rows
    return rows.sort_by("_pos").drop_columns(["_pos"])
