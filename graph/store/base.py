"""The store contract: small protocols by role, and `GraphStore`, their union.

Roles: `IngestSink` (what a load writes), `TableSource` (what the analysis reads),
`RunRepository` (runs written, published, read back) and `QueryService` (rankings, one
customer, a neighbourhood). Capabilities a store may or may not have are protocols of their
own, checked with ``isinstance``: `TagScanner` (streaming a run's tags) and `Maintenance`
(emptying the store). What both stores compute the same way is in `graph.store.common`.

Two implementations stand behind it: the embedded DuckDB file (default, no server) and Neo4j
(production). Everything crosses the boundary as columns (Arrow tables, DataFrames), never as
a Python object per customer or relation, so that a million customers move in seconds.

Writes are idempotent: loads are upserts keyed by the natural keys in `graph.model`, and a
run's results are replaced, never appended twice.

Crash safety: a load commits each table whole or not at all, and a run becomes visible only
when `publish_run` flips it to complete after all its rows are written; a process killed at
any point leaves readers the previous complete state (README, "Crash safety").
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol, Self, runtime_checkable

import pandas as pd
import pyarrow as pa
import pyarrow.dataset as ds

from graph.model import RunInfo


@dataclass(frozen=True)
class UpsertCounts:
    """What one upsert changed: new rows, and existing rows whose values changed."""

    inserted: int
    updated: int = 0


@dataclass(frozen=True)
class EgoNetwork:
    """A customer's neighbourhood, ready for a graph visualisation."""

    nodes: pd.DataFrame  # customer_id, community_id, influence, hop
    edges: pd.DataFrame  # src_id, dst_id, type, weight, interactions


class StoreHandle(Protocol):
    """What every role shares: the store's URI and closing it (also as a context manager)."""

    uri: str

    def close(self) -> None: ...
    def __enter__(self) -> Self: ...
    def __exit__(self, *exc: object) -> None: ...


@runtime_checkable
class IngestSink(StoreHandle, Protocol):
    """Where a load writes: customers, their relations, transactions and events, PII columns.

    The loader validates references against `customer_ids` before it writes.
    """

    def customer_ids(self) -> pa.Array:
        """Every known customer id (string array), for validating references."""
        ...

    def upsert_customers(self, table: pa.Table | ds.Dataset) -> UpsertCounts:
        """Insert new customers; update the attributes of existing ones that changed.

        As in `upsert_rows`, ``table`` may carry ``_pos`` and be a dataset of Parquet files.
        """
        ...

    def upsert_rows(self, name: str, table: pa.Table | ds.Dataset) -> UpsertCounts:
        """Insert relations, transactions or events not already present (natural key).

        ``table`` may carry ``_pos``, each row's place in its source: of the rows sharing a
        key the one with the smallest is kept, whatever order the rows come in (the loader's
        validation does not sort them); without it the table's own order decides. It may
        also be a dataset of Parquet files with ``_pos``: a large table the loader validated
        in batches, to be scanned where it lies rather than read into memory.
        """
        ...

    def declare_pii_columns(self, columns: Sequence[str]) -> None:
        """Add customer columns to the set declared PII (kept in the store, never removed).

        Persisted with the data rather than in a setting, so that every later reader of this
        store (API, CLI, quarantine writer) masks them without being told again.
        """
        ...


@runtime_checkable
class TableSource(StoreHandle, Protocol):
    """Where the analysis reads its input: whole tables as Arrow, counts, PII declarations."""

    def counts(self) -> dict[str, int]:
        """Row count of each input table."""
        ...

    def read_table(self, name: str, columns: Sequence[str] | None = None) -> pa.Table:
        """A whole input table as Arrow (the projection and the features read this).

        Raises
        ------
        ValueError
            Unknown table or column (see `graph.store.common.checked_columns`).
        """
        ...

    def declared_pii_columns(self) -> tuple[str, ...]:
        """The columns declared PII in this store, sorted; empty when none were declared."""
        ...


