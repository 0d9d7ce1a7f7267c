"""Staged loads: a table is written in many transactions but becomes visible in one.

Each ``upsert_*`` call opens a ``(:Load {load_id, committed: false})``; the nodes and
relationships it creates carry ``_load``, and a changed customer gets its new values as
``_new_*`` (``_staged``) instead of in place. One transaction (``loads.commit``) makes the
table visible; the staged values are then applied and the :Load node deleted. While any
:Load node exists, readers use the ``.visible`` statements (:func:`visibility`), which skip
rows of uncommitted loads and take the staged values of committed ones; otherwise the plain
statements, at no cost. The next load deletes what an uncommitted (killed or failed) load
wrote. Not covered: a read that starts a moment before a load's first write.

Transactions and events are not in the graph: they live in the store's facts file
(`graph.store.neo4j.facts`), loaded there in one DuckDB transaction each, so only customers
and relations are staged here.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pyarrow as pa
import pyarrow.compute as pc

from graph.errors import StoreError
from graph.failpoints import failpoint
from graph.model import NATURAL_KEYS, RELATION_TYPES, SCHEMAS
from graph.store.base import UpsertCounts
from graph.store.neo4j.codec import column_lists, conform, dedup_first
from graph.store.neo4j.ingest_statements import DISCARD_LABELS, NEW
from graph.store.neo4j.session import Bolt
from graph.store.neo4j.statements import REL_TYPES, stmt

__all__ = ["upsert_customers", "upsert_rows", "visibility"]

_ATTRIBUTES = list(SCHEMAS["customers"].names[1:])


def visibility(bolt: Bolt) -> dict | None:
    """None when no load is open (the plain reads apply), else the visible-read parameters.

    ``pending``: loads not committed, whose rows readers skip; ``committed``: committed
    loads whose staged customer updates are not yet applied, whose values readers take.
    """
    loads = bolt.read(stmt("loads.list"))
    if not loads:
        return None
    return {
        "pending": [r[0] for r in loads if not r[1]],
        "committed": [r[0] for r in loads if r[1]],
    }


@contextmanager
def _table_load(bolt: Bolt, table: str) -> Iterator[int]:
    """One table's load: rows written inside carry its id and stay invisible until commit.

    The commit is one transaction; a process killed before it, or an exception, leaves the
    table as it was for every reader, and the next load deletes the rows
    (:func:`_finish_loads`). After the commit the staged customer updates are applied in
    batches; readers already see them through the committed load meanwhile.
    """
    _finish_loads(bolt)
    load = uuid.uuid4().int >> 76  # an integer marker: one property block per row
    bolt.write(stmt("loads.begin"), {"load": load, "table": table})
    yield load
    bolt.write(stmt("loads.commit"), {"load": load})
    _apply_staged(bolt, load)
    bolt.write(stmt("loads.end"), {"load": load})


def _apply_staged(bolt: Bolt, load: int) -> None:
    params = {"load": load, "columns": _ATTRIBUTES, "new": NEW}
    bolt.repeat_until_done(stmt("loads.apply_staged_batch"), params)


def _finish_loads(bolt: Bolt) -> None:
    """Finish committed loads and delete what uncommitted ones (killed, failed) wrote."""
    for load, committed, _table in bolt.read(stmt("loads.list")):
        if committed:
            _apply_staged(bolt, load)
        else:
            params = {"load": load, "columns": _ATTRIBUTES, "new": NEW}
            bolt.repeat_until_done(stmt("loads.discard_staged_batch"), params)
            for label in DISCARD_LABELS:
                bolt.repeat_until_done(stmt(f"loads.discard_{label.lower()}_batch"), {"load": load})
            for rel in REL_TYPES.values():
                bolt.repeat_until_done(
                    stmt("loads.discard_relations_batch"), {"load": load}, sub=rel
                )
        bolt.write(stmt("loads.end"), {"load": load})


def upsert_customers(bolt: Bolt, table: pa.Table) -> UpsertCounts:
    """Insert new customers, update changed ones: visible all at once, when committed.

    New customers carry the load's id and changed ones get their new values staged
    (``_new_*``) until the commit; see :func:`_table_load`.
    """
    table = conform(table, "customers")
    inserted = updated = 0
    with _table_load(bolt, "customers") as load:
        if bolt.count(stmt("counts.customers")) == 0:
            table = dedup_first(table, ["customer_id"])
            for batch in bolt.batches(table):
                params = {**column_lists(batch), "load": load}
                _, counters = bolt.write(stmt("customers.create"), params)
                inserted += counters.nodes_created
                failpoint("load.customers.batch")
        else:
            for batch in bolt.batches(table):
                params = {**column_lists(batch), "load": load, "new": NEW}
                rows, counters = bolt.write(stmt("customers.upsert"), params)
                inserted += counters.nodes_created
                updated += rows[0][0] if rows else 0
                failpoint("load.customers.batch")
    failpoint("load.customers.done")
    return UpsertCounts(inserted=inserted, updated=updated)


def upsert_rows(bolt: Bolt, name: str, table: pa.Table) -> UpsertCounts:
    """Insert relations whose natural key is new.

    Why two forms: while a relationship type is still empty (a first load), rows are
    deduplicated here and CREATEd outright; otherwise each row is MERGEd, so reloading
    inserts nothing. Single writer assumed, as for every load. Endpoints are resolved to
    node ids once per call (``customers.resolve``).

    Raises
    ------
    ValueError
        `name` is not relations (transactions and events go to the facts file).
    StoreError
        A relation type is unknown, or a row names a customer the store does not hold.
    """
    if name != "relations":
        raise ValueError(f"the graph takes relations, not {name} (those go to the facts file)")
    return _upsert_relations(bolt, conform(table, name))


def _upsert_relations(bolt: Bolt, table: pa.Table) -> UpsertCounts:
    types = table.column("type")
    unknown = pc.sum(pc.invert(pc.is_in(types, pa.array(list(REL_TYPES))))).as_py()
    if unknown:
        raise StoreError(f"relations: {unknown} row(s) with a type not in {RELATION_TYPES}")
    table = dedup_first(table, list(NATURAL_KEYS["relations"]))
    for end in ("src", "dst"):
        table = table.append_column(end, _node_ids(bolt, table.column(f"{end}_id")))
    table = table.drop_columns(["src_id", "dst_id"])
    types = table.column("type")
    inserted = 0
    with _table_load(bolt, "relations") as load:
        for rel_type, rel in REL_TYPES.items():
            part = table.filter(pc.equal(types, rel_type)).drop_columns(["type"])
            if part.num_rows == 0:
                continue
            empty = bolt.count(stmt("counts.relations"), rel) == 0
            form = stmt("relations.create" if empty else "relations.upsert")
            for batch in bolt.batches(part):
                params = {**column_lists(batch), "load": load}
                _, counters = bolt.write(form, params, sub=rel)
                inserted += counters.relationships_created
                failpoint("load.relations.batch")
    failpoint("load.relations.done")
    return UpsertCounts(inserted=inserted)


def _node_ids(bolt: Bolt, customer_ids: pa.ChunkedArray | pa.Array) -> pa.Array:
    """Internal node id of each customer id, looked up once per distinct id.

    Raises StoreError when a customer is missing: the loader validated every endpoint
    against the store, so a gap means the store changed underneath the load.
    """
    unique = pc.unique(customer_ids)
    found_ids: list = []
    found_nodes: list = []
    step = max(bolt.batch_size, 50_000)
    for start in range(0, len(unique), step):
        chunk = unique.slice(start, step).to_pylist()
        rows = bolt.read(stmt("customers.resolve"), {"ids": chunk})
        if rows:
            found_ids += rows[0][0]
            found_nodes += rows[0][1]
    pos = pc.index_in(customer_ids, value_set=pa.array(found_ids, pa.string()))
    missing = pc.sum(pc.is_null(pos)).as_py() or 0
    if missing:
        raise StoreError(f"{missing} row(s) name a customer that is not in the store")
    return pc.take(pa.array(found_nodes, pa.int64()), pos).combine_chunks()
