"""The ``local`` analysis engine: igraph for the graph, pandas and Arrow for features and tags.

Everything runs in this process on the columns the store returns; it is the engine every
other engine is checked against (tests/api/engines/test_engine.py).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from api.engines.base import (
    MetricsResult,
    Progress,
    Projection,
    TagsResult,
    persist_run,
    reference_time,
)
from graph.lineage import PreviousPartition
from graph.model import PROJECTION_COLUMNS, RunInfo
from graph.params import AnalysisParams
from graph.store import GraphStore

__all__ = ["LocalEngine", "LocalGraph", "previous_partition", "project_graph"]


@dataclass(frozen=True)
class LocalGraph:
    """What the local engine's projection holds: the graph and the partition to start from.

    Attributes
    ----------
    interaction
        The run's :class:`graph.build.InteractionGraph`.
    previous
        The latest complete run's communities (None on a first run), which Leiden starts
        from and the new communities are matched to, so their ids stay stable.
    """

    interaction: Any
    previous: PreviousPartition | None


def previous_partition(store: GraphStore) -> PreviousPartition | None:
    """The latest complete run's communities and the next community number never used.

    The number is the highest any complete run recorded (``community_next_number``, or its
    community count for a run from before stable ids), so a new community's id is one no
    saved segment or campaign can already mean.

    Returns
    -------
    PreviousPartition or None
        None when the store has no complete run.
    """
    runs = store.list_runs()
    if not runs:
        return None
    latest = runs[0]
    members = store.read_membership(latest.run_id)
    members = members[members["community_id"].notna()]
    used = [
        int(r.stats.get("community_next_number") or r.stats.get("n_communities") or 0) for r in runs
    ]
    return PreviousPartition(
        run_id=latest.run_id,
        customer_ids=members["customer_id"].to_numpy(dtype=object),
        community_ids=members["community_id"].to_numpy(dtype=object),
        next_number=max(used),
        fingerprint=latest.stats.get("community_fingerprint"),
    )


def project_graph(
    store: GraphStore,
    params: AnalysisParams,
    *,
    resolved: Callable[[AnalysisParams], None] | None = None,
) -> Projection:
    """Build the run's interaction graph from the store's customers and relations.

    Analysis and campaign planning both project through here, so a plan describes the very
    graph its run's metrics and tags were computed on (same type weights, half-life and
    reference time). Without ``params.as_of`` the reference time is the newest event in the
    data, so re-analysing the same data gives the same numbers on any day.

    Parameters
    ----------
    store, params
        Where the customers and relations are; the run's parameters.
    resolved
        Called with the parameters, ``as_of`` resolved, as soon as they are known (before
        the relations are read where the store runs SQL).

    Returns
    -------
    Projection
        ``graph`` is a :class:`graph.build.InteractionGraph`; ``params`` has ``as_of`` set
        (None only when the store holds no dated row at all).

    Raises
    ------
    ConfigError
        The relations lack a column the graph needs, or a parameter is invalid.
    """
    from graph.build import build_interaction_graph, handed_over, newest_timestamp, vertex_ids

    ids = store.customer_ids()
    select = getattr(store, "select_arrow", None)
    if select is not None:
        if params.as_of is None:
            newest = (
                select(
                    "SELECT max(t) FROM (SELECT max(occurred_at) AS t FROM relations "
                    "UNION ALL SELECT max(occurred_at) FROM transactions "
                    "UNION ALL SELECT max(occurred_at) FROM events)"
                )
                .column(0)[0]
                .as_py()
            )
            params = replace(params, as_of=newest)
        if resolved is not None:
            resolved(params)
        # the store numbers the relations' ends itself and streams them: no string id, and
        # never the whole result, comes into memory
        ids = vertex_ids(ids)
        numbering = pa.table({"customer_id": ids, "ix": np.arange(len(ids), dtype=np.int32)})
        rows = store.select_batches(
            "SELECT s.ix AS src_ix, d.ix AS dst_ix, r.type, r.occurred_at, r.count "
            "FROM relations r LEFT JOIN _vertex s ON s.customer_id = r.src_id "
            "LEFT JOIN _vertex d ON d.customer_id = r.dst_id",
            _vertex=numbering,
        )
        del numbering
    else:
        relations = store.read_table("relations", list(PROJECTION_COLUMNS))
        if params.as_of is None:
            newest = newest_timestamp(
                relations,
                store.read_table("transactions", ["occurred_at"]),
                store.read_table("events", ["occurred_at"]),
            )
            params = replace(params, as_of=newest)
        if resolved is not None:
            resolved(params)
        rows = nullcontext(handed_over(relations))
        del relations  # the reader lets each batch go once the build has read it
    with rows as relations:
        g = build_interaction_graph(
            ids,
            relations,
            type_weights=params.type_weights,
            half_life_days=params.half_life_days,
            as_of=params.as_of,
        )
    return Projection(params=params, graph=g)


class LocalEngine:
    """The in-process path behind the :class:`api.engines.base.Engine` stages.

    Parameters
    ----------
    workers
        Processes the independent metric families run on (:mod:`graph.parallel`); None
        uses every core. The numbers are the same for every value.
    """

    name = "local"

    def __init__(self, *, workers: int | None = None) -> None:
        from graph.errors import ConfigError

        if workers is not None and (isinstance(workers, bool) or workers < 1):
            raise ConfigError(f"workers={workers!r} must be a positive number of processes")
        self.workers = workers
        #: Peak resident memory (MB) per stage of the last :meth:`metrics` call; not part
        #: of the result's stats, which describe the run and repeat exactly.
        self.stage_peaks_mb: dict[str, float | None] = {}
        self._ahead: FactsAhead | None = None

    def _discard_ahead(self) -> None:
        ahead, self._ahead = self._ahead, None
        if ahead is not None:
            ahead.discard()

    def project(self, store: GraphStore, params: AnalysisParams) -> Projection:
        """:func:`project_graph`, with the previous run's communities to start from.

        Where the store aggregates its fact tables itself (DuckDB), memory allows and more
        than one worker is allowed, the feature aggregates start here on a thread
        (:class:`FactsAhead`): they need no metric, and the stages before the metric
        families leave a core idle.
        """
        self._discard_ahead()

        def ahead(resolved: AnalysisParams) -> None:
            self._ahead = FactsAhead.start(store, resolved.as_of)

        sequential = self.workers == 1  # one worker: nothing beside the stages' own work
        projection = project_graph(store, params, resolved=None if sequential else ahead)
        return Projection(
            params=projection.params,
            graph=LocalGraph(interaction=projection.graph, previous=previous_partition(store)),
        )

    def metrics(self, projection: Projection, *, progress: Progress | None = None) -> MetricsResult:
        """Every metric and the communities, by :func:`graph.analysis.analyze_graph`.

        Leiden starts from the previous run's communities when there was one, and the new
        ones keep their ids where they match (``lineage`` says what happened to each).

        Raises
        ------
        ConfigError
            The influence weights name a metric that is not computed.
        """
        from graph.analysis import analyze_graph
        from graph.parallel import default_workers

        local: LocalGraph = projection.graph
        res = analyze_graph(
            local.interaction,
            projection.params,
            progress=progress,
            previous=local.previous,
            workers=self.workers or default_workers(),
        )
        self.stage_peaks_mb = dict(res.peak_rss_mb)
        return MetricsResult(
            metrics=res.metrics, communities=res.communities, stats=res.stats, lineage=res.lineage
        )

    def features(self, store: GraphStore, metrics: pd.DataFrame, *, as_of: Any) -> pd.DataFrame:
        """Customer, transaction, event and relation features joined with ``metrics``.

        A store that runs SQL (DuckDB) aggregates its fact tables itself, so they never come
        into memory whole; any other store hands over just the columns the features read.
        """
        from tagging.feature_compute import FEATURE_INPUTS, compute_features, features_from_sql

        when = reference_time(as_of)
        select = getattr(store, "select_arrow", None)
        if select is not None:
            ahead, self._ahead = self._ahead, None
            aggregates = None if ahead is None else ahead.result_for(store, when)
            return features_from_sql(select, metrics, as_of=when, aggregates=aggregates)
        read = {name: store.read_table(name, list(cols)) for name, cols in FEATURE_INPUTS.items()}
        return compute_features(
            read["customers"],
            read["transactions"],
            read["events"],
            metrics,
            as_of=when,
            relations=read["relations"],
        )

    def tags(self, features: pd.DataFrame, catalog: Any, *, run_id: str) -> TagsResult:
        """Every rule of ``catalog``, and the catalog rows of the tags that occurred.

        Up to :data:`TAG_CHUNK_CUSTOMERS` customers the assignments are a DataFrame; beyond,
        their reasons are rendered range by range into a Parquet file
        (:class:`SpooledAssignments`) that the store reads when the run is persisted, so
        memory holds one range's reasons rather than all of them.

        Raises
        ------
        RuleError
            A rule does not evaluate on these features.
        """
        from tagging import evaluate, evaluate_chunks, tag_definitions

        if len(features) <= TAG_CHUNK_CUSTOMERS:
            assignments = evaluate(catalog, features, run_id=run_id)
            return TagsResult(
                assignments=assignments, definitions=tag_definitions(catalog, assignments)
            )
        chunks = evaluate_chunks(
            catalog, features, run_id=run_id, customers_per_chunk=TAG_CHUNK_CUSTOMERS
        )
        spooled = SpooledAssignments.write(chunks)
        seen = pd.DataFrame({"tag_id": spooled.tag_ids})
        return TagsResult(assignments=spooled, definitions=tag_definitions(catalog, seen))

    def persist(
        self, store: GraphStore, run: RunInfo, *, metrics: MetricsResult | None, tags: TagsResult
    ) -> dict[str, float]:
        """See :func:`api.engines.base.persist_run`; spooled assignments are read by the
        store from their file where it can (DuckDB), else as a frame."""
        spooled = tags.assignments
        if not isinstance(spooled, SpooledAssignments):
            return persist_run(store, run, metrics=metrics, tags=tags)
        try:
            return persist_run(
                store,
                run,
                metrics=metrics,
                tags=tags,
                write_tags=spooled.writer(store, run.run_id, tags.definitions),
            )
        finally:
            spooled.close()


#: Customers whose tag reasons are rendered at a time (:meth:`LocalEngine.tags`).
TAG_CHUNK_CUSTOMERS = 250_000

#: Estimated bytes per customer of the feature aggregates (``aggregate_from_sql``), which
#: computing them ahead holds through the metric families.
AHEAD_BYTES_PER_CUSTOMER = 600


@dataclass
class FactsAhead:
    """The feature aggregates of one projection's store and reference time, on a thread.

    Started by :meth:`LocalEngine.project` and taken by :meth:`LocalEngine.features`, so
    DuckDB aggregates the fact tables while this process builds the undirected view and
    computes PageRank on one core. The metric families fork their workers meanwhile; a
    forked worker runs igraph and numpy only and never touches the store or this thread's
    state. The aggregates are the very ones `features_from_sql` would compute itself.
    """

    store: GraphStore
    as_of: datetime
    future: Future

    @classmethod
    def start(cls, store: GraphStore, as_of: Any) -> FactsAhead | None:
        """Start the aggregates at ``as_of``, or None where the store does not run SQL, the
        data has no reference time, or memory would not hold them beside the graph."""
        from graph.analysis import HEAVY_BYTES_PER_TIE
        from graph.parallel import available_memory_mb
        from tagging.feature_compute import aggregate_from_sql

        select = getattr(store, "select_arrow", None)
        if select is None or as_of is None:
            return None
        when = reference_time(as_of)
        # the graph is not built yet: its ties are at most the relations, and two heavy
        # metric families per tie bound what the analysis will allocate beside these
        counts = store.counts()
        need = (
            AHEAD_BYTES_PER_CUSTOMER * counts["customers"]
            + 2 * HEAVY_BYTES_PER_TIE * counts["relations"]
        )
        available = available_memory_mb()
        if available is None or need / 2**20 > available:
            return None
        pool = ThreadPoolExecutor(1, thread_name_prefix="guanxi-facts")
        future = pool.submit(aggregate_from_sql, select, as_of=when)
        pool.shutdown(wait=False)  # the thread ends with its one task
        return cls(store=store, as_of=when, future=future)

    def result_for(self, store: GraphStore, as_of: datetime | None) -> Any:
        """The aggregates if they are of ``store`` at ``as_of``, else None (discarded)."""
        if store is not self.store or as_of != self.as_of:
            self.discard()
            return None
        return self.future.result()  # an error of the aggregation is raised here

    def discard(self) -> None:
        """Let the aggregates go; a running query finishes on its own."""
        self.future.cancel()


@dataclass
class SpooledAssignments:
    """Tag assignments written chunk by chunk to a Parquet file in a temporary folder.

    ``rows`` and ``tag_ids`` (sorted, distinct) are known without reading the file back;
    :meth:`close` removes the folder (as does collecting the object).
    """

    path: Path
    rows: int
    tag_ids: list[str]
    _folder: tempfile.TemporaryDirectory

    @classmethod
    def write(cls, chunks: Iterator[pa.Table]) -> SpooledAssignments:
        """Write every chunk; on any error the folder is removed and the error raised."""
        folder = tempfile.TemporaryDirectory(prefix="guanxi-tags-")
        path = Path(folder.name) / "tag_assignments.parquet"
        rows, seen = 0, set()
        writer = None
        try:
            for chunk in chunks:
                if writer is None:
                    writer = pq.ParquetWriter(path, chunk.schema, compression="lz4")
                writer.write_table(chunk)
                rows += chunk.num_rows
                seen.update(pc.unique(chunk.column("tag_id")).to_pylist())
            if writer is not None:
                writer.close()
        except BaseException:
            if writer is not None:
                writer.close()
            folder.cleanup()
            raise
        return cls(path=path, rows=rows, tag_ids=sorted(seen), _folder=folder)

    def writer(
        self, store: GraphStore, run_id: str, definitions: pd.DataFrame
    ) -> Callable[[], None]:
        """The store's write of these assignments for :func:`persist_run`: from the file
        where the store reads Parquet itself (DuckDB), else as a frame."""

        def write() -> None:
            from_parquet = getattr(store, "write_tags_parquet", None)
            if from_parquet is not None:
                from_parquet(run_id, str(self.path), definitions)
            else:
                store.write_tags(run_id, pq.read_table(self.path).to_pandas(), definitions)

        return write

    def close(self) -> None:
        self._folder.cleanup()