@runtime_checkable
class RunRepository(StoreHandle, Protocol):
    """Analysis runs: written unpublished, published in one step, then read back."""

    def write_run(self, run: RunInfo, *, metrics: pd.DataFrame, communities: pd.DataFrame) -> None:
        """Persist one analysis run: its record, per-customer metrics and community stats.

        The run is written as incomplete: no reader sees it until :meth:`publish_run`. The
        leftovers of an earlier run that was never published are removed first.
        """
        ...

    def write_tags(self, run_id: str, assignments: pd.DataFrame, catalog: pd.DataFrame) -> None:
        """Persist a run's tag assignments and the catalog they were evaluated with."""
        ...

    def write_lineage(self, run_id: str, lineage: pd.DataFrame) -> None:
        """Persist what happened to the previous run's communities in a written run.

        One row per event (``graph.lineage.LINEAGE_COLUMNS``: event, from/to ids and sizes
        as lists, shared, jaccard), kept in order; unseen until :meth:`publish_run`, and
        removed with the run's other rows when it never gets published.

        Raises
        ------
        RunNotFound
            `run_id` was never written.
        """
        ...

    def publish_run(self, run_id: str) -> None:
        """Make a fully written run the one readers see, in one final transaction.

        Until this returns, every reader (list_runs, the latest-run lookups, the Browser
        queries) is served the previous complete run, whatever state a crash left the new
        run's rows in.

        Raises
        ------
        RunNotFound
            `run_id` was never written.
        """
        ...

    def list_runs(self) -> list[RunInfo]:
        """All complete (published) runs, newest first."""
        ...

    def read_metrics(
        self, run_id: str, *, customer_ids: Sequence[str] | None = None
    ) -> pd.DataFrame:
        """Per-customer metrics of a run (all customers, or the given ones)."""
        ...

    def read_communities(self, run_id: str) -> pd.DataFrame: ...

    def read_lineage(self, run_id: str) -> pd.DataFrame:
        """A complete run's lineage rows as written (`graph.store.lineage_rows` types)."""
        ...

    def read_membership(self, run_id: str) -> pd.DataFrame:
        """Every customer of a run with its ``community_id``, by customer id.

        Raises
        ------
        RunNotFound
            No complete run `run_id`, or (Neo4j) a run older than the one before the latest,
            whose memberships were overwritten (``RunResultsUnavailable``).
        """
        ...

    def read_tags(
        self,
        run_id: str,
        *,
        customer_id: str | None = None,
        tag_id: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> pd.DataFrame:
        """Tag assignments of a run (customer_id, tag_id, score, reason, run_id)."""
        ...

    def read_catalog(self, run_id: str) -> pd.DataFrame:
        """The catalog a run was tagged with, with the count of customers holding each tag."""
        ...


@runtime_checkable
class QueryService(StoreHandle, Protocol):
    """The reads behind the API's and CLI's answers: rankings, one customer, a neighbourhood."""

    def top_influencers(
        self,
        run_id: str,
        *,
        limit: int,
        offset: int = 0,
        community_id: str | None = None,
        tag_id: str | None = None,
    ) -> pd.DataFrame:
        """Customers of a run ordered by influence, highest first."""
        ...

    def get_customer(self, customer_id: str) -> dict:
        """One customer's attributes (unmasked; masking is the caller's job).

        Raises
        ------
        CustomerNotFound
        """
        ...

    def ego_network(self, customer_id: str, *, hops: int, limit: int) -> EgoNetwork:
        """Neighbours within `hops` (1 or 2) and the relations among them, strongest first."""
        ...


@runtime_checkable
class TagScanner(Protocol):
    """Streaming every assignment of a run, a capability beside `RunRepository.read_tags`.

    The read model builds its tag index from it when a store declares it (implements it),
    and otherwise from one ``read_tags`` of a small run; test doubles may leave it out.
    """

    def scan_tags(self, run_id: str, *, batch_size: int = 200_000) -> Iterator[pa.RecordBatch]:
        """Every assignment of a run (customer_id, tag_id, score, reason) in Arrow batches."""
        ...


@runtime_checkable
class Maintenance(Protocol):
    """Emptying a store (benchmarks and tests start from nothing); a capability, not a role.

    Declared by the stores whose data lives outside a file a caller could simply delete
    (Neo4j); callers check ``isinstance(store, Maintenance)`` instead of probing for it.
    """

    def clear(self) -> int:
        """Delete every customer, relation, run and tag; returns how many nodes or rows went."""
        ...


@runtime_checkable
class GraphStore(IngestSink, TableSource, RunRepository, QueryService, Protocol):
    """Customers, relations, transactions and events in; runs, metrics, communities, tags out.

    The union of the four roles, for callers that need all of them (the use cases that load,
    analyze and answer). A function that needs one role takes that protocol instead.
    """
