"""A run's results as importer files, in the layout the driver write-back leaves after a publish.

What it holds: :class:`RunResults` (one complete run read from any `RunRepository`:
:func:`read_run_results`), :func:`customer_columns` (the metric properties, ``metrics_run_id``
and the tag labels each customer row of ``customers.csv`` gets) and
:func:`write_result_files` (the ``:Run``, ``:Community`` and ``:Tag`` nodes, ``IN_COMMUNITY`` and
``HAS_TAG``).

Why the driver's layout exactly: every reader of `graph.store.neo4j.Neo4jStore` (``list_runs``,
``read_metrics``, ``read_tags``, ``read_lineage``, ...) and the Browser kit queries were
written against what ``Runs.write_run`` + ``write_tags`` + ``write_lineage`` + ``publish_run``
leave; a bulk-imported run must read the same, and a later ``guanxi analyze`` through the
driver must find it as the previous run. So, after the import:

- ``(:Run {run_id, complete: true, metrics_kept: true, tags_kept: true, catalog, ...})`` with
  the properties of `graph.store.neo4j.runs.run_properties` and ``catalog_property``;
- each customer's metric columns as properties, ``metrics_run_id``, no ``prev_*`` (there is
  no previous run), ``(:Customer)-[:IN_COMMUNITY]->(:Community {run_id, ...})``;
- ``(:Tag {tag_id, name_zh, ...})`` for every definition of the catalog and every tag
  assigned, ``(:Customer)-[:HAS_TAG {run_id, score, reason}]->(:Tag)`` for the assignments
  of the graph's tag categories (`graph.store.neo4j.runs.graph_assignments`), every tag id of
  a customer as ``c.tags`` and the tag labels of `graph.store.neo4j.statements.TAG_LABELS`
  on their holders; every assignment in the facts file (`import_files` writes it);
- ``(:CommunityLineage {run_id, seq, event, ...})`` per lineage row: not in the files, but
  written through the driver once the server is back (``Runs.write_lineage``, the
  write-back's own code). The importer cannot store an empty list (an empty array field is
  no property), and a community born or dead has one (``from_ids: []``); the rows are few,
  one per community event.

Only the latest complete run of the source is imported: a full refresh starts the history.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from graph.errors import ConfigError, StoreError
from graph.model import SCHEMAS, RunInfo
from graph.store.base import RunRepository
from graph.store.lineage_rows import typed_lineage
from graph.store.neo4j.runs import catalog_property, graph_assignments, run_properties, tag_lists
from graph.store.neo4j.statements import TAG_LABELS
from graph.store.options import DEFAULT_GRAPH_TAGS

__all__ = ["RunResults", "customer_columns", "read_run_results", "write_result_files"]

#: The header of a customer row's extra labels (``neo4j-admin``'s per-row labels column).
LABEL_COLUMN = ":LABEL"


@dataclass(frozen=True)
class RunResults:
    """One complete run, as the run repository reads it back."""

    run: RunInfo
    metrics: pd.DataFrame
    communities: pd.DataFrame
    assignments: pd.DataFrame
    catalog: pd.DataFrame
    lineage: pd.DataFrame


def read_run_results(source: RunRepository, *, where: str) -> RunResults:
    """The latest complete run of `source`, every result of it.

    Raises
    ------
    ConfigError
        `source` holds no complete run (`where` names it in the remedy).
    RunNotFound
        The run's results are no longer kept (a store pruned them meanwhile).
    """
    runs = source.list_runs()
    if not runs:
        raise ConfigError(
            f"{where} holds no complete run to import with --with-results; run "
            f"`guanxi analyze --store {where}` first, or import without --with-results"
        )
    run = runs[0]
    tags = source.read_tags(run.run_id)
    return RunResults(
        run=run,
        metrics=source.read_metrics(run.run_id),
        communities=source.read_communities(run.run_id),
        assignments=tags[["customer_id", "tag_id", "score", "reason"]],
        catalog=source.read_catalog(run.run_id),
        lineage=typed_lineage(source.read_lineage(run.run_id)),
    )


def customer_columns(results: RunResults, customer_ids: pa.ChunkedArray) -> pa.Table:
    """The columns a customer file gets from the run, row for row with `customer_ids`.

    The metric columns (``customer_id`` aside), ``metrics_run_id`` (null for a customer the
    run did not score, as after a write-back), ``tags`` (its tag ids, null for none) and
    ``:LABEL``, the customer's tag labels joined by ``;`` (empty: none).

    Raises
    ------
    StoreError
        A metric column is named like a customer attribute (it would overwrite it), the
        write-back's own refusal.
    """
    clash = set(results.metrics.columns) & set(SCHEMAS["customers"].names) - {"customer_id"}
    if clash:
        raise StoreError(f"metric column(s) {sorted(clash)} would overwrite customer data")
    run_id = results.run.run_id
    metrics = _arrow(results.metrics)
    metrics = metrics.append_column("metrics_run_id", pa.array([run_id] * metrics.num_rows))
    labels = _labels(results.assignments)
    keys = pa.table({"customer_id": customer_ids, "_row": pa.array(range(len(customer_ids)))})
    joined = keys.join(metrics, "customer_id", join_type="left outer")
    joined = joined.join(labels, "customer_id", join_type="left outer").sort_by("_row")
    lists = tag_lists(results.assignments)
    pos = pc.index_in(joined.column("customer_id"), value_set=lists.column("customer_id"))
    joined = joined.append_column("tags", pc.take(lists.column("tags").combine_chunks(), pos))
    joined = joined.drop_columns(["customer_id", "_row"])
    col = pc.fill_null(joined.column(LABEL_COLUMN), "")
    return joined.set_column(joined.schema.get_field_index(LABEL_COLUMN), LABEL_COLUMN, col)


Write = Callable[[Path, list[str], pa.Table], None]
Header = Callable[..., list[str]]


def write_result_files(
    results: RunResults,
    folder: Path,
    customer_ids: pa.ChunkedArray,
    *,
    write: Write,
    header: Header,
    graph_tags: Sequence[str] = DEFAULT_GRAPH_TAGS,
) -> tuple[list[tuple[str, Path]], list[tuple[str, Path]], dict[str, int], dict[str, int]]:
    """Write the run's nodes and relationships but its lineage; returns (nodes, rels, counts).

    `write` and `header` are the customer files' own (`import_files`), so quoting, typing and
    the line-break check are one code path. Memberships and assignments of customers absent
    from `customer_ids` are left out, as the driver's ``MATCH`` leaves them out.
    """
    run_id = results.run.run_id
    nodes: list[tuple[str, Path]] = []
    rels: list[tuple[str, Path]] = []
    node_counts: dict[str, int] = {}
    rel_counts: dict[str, int] = {}

    props = run_properties(results.run, results.metrics, results.communities)
    props |= {"metrics_kept": True, "complete": True, "tags_kept": True}
    props["catalog"] = catalog_property(results.assignments, results.catalog)
    run = pa.table({k: [v] for k, v in props.items()})
    path = folder / "runs.csv"
    names = header(_joined(run), id_column="run_id", id_space="Run")
    write(path, _with_lists(names, run), _joined(run))
    nodes.append(("Run", path))
    node_counts["Run"] = 1

    communities = _arrow(results.communities)
    communities = communities.append_column("run_id", pa.array([run_id] * len(communities)))
    path = folder / "communities.csv"
    write(path, header(communities, id_column="community_id", id_space="Community"), communities)
    nodes.append(("Community", path))
    node_counts["Community"] = communities.num_rows

    known = pc.is_in(pa.array(results.metrics["customer_id"].astype(str)), customer_ids)
    members = _arrow(results.metrics[["customer_id", "community_id"]]).filter(known)
    members = members.filter(pc.is_in(members["community_id"], communities["community_id"]))
    path = folder / "in_community.csv"
    write(path, [":START_ID(Customer)", ":END_ID(Community)"], members)
    rels.append(("IN_COMMUNITY", path))
    rel_counts["IN_COMMUNITY"] = members.num_rows

    assigned = _arrow(graph_assignments(results.assignments, results.catalog, graph_tags))
    assigned = assigned.filter(pc.is_in(assigned["customer_id"], customer_ids))
    defs = _arrow(results.catalog[["tag_id", "name_zh", "name_en", "category", "rule"]])
    extra = sorted(set(assigned["tag_id"].to_pylist()) - set(defs["tag_id"].to_pylist()))
    defs = pa.concat_tables(
        [defs, pa.table({"tag_id": pa.array(extra, pa.string())})], promote_options="default"
    )
    path = folder / "tags.csv"
    write(path, header(defs, id_column="tag_id", id_space="Tag"), defs)
    nodes.append(("Tag", path))
    node_counts["Tag"] = defs.num_rows
    has_tag = pa.table(
        {
            "customer_id": assigned["customer_id"],
            "tag_id": assigned["tag_id"],
            "run_id": pa.array([run_id] * assigned.num_rows, pa.string()),
            "score": assigned["score"],
            "reason": assigned["reason"],
        }
    )
    path = folder / "has_tag.csv"
    write(path, [":START_ID(Customer)", ":END_ID(Tag)", *header(has_tag)[2:]], has_tag)
    rels.append(("HAS_TAG", path))
    rel_counts["HAS_TAG"] = has_tag.num_rows

    return nodes, rels, node_counts, rel_counts


#: The importer's array type of each list column's element type.
_ARRAY_TYPES = {pa.string(): "string[]"}


def _arrow(df: pd.DataFrame) -> pa.Table:
    """A frame as Arrow with plain ``string`` columns (pandas' string dtype gives large ones).

    NaN becomes null, hence no property, as ``pa.Table.from_pandas`` makes it for the driver.
    """
    table = pa.Table.from_pandas(df, preserve_index=False)
    schema = pa.schema(
        [
            pa.field(f.name, pa.string()) if pa.types.is_large_string(f.type) else f
            for f in table.schema
        ]
    )
    return table.cast(schema)


def _labels(assignments: pd.DataFrame) -> pa.Table:
    """Customer id -> its tag labels joined by ``;`` (the holders of `TAG_LABELS`' tags)."""
    held = assignments[assignments["tag_id"].isin(list(TAG_LABELS))]
    held = held.assign(label=held["tag_id"].map(dict(TAG_LABELS)))
    held = held.drop_duplicates(["customer_id", "label"]).sort_values(["customer_id", "label"])
    per = held.groupby("customer_id", sort=True)["label"].agg(";".join).reset_index()
    return pa.table(
        {
            "customer_id": pa.array(per["customer_id"].astype(str), pa.string()),
            LABEL_COLUMN: pa.array(per["label"], pa.string()),
        }
    )


def _with_lists(names: list[str], table: pa.Table) -> list[str]:
    """`names` (the header of `table`'s columns) with each list column typed as an array."""
    out = []
    for name, f in zip(names, table.schema, strict=True):
        if pa.types.is_list(f.type):
            out.append(f"{f.name}:{_ARRAY_TYPES[f.type.value_type]}")
        else:
            out.append(name)
    return out


def _joined(table: pa.Table) -> pa.Table:
    """List columns as ``;``-joined strings, the importer's array delimiter."""
    cols = []
    for f in table.schema:
        col = table.column(f.name)
        if pa.types.is_list(f.type):
            values = [None if v is None else ";".join(str(x) for x in v) for v in col.to_pylist()]
            col = pa.array(values, pa.string())
        cols.append(col)
    return pa.Table.from_arrays(cols, names=table.column_names)
