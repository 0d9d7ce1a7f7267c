"""Statements of the ingest side: the schema, staged loads, counts and chunked table reads.

Relations are typed relationships, one relationship per input row, typed by the relation type
in upper case (``referral`` -> ``:REFERRAL``). The natural key (src, dst, type, occurred_at) is
the pattern itself: ``MERGE (a)-[r:TYPE {occurred_at: ...}]->(b)``, so reloading never
duplicates an edge and the summary counter ``relationships_created`` is exactly the
"inserted" count the loader reports. While a type (or the Customer label) is still empty,
rows are deduplicated in Arrow and CREATEd instead: a first load skips MERGE's scan of the
start node's relationships. Transactions and events are not in the graph
(`graph.store.neo4j.facts`).

Loads are staged (see `graph.store.neo4j.loads`): rows of an open load carry ``_load``, a
changed customer's new values wait in ``_new_*`` properties; the ``.visible`` forms of the
reads skip the former and take the latter of committed loads.
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa

from graph.model import PROJECTION_COLUMNS, SCHEMAS
from graph.store.neo4j.codec import collect_column, ts_in, value_in, value_out
from graph.store.neo4j.statements import REL_TYPES, Registry

__all__ = ["DISCARD_LABELS", "NEW", "register"]

#: Prefix of a customer's staged attribute values (a customers load that has not committed).
NEW = "_new_"
#: Labels whose nodes a load creates (and a discarded load deletes).
DISCARD_LABELS = ("Customer",)
#: Example parameters of the statements that skip rows of pending loads.
VISIBLE_EXAMPLE: dict[str, Any] = {"pending": [1], "committed": [0]}

_EX_TS = 1_700_000_000_000_000
_CUST = SCHEMAS["customers"]
_ANY_REL = "|".join(REL_TYPES.values())
_LEAN = PROJECTION_COLUMNS
#: Columns a chunk read never finds null: the key its range filters on (a null fails the
#: range) and a relationship's type.
_NEVER_NULL = frozenset({"customer_id", "src_id", "type"})


def vis(x: str) -> str:
    """Cypher: `x` was not written by a load that is still pending ($pending)."""
    return f"({x}._load IS NULL OR NOT {x}._load IN $pending)"


def _staged_out(col: str, typ: pa.DataType) -> str:
    """Cypher: one attribute of customer ``c`` as readers see it, converted for Bolt."""
    plain, staged = value_out(col, typ, "c"), value_out(NEW + col, typ, "c")
    return f"CASE WHEN c._staged IN $committed THEN {staged} ELSE {plain} END"


def _staged(x: str, col: str) -> str:
    """Cypher: a customer attribute as readers see it (staged by a committed load, or plain)."""
    return f"CASE WHEN {x}._staged IN $committed THEN {x}.{NEW}{col} ELSE {x}.{col} END"


def _read_chunk(
    add, name: str, match: str, columns: dict[str, str], key: str, suffix: str = ""
) -> None:
    """One chunk of a table (rows whose range ``key`` is in [$lo, $hi)) as one record of lists.

    ``match`` holds ``{range}`` where the WHERE on ``key`` goes; a ``.visible`` suffix marks
    the form that skips rows of pending loads (it takes ``$pending`` and ``$committed``).
    Registered as ``<name>.read_chunk<suffix>`` and its ``.last`` twin (`Registry.chunk`)."""
    schema = SCHEMAS[name]
    ret = ", ".join(
        collect_column(c, schema.field(c).type, ref, nullable=c not in _NEVER_NULL)
        for c, ref in columns.items()
    )
    bounded = match.format(range=f"WHERE {key} >= $lo AND {key} < $hi")
    last = match.format(range=f"WHERE {key} >= $lo")
    extra = VISIBLE_EXAMPLE if "visible" in suffix else {}
    add(f"{name}.read_chunk{suffix}", f"{bounded} RETURN {ret}", lo="C0", hi="C9", **extra)
    add(f"{name}.read_chunk{suffix}.last", f"{last} RETURN {ret}", lo="C0", **extra)


def register(reg: Registry) -> None:
    """Add the ingest statements to `reg`."""
    add = reg.add
    # --- schema (run in this order when a store opens) ---
    add(
        "schema.customer_id_unique",
        "CREATE CONSTRAINT customer_id_unique IF NOT EXISTS "
        "FOR (c:Customer) REQUIRE c.customer_id IS UNIQUE",
    )
    add(
        "schema.tag_id_unique",
        "CREATE CONSTRAINT tag_id_unique IF NOT EXISTS FOR (t:Tag) REQUIRE t.tag_id IS UNIQUE",
    )
    add(
        "schema.run_id_unique",
        "CREATE CONSTRAINT run_id_unique IF NOT EXISTS FOR (r:Run) REQUIRE r.run_id IS UNIQUE",
    )
    add(
        "schema.meta_key_unique",
        "CREATE CONSTRAINT guanxi_meta_key_unique IF NOT EXISTS "
        "FOR (m:GuanxiMeta) REQUIRE m.key IS UNIQUE",
    )
    add(
        "schema.community_index",
        "CREATE INDEX community_run_id IF NOT EXISTS "
        "FOR (k:Community) ON (k.run_id, k.community_id)",
    )
    add(
        "schema.customer_metrics_run_index",
        "CREATE INDEX customer_metrics_run IF NOT EXISTS FOR (c:Customer) ON (c.metrics_run_id)",
    )
    add(
        "schema.customer_prev_run_index",
        "CREATE INDEX customer_prev_run IF NOT EXISTS FOR (c:Customer) ON (c.prev_run_id)",
    )
    add(
        "schema.customer_staged_index",
        "CREATE INDEX customer_staged IF NOT EXISTS FOR (c:Customer) ON (c._staged)",
    )
    add(
        "schema.has_tag_run_index",
        "CREATE INDEX has_tag_run IF NOT EXISTS FOR ()-[h:HAS_TAG]-() ON (h.run_id)",
    )
    add("schema.await_indexes", "CALL db.awaitIndexes(300)")
    # Where the server keeps its data: the default facts file goes inside (`facts`).
    add(
        "server.data_directory",
        "SHOW SETTINGS YIELD name, value WHERE name = 'server.directories.data' RETURN value",
    )

    # --- input tables ---
    _cust_params = {c: [None] for c in _CUST.names}
    _cust_params.update(customer_id=["C1"], birth_date=[7000], registered_at=[_EX_TS], age=[40])
    add(
        "customers.upsert",
        "UNWIND range(0, size($customer_id) - 1) AS i "
        "WITH $customer_id[i] AS id, {"
        + ", ".join(f"{c}: {value_in(_CUST.field(c).type, f'${c}[i]')}" for c in _CUST.names[1:])
        + "} AS props "
        "OPTIONAL MATCH (c:Customer {customer_id: id}) "
        "WITH id, props, c, c IS NOT NULL AND NOT all(k IN keys(props) "
        "  WHERE coalesce(c[k] = props[k], c[k] IS NULL AND props[k] IS NULL)) AS changed "
        "WHERE c IS NULL OR changed "
        "FOREACH (_ IN CASE WHEN c IS NULL THEN [1] ELSE [] END | "
        "  MERGE (n:Customer {customer_id: id}) ON CREATE SET n += props, n._load = $load) "
        # a changed customer keeps its values until the load commits: the new ones are staged
        "FOREACH (_ IN CASE WHEN changed THEN [1] ELSE [] END | SET c._staged = $load "
        "  FOREACH (k IN keys(props) | SET c[$new + k] = props[k])) "
        "RETURN count(CASE WHEN changed THEN 1 END) AS updated",
        **_cust_params,
        load=1,
        new="_new_",
    )

    # First load (no Customer node yet; ids deduplicated client-side): no lookup, no comparison.
    add(
        "customers.create",
        "UNWIND range(0, size($customer_id) - 1) AS i "
        "CREATE (n:Customer {customer_id: $customer_id[i], _load: $load, "
        + ", ".join(f"{c}: {value_in(_CUST.field(c).type, f'${c}[i]')}" for c in _CUST.names[1:])
        + "})",
        **_cust_params,
        load=1,
    )

    _REL_PARAMS: dict[str, Any] = dict(
        src=[0],
        dst=[1],
        occurred_at=[_EX_TS],
        amount=[10.0],
        count=[1],
        channel=["app"],
        attributes=[None],
    )
    # Endpoints come as internal node ids resolved once per load (customers.resolve): a
    # node-by-id seek costs the server a fraction of a unique-index seek, two per row.
    # ``id()`` is deprecated in favour of ``elementId()``, but an element id is a long string
    # per endpoint over Bolt; the ids never leave one load, so the compact form is used.
    _BY_ID = (
        "UNWIND range(0, size($src) - 1) AS i "
        "MATCH (a) WHERE id(a) = $src[i] "
        "MATCH (b) WHERE id(b) = $dst[i] "
    )
    add(
        "relations.upsert",
        _BY_ID + f"MERGE (a)-[r:__REL__ {{occurred_at: {ts_in('$occurred_at[i]')}}}]->(b) "
        "ON CREATE SET r.amount = $amount[i], r.count = $count[i], r.channel = $channel[i], "
        "  r.attributes = $attributes[i], r._load = $load",
        **_REL_PARAMS,
        load=1,
    )
    # First load of a relationship type (none of that type exists, rows deduplicated client-side):
    # CREATE skips MERGE's scan of a's relationships.
    add(
        "relations.create",
        _BY_ID + f"CREATE (a)-[:__REL__ {{occurred_at: {ts_in('$occurred_at[i]')}, "
        "amount: $amount[i], count: $count[i], channel: $channel[i], attributes: $attributes[i], "
        "_load: $load}]->(b)",
        **_REL_PARAMS,
        load=1,
    )
    add(
        "customers.resolve",
        "UNWIND $ids AS id MATCH (c:Customer {customer_id: id}) "
        "RETURN collect(id) AS customer_id, collect(id(c)) AS node_id",
        ids=["C1"],
    )

    add("counts.customers", "MATCH (c:Customer) RETURN count(c) AS n")
    add("counts.relations", "MATCH ()-[r:__REL__]->() RETURN count(r) AS n")
    # One record holding every id: a Python record per customer is the costly part of a read.
    add("customers.ids", "MATCH (c:Customer) RETURN collect(c.customer_id) AS ids")

    # --- load staging: a table is visible whole or not at all ---
    add(
        "loads.list",
        "MATCH (l:Load) RETURN l.load_id AS load_id, l.committed AS committed, l.table AS table",
    )
    add(
        "loads.begin",
        "CREATE (:Load {load_id: $load, table: $table, committed: false})",
        load=1,
        table="relations",
    )
    # The one transaction that makes a loaded table visible.
    add(
        "loads.commit",
        "MATCH (l:Load {load_id: $load}) SET l.committed = true RETURN count(l) AS n",
        load=1,
    )
    add("loads.end", "MATCH (l:Load {load_id: $load}) DELETE l", load=1)
    add(
        "loads.apply_staged_batch",
        "MATCH (c:Customer) WHERE c._staged = $load WITH c LIMIT $batch "
        "FOREACH (k IN $columns | SET c[k] = c[$new + k], c[$new + k] = null) "
        "REMOVE c._staged RETURN count(*) AS n",
        load=1,
        batch=10000,
        columns=["name"],
        new=NEW,
    )
    add(
        "loads.discard_staged_batch",
        "MATCH (c:Customer) WHERE c._staged = $load WITH c LIMIT $batch "
        "FOREACH (k IN $columns | SET c[$new + k] = null) REMOVE c._staged RETURN count(*) AS n",
        load=1,
        batch=10000,
        columns=["name"],
        new=NEW,
    )
    for label in DISCARD_LABELS:
        add(
            f"loads.discard_{label.lower()}_batch",
            f"MATCH (x:{label}) WHERE x._load = $load WITH x LIMIT $batch DETACH DELETE x "
            "RETURN count(*) AS n",
            load=1,
            batch=10000,
        )
    add(
        "loads.discard_relations_batch",
        "MATCH ()-[r:__REL__]->() WHERE r._load = $load WITH r LIMIT $batch DELETE r "
        "RETURN count(*) AS n",
        load=1,
        batch=10000,
    )

    # The forms readers use while a load is pending or its staged updates are not yet applied
    # (a :Load node exists); otherwise the plain statements above, at no cost.
    add(
        "counts.customers.visible",
        f"MATCH (c:Customer) WHERE {vis('c')} RETURN count(c) AS n",
        **VISIBLE_EXAMPLE,
    )
    add(
        "counts.relations.visible",
        f"MATCH ()-[r:__REL__]->() WHERE {vis('r')} RETURN count(r) AS n",
        **VISIBLE_EXAMPLE,
    )
    add(
        "customers.ids.visible",
        f"MATCH (c:Customer) WHERE {vis('c')} RETURN collect(c.customer_id) AS ids",
        **VISIBLE_EXAMPLE,
    )

    _read_chunk(
        add,
        "customers",
        "MATCH (x:Customer) {range} AND " + vis("x"),
        {c: ("x.customer_id" if c == "customer_id" else _staged("x", c)) for c in _CUST.names},
        "x.customer_id",
        ".visible",
    )
    _read_chunk(
        add,
        "customers",
        "MATCH (x:Customer) {range}",
        {c: f"x.{c}" for c in _CUST.names},
        "x.customer_id",
    )
    _REL_MATCH = f"MATCH (a:Customer) {{range}} MATCH (a)-[r:{_ANY_REL}]->(b:Customer)"
    _REL_REFS = {
        "src_id": "a.customer_id",
        "dst_id": "b.customer_id",
        "type": "toLower(type(r))",
        **{c: f"r.{c}" for c in SCHEMAS["relations"].names[3:]},
    }
    _read_chunk(add, "relations", _REL_MATCH, _REL_REFS, "a.customer_id")
    _REL_MATCH_V = (
        f"MATCH (a:Customer) {{range}} AND {vis('a')} MATCH (a)-[r:{_ANY_REL}]->(b:Customer) "
        f"WHERE {vis('r')} AND {vis('b')}"
    )
    _read_chunk(add, "relations", _REL_MATCH_V, _REL_REFS, "a.customer_id", ".visible")
    # The projection's read: only what the interaction graph needs.
    _read_chunk(
        add,
        "relations",
        _REL_MATCH,
        {c: _REL_REFS[c] for c in _LEAN},
        "a.customer_id",
        "_projection",
    )
    _read_chunk(
        add,
        "relations",
        _REL_MATCH_V,
        {c: _REL_REFS[c] for c in _LEAN},
        "a.customer_id",
        "_projection.visible",
    )
    # Every ``$step``-th customer id in the server's own string order: the chunk boundaries
    # (``range(a, b, s)`` with a > b yields ``[a]`` on Neo4j 5.26, hence the ``WHERE``).
    add(
        "customers.chunk_cuts",
        "MATCH (c:Customer) WITH c.customer_id AS id ORDER BY id WITH collect(id) AS ids "
        "RETURN [i IN range($step, size(ids) - 1, $step) WHERE i < size(ids) | ids[i]] AS cuts",
        step=10000,
    )
    add(
        "customers.get",
        "MATCH (c:Customer {customer_id: $customer_id}) RETURN "
        + ", ".join(f"{value_out(c, _CUST.field(c).type, 'c')} AS {c}" for c in _CUST.names),
        customer_id="C1",
    )
    add(
        "customers.get.visible",
        f"MATCH (c:Customer {{customer_id: $customer_id}}) WHERE {vis('c')} RETURN "
        + ", ".join(
            f"{value_out(c, _CUST.field(c).type, 'c')} AS {c}"
            if c == "customer_id"
            else f"{_staged_out(c, _CUST.field(c).type)} AS {c}"
            for c in _CUST.names
        ),
        customer_id="C1",
        **VISIBLE_EXAMPLE,
    )
