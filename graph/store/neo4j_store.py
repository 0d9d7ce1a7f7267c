"""The production store: a Neo4j 5 server over Bolt. Every Cypher string of the project lives here.

Graph model (what an analyst sees in Neo4j Browser)::

    (:Customer {customer_id, name, ..., birth_date: Date, registered_at: LocalDateTime,
                <metrics of the latest run>, metrics_run_id, community_id})
    (:Customer)-[:REFERRAL|TRANSFER|LIKE|COMMENT|SHARE|MESSAGE|FAMILY|COLLEAGUE
                 {occurred_at: LocalDateTime, amount, count, channel, attributes}]->(:Customer)
    (:Customer)-[:HAS_TRANSACTION]->(:Transaction {key, customer_id, occurred_at, amount, ...})
    (:Customer)-[:HAS_EVENT]->(:Event {key, customer_id, occurred_at, event_type, ...})
    (:Customer)-[:IN_COMMUNITY]->(:Community {run_id, community_id, size, density, ...})
    (:Customer)-[:HAS_TAG {run_id, score, reason}]->(:Tag {tag_id, name_zh, name_en, ...})
    (:Run {run_id, created_at, params, input_counts, stats, catalog, ...})
    (:GuanxiMeta {key, value: [strings]})   store metadata, e.g. the declared PII columns
    plus the social and risk tags of the latest run as labels (:OpinionLeader, :Bridge, ...)

Choices, and why
----------------
Relations are typed relationships, one relationship per input row, typed by the relation type in
upper case (``referral`` -> ``:REFERRAL``). The natural key (src, dst, type, occurred_at) is the
pattern itself: ``MERGE (a)-[r:TYPE {occurred_at: ...}]->(b)``, so reloading never duplicates an
edge and the summary counter ``relationships_created`` is exactly the "inserted" count the loader
reports. Endpoints are resolved once per load to internal node ids (one unique-index lookup per
distinct customer, not two per row). While a type (or the Customer, Transaction, Event label) is
still empty, rows are deduplicated in Arrow and CREATEd instead: a first load skips MERGE's
scan of the start node's relationships.
Relationship types and labels cannot be Cypher parameters; they are interpolated into statement
templates only from the fixed whitelists below (:data:`REL_TYPES`, :data:`TAG_LABELS`), checked
in :meth:`Statement.render`, which raises :class:`~graph.errors.UnsafeIdentifier` otherwise.

Transactions and events are nodes linked to their customer. Their natural key contains nullable
columns (category, brand, device_id, ...), which Neo4j cannot MERGE on, so the store computes
one ``key`` string per row in Arrow (nulls marked, columns joined by a control character),
holds it under a uniqueness constraint, drops duplicates inside a batch in Arrow, and CREATEs only
rows whose key is absent. Nodes rather than arrays on the customer keep a load append-only (no
rewriting of a growing list property) and make ``read_table`` exact, row for row.

Times are stored as Neo4j temporal values (LocalDateTime in UTC, Date) so that Browser shows
them readably; they travel over Bolt as epoch microseconds / epoch days and are converted inside
Cypher, which keeps the Python side columnar (no ``datetime`` object per row).

Reads of whole tables (``read_table``: the projection, the features) are chunked by customer
(``read_chunk`` customers per chunk, default 10,000; ``GUANXI_NEO4J_READ_CHUNK``; boundaries
are every n-th customer_id in the server's order, transactions and events are ranged on their
``key``, which starts with the customer id). Each chunk comes back as ONE record of column lists
(``collect`` per column, plus a ``collect(x IS NULL)`` mask per column since ``collect`` skips
nulls; temporal values as ISO strings that Arrow parses vectorised). This avoids a Python
``Record`` per row: measured on 1.29M relations, 156 s -> 24 s wall, client CPU 47 s -> 2 s,
server CPU 32 s -> 12 s. Parallel writers were measured and rejected: two concurrent relation
loaders on 2 cores mostly fail with ``Transaction.Outdated`` and retry (throughput fell 4x).
Measured on this 2-core machine (Neo4j 5.26 Community, slotted runtime): a bare relationship
CREATE between nodes found by id costs the server ~35 us of CPU, the epoch->LocalDateTime
conversion and four properties ~15 us more, MERGE ~20 us more, and each unique-index seek
~10 us; so a first load runs near 25-30k relations/s and a reload (MERGE) near half that.

Writes go through the driver's managed transactions (``session.execute_write``) in client-side
batches of ``batch_size`` rows (default 20,000; ``GUANXI_NEO4J_BATCH_SIZE``), so the driver
retries transient failures; we add no retry loop. ``CALL {...} IN TRANSACTIONS`` would need
auto-commit transactions, which the driver does not retry.

Run history: ``:Run`` nodes are kept for every run (they are the provenance record). Metric
properties, ``IN_COMMUNITY`` membership, ``:Community`` nodes and the tag labels reflect the
latest run only; publishing a run replaces them (old ``:Community`` nodes are deleted with their
membership, so none is left orphaned).

Crash safety: a run is written as ``:Run {complete: false}`` and made visible by one final
transaction (:data:`PUBLISH_RUN`); every reader (``list_runs``, the metric reads, the Browser
kit) selects the latest *complete* run. While a run is written, readers of the previous one
are served it unchanged: its communities keep their own ``run_id``, its ``HAS_TAG`` carry
theirs, and each customer's previous values move to ``prev_*`` properties (``prev_run_id``)
before the new ones overwrite the plain ones, so a run's metrics are read as "plain if
``metrics_run_id`` is the run, else ``prev_*`` if ``prev_run_id`` is". Labels are rewritten
only after the publish (they style, they do not select). Leftovers of a run that died
unpublished are deleted by the next ``write_run``.

Loads are staged per table: a table is written in many transactions, so each ``upsert_*``
call opens a ``(:Load {load_id, committed: false})``; the nodes and relationships it creates
carry ``_load``, and a changed customer gets its new values as ``_new_*`` (``_staged``)
instead of in place. One transaction (:data:`COMMIT_LOAD`) makes the table visible; the
staged values are then applied and the :Load node deleted. While any :Load node exists,
readers use the ``.visible`` statements, which skip rows of uncommitted loads and take the
staged values of committed ones; otherwise the plain statements, at no cost. The next load
deletes what an uncommitted (killed or failed) load wrote. Not covered: a read that starts
a moment before a load's first write.

``HAS_TAG`` relationships carry ``run_id`` and are kept for the last ``history_runs`` runs
(default 3; ``GUANXI_NEO4J_HISTORY_RUNS``) so that ``guanxi tags diff`` can compare recent runs;
older runs' assignments are deleted, together with ``:Tag`` nodes no longer used. Reading
metrics or communities of an older run raises :class:`RunResultsUnavailable` (a
:class:`~graph.errors.RunNotFound`) that says so; reading the tags of a pruned run raises it
too. The per-run tag catalog (with counts) is kept on the ``:Run`` node, so ``read_catalog``
works for every run.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Self

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from graph.errors import (
    CustomerNotFound,
    RunNotFound,
    StoreError,
    StoreUnavailable,
    UnsafeIdentifier,
)
from graph.failpoints import failpoint
from graph.model import (
    NATURAL_KEYS,
    PROJECTION_COLUMNS,
    RELATION_TYPES,
    SCHEMAS,
    TABLES,
    RunInfo,
)
from graph.store.base import EgoNetwork, UpsertCounts, checked_pii_columns

__all__ = [
    "REL_TYPES",
    "TAG_LABELS",
    "Neo4jStore",
    "RunResultsUnavailable",
    "Statement",
    "all_statements",
]

DEFAULT_BATCH_SIZE = 20_000
DEFAULT_HISTORY_RUNS = 3
DEFAULT_READ_CHUNK = 10_000

#: Relationship type of each relation type: the only relationship types a template may take.
REL_TYPES: dict[str, str] = {t: t.upper() for t in RELATION_TYPES}

#: Tag ids written back as node labels (latest run only), for styling in Neo4j Browser.
TAG_LABELS: dict[str, str] = {
    "opinion_leader": "OpinionLeader",
    "bridge": "Bridge",
    "community_core": "CommunityCore",
    "high_influence": "HighInfluence",
    "super_referrer": "SuperReferrer",
    "socially_active": "SociallyActive",
    "socially_isolated": "SociallyIsolated",
    "fraud_risk": "FraudRisk",
    "credit_risk": "CreditRisk",
    "churn_risk": "ChurnRisk",
    "complaint_risk": "ComplaintRisk",
}

_IDENT = re.compile(r"^[A-Z][A-Za-z_]*$")
_ANY_REL = "|".join(REL_TYPES.values())

# --- Cypher fragments: epoch micros / days <-> temporal values --------------------------------


def _ts_in(x: str) -> str:
    """Epoch microseconds -> LocalDateTime (UTC wall clock); floor division for pre-1970."""
    return (
        f"CASE WHEN {x} IS NULL THEN null ELSE localdatetime({{datetime: datetime({{"
        f"epochSeconds: {x} / 1000000 - CASE WHEN {x} % 1000000 < 0 THEN 1 ELSE 0 END, "
        f"nanosecond: (({x} % 1000000) + 1000000) % 1000000 * 1000}})}}) END"
    )


def _ts_out(x: str) -> str:
    return (
        f"CASE WHEN {x} IS NULL THEN null ELSE "
        f"datetime({{datetime: {x}, timezone: 'UTC'}}).epochSeconds * 1000000 + {x}.microsecond END"
    )


def _date_in(x: str) -> str:
    return (
        f"CASE WHEN {x} IS NULL THEN null ELSE "
        f"date({{year: 1970, month: 1, day: 1}}) + duration({{days: {x}}}) END"
    )


def _date_out(x: str) -> str:
    return (
        f"CASE WHEN {x} IS NULL THEN null ELSE "
        f"duration.inDays(date({{year: 1970, month: 1, day: 1}}), {x}).days END"
    )


def _value_in(col: str, typ: pa.DataType, param: str) -> str:
    if typ == pa.timestamp("us"):
        return _ts_in(param)
    if typ == pa.date32():
        return _date_in(param)
    return param


def _value_out(col: str, typ: pa.DataType, var: str) -> str:
    ref = f"{var}.{col}"
    if typ == pa.timestamp("us"):
        return _ts_out(ref)
    if typ == pa.date32():
        return _date_out(ref)
    return ref


# --- the statement registry --------------------------------------------------------------------


@dataclass(frozen=True)
class Statement:
    """One Cypher statement the store sends, defined once and executed from here.

    ``cypher`` may hold the placeholder ``__REL__`` (a relationship type from
    :data:`REL_TYPES`) or ``__LABEL__`` (a label from :data:`TAG_LABELS`); nothing else is
    ever interpolated, everything else is a ``$parameter``.
    """

    name: str
    cypher: str
    parameters: dict[str, Any] = field(default_factory=dict)

    @property
    def placeholder(self) -> str | None:
        for p in ("__REL__", "__LABEL__"):
            if p in self.cypher:
                return p
        return None

    def render(self, value: str | None = None) -> str:
        """The Cypher text, with the whitelisted type or label filled in.

        Labels and relationship types cannot be parameters, so this check is what keeps
        injected text out of the query; it raises rather than asserts so that it also holds
        under ``python -O``.

        Raises
        ------
        UnsafeIdentifier
            `value` is not on the placeholder's whitelist (or given to a statement without one).
        """
        ph = self.placeholder
        if ph is None:
            if value is not None:
                raise UnsafeIdentifier(value, where=f"statement {self.name} (takes no label)")
            return self.cypher
        allowed = tuple(REL_TYPES.values() if ph == "__REL__" else TAG_LABELS.values())
        if not (isinstance(value, str) and value in allowed and _IDENT.match(value)):
            raise UnsafeIdentifier(value, where=f"statement {self.name}", allowed=allowed)
        return self.cypher.replace(ph, value)

    def variants(self) -> list[tuple[str, str]]:
        """(name, cypher) for every whitelisted value (one entry when not a template)."""
        ph = self.placeholder
        if ph is None:
            return [(self.name, self.cypher)]
        values = REL_TYPES.values() if ph == "__REL__" else TAG_LABELS.values()
        return [(f"{self.name}[{v}]", self.render(v)) for v in values]


STATEMENTS: dict[str, Statement] = {}


def _stmt(name: str, cypher: str, /, **parameters: Any) -> Statement:
    if name in STATEMENTS:
        raise UnsafeIdentifier(name, where="statement registry (name already taken)")
    s = Statement(name, " ".join(cypher.split()), parameters)
    STATEMENTS[name] = s
    return s


def all_statements() -> list[dict]:
    """Every Cypher statement the project can send, as ``{"name", "cypher", "parameters"}``.

    Templates are expanded for every whitelisted relationship type or label, so the list is
    exactly what can reach a server (``guanxi neo4j statements --json`` prints it).
    """
    out = []
    for s in STATEMENTS.values():
        for name, cypher in s.variants():
            out.append({"name": name, "cypher": cypher, "parameters": dict(s.parameters)})
    return out


_EX_TS = 1_700_000_000_000_000
_CUST = SCHEMAS["customers"]

SCHEMA_SETUP: tuple[Statement, ...] = (
    _stmt(
        "schema.customer_id_unique",
        "CREATE CONSTRAINT customer_id_unique IF NOT EXISTS "
        "FOR (c:Customer) REQUIRE c.customer_id IS UNIQUE",
    ),
    _stmt(
        "schema.transaction_key_unique",
        "CREATE CONSTRAINT transaction_key_unique IF NOT EXISTS "
        "FOR (t:Transaction) REQUIRE t.key IS UNIQUE",
    ),
    _stmt(
        "schema.event_key_unique",
        "CREATE CONSTRAINT event_key_unique IF NOT EXISTS FOR (e:Event) REQUIRE e.key IS UNIQUE",
    ),
    _stmt(
        "schema.tag_id_unique",
        "CREATE CONSTRAINT tag_id_unique IF NOT EXISTS FOR (t:Tag) REQUIRE t.tag_id IS UNIQUE",
    ),
    _stmt(
        "schema.run_id_unique",
        "CREATE CONSTRAINT run_id_unique IF NOT EXISTS FOR (r:Run) REQUIRE r.run_id IS UNIQUE",
    ),
    _stmt(
        "schema.meta_key_unique",
        "CREATE CONSTRAINT guanxi_meta_key_unique IF NOT EXISTS "
        "FOR (m:GuanxiMeta) REQUIRE m.key IS UNIQUE",
    ),
    _stmt(
        "schema.community_index",
        "CREATE INDEX community_run_id IF NOT EXISTS "
        "FOR (k:Community) ON (k.run_id, k.community_id)",
    ),
    _stmt(
        "schema.customer_metrics_run_index",
        "CREATE INDEX customer_metrics_run IF NOT EXISTS FOR (c:Customer) ON (c.metrics_run_id)",
    ),
    _stmt(
        "schema.customer_prev_run_index",
        "CREATE INDEX customer_prev_run IF NOT EXISTS FOR (c:Customer) ON (c.prev_run_id)",
    ),
    _stmt(
        "schema.customer_staged_index",
        "CREATE INDEX customer_staged IF NOT EXISTS FOR (c:Customer) ON (c._staged)",
    ),
    _stmt(
        "schema.has_tag_run_index",
        "CREATE INDEX has_tag_run IF NOT EXISTS FOR ()-[h:HAS_TAG]-() ON (h.run_id)",
    ),
)
AWAIT_INDEXES = _stmt("schema.await_indexes", "CALL db.awaitIndexes(300)")

# --- input tables ---
_cust_params = {c: [None] for c in _CUST.names}
_cust_params.update(customer_id=["C1"], birth_date=[7000], registered_at=[_EX_TS], age=[40])
UPSERT_CUSTOMERS = _stmt(
    "customers.upsert",
    "UNWIND range(0, size($customer_id) - 1) AS i "
    "WITH $customer_id[i] AS id, {"
    + ", ".join(f"{c}: {_value_in(c, _CUST.field(c).type, f'${c}[i]')}" for c in _CUST.names[1:])
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
CREATE_CUSTOMERS = _stmt(
    "customers.create",
    "UNWIND range(0, size($customer_id) - 1) AS i "
    "CREATE (n:Customer {customer_id: $customer_id[i], _load: $load, "
    + ", ".join(f"{c}: {_value_in(c, _CUST.field(c).type, f'${c}[i]')}" for c in _CUST.names[1:])
    + "})",
    **_cust_params,
    load=1,
)

_REL = SCHEMAS["relations"]
_REL_PARAMS: dict[str, Any] = dict(
    src=[0],
    dst=[1],
    occurred_at=[_EX_TS],
    amount=[10.0],
    count=[1],
    channel=["app"],
    attributes=[None],
)
# Endpoints come as internal node ids resolved once per load (RESOLVE_CUSTOMERS): a node-by-id
# seek costs the server a fraction of a unique-index seek, and two per row add up at 10M rows.
# ``id()`` is deprecated in favour of ``elementId()``, but an element id is a ~40-character
# string per endpoint over Bolt; the ids never leave one load, so the compact form is used.
_BY_ID = (
    "UNWIND range(0, size($src) - 1) AS i "
    "MATCH (a) WHERE id(a) = $src[i] "
    "MATCH (b) WHERE id(b) = $dst[i] "
)
UPSERT_RELATIONS = _stmt(
    "relations.upsert",
    _BY_ID + f"MERGE (a)-[r:__REL__ {{occurred_at: {_ts_in('$occurred_at[i]')}}}]->(b) "
    "ON CREATE SET r.amount = $amount[i], r.count = $count[i], r.channel = $channel[i], "
    "  r.attributes = $attributes[i], r._load = $load",
    **_REL_PARAMS,
    load=1,
)
# First load of a relationship type (none of that type exists, rows deduplicated client-side):
# CREATE skips MERGE's scan of a's relationships, ~20 us of server CPU per row.
CREATE_RELATIONS = _stmt(
    "relations.create",
    _BY_ID + f"CREATE (a)-[:__REL__ {{occurred_at: {_ts_in('$occurred_at[i]')}, "
    "amount: $amount[i], count: $count[i], channel: $channel[i], attributes: $attributes[i], "
    "_load: $load}]->(b)",
    **_REL_PARAMS,
    load=1,
)
RESOLVE_CUSTOMERS = _stmt(
    "customers.resolve",
    "UNWIND $ids AS id MATCH (c:Customer {customer_id: id}) "
    "RETURN collect(id) AS customer_id, collect(id(c)) AS node_id",
    ids=["C1"],
)


def _insert_keyed(name: str, label: str, rel: str) -> tuple[Statement, Statement]:
    """(insert, create) for a keyed table: insert skips rows whose key exists; create is the
    first-load form for an empty label (keys deduplicated client-side; the uniqueness
    constraint still refuses a duplicate)."""
    schema = SCHEMAS[name]
    props = ", ".join(
        f"{c}: {_value_in(c, schema.field(c).type, f'${c}[i]')}" for c in schema.names
    )
    params: dict[str, Any] = {c: [None] for c in schema.names}
    params.update(key=["k"], node=[0], customer_id=["C1"], occurred_at=[_EX_TS], load=1)
    create = (
        "MATCH (c) WHERE id(c) = $node[i] "
        f"CREATE (c)-[:{rel}]->(x:{label} {{key: $key[i], _load: $load, {props}}})"
    )
    return (
        _stmt(
            f"{name}.insert",
            "UNWIND range(0, size($key) - 1) AS i "
            "WITH i WHERE NOT EXISTS { MATCH (y:" + label + " {key: $key[i]}) } " + create,
            **params,
        ),
        _stmt(f"{name}.create", "UNWIND range(0, size($key) - 1) AS i " + create, **params),
    )


INSERT_TRANSACTIONS, CREATE_TRANSACTIONS = _insert_keyed(
    "transactions", "Transaction", "HAS_TRANSACTION"
)
INSERT_EVENTS, CREATE_EVENTS = _insert_keyed("events", "Event", "HAS_EVENT")

COUNT_CUSTOMERS = _stmt("counts.customers", "MATCH (c:Customer) RETURN count(c) AS n")
COUNT_RELATIONS = _stmt("counts.relations", "MATCH ()-[r:__REL__]->() RETURN count(r) AS n")
COUNT_TRANSACTIONS = _stmt("counts.transactions", "MATCH (t:Transaction) RETURN count(t) AS n")
COUNT_EVENTS = _stmt("counts.events", "MATCH (e:Event) RETURN count(e) AS n")
# One record holding every id: a record per customer cost ~36 us of client time each at 1M.
CUSTOMER_IDS = _stmt("customers.ids", "MATCH (c:Customer) RETURN collect(c.customer_id) AS ids")

# --- load staging: a table is visible whole or not at all ---
#: Prefix of a customer's staged attribute values (a customers load that has not committed).
NEW = "_new_"
LOADS = _stmt(
    "loads.list",
    "MATCH (l:Load) RETURN l.load_id AS load_id, l.committed AS committed, l.table AS table",
)
BEGIN_LOAD = _stmt(
    "loads.begin",
    "CREATE (:Load {load_id: $load, table: $table, committed: false})",
    load=1,
    table="relations",
)
#: The one transaction that makes a loaded table visible.
COMMIT_LOAD = _stmt(
    "loads.commit",
    "MATCH (l:Load {load_id: $load}) SET l.committed = true RETURN count(l) AS n",
    load=1,
)
END_LOAD = _stmt("loads.end", "MATCH (l:Load {load_id: $load}) DELETE l", load=1)
APPLY_STAGED_BATCH = _stmt(
    "loads.apply_staged_batch",
    "MATCH (c:Customer) WHERE c._staged = $load WITH c LIMIT $batch "
    "FOREACH (k IN $columns | SET c[k] = c[$new + k], c[$new + k] = null) "
    "REMOVE c._staged RETURN count(*) AS n",
    load=1,
    batch=10000,
    columns=["name"],
    new=NEW,
)
DISCARD_STAGED_BATCH = _stmt(
    "loads.discard_staged_batch",
    "MATCH (c:Customer) WHERE c._staged = $load WITH c LIMIT $batch "
    "FOREACH (k IN $columns | SET c[$new + k] = null) REMOVE c._staged RETURN count(*) AS n",
    load=1,
    batch=10000,
    columns=["name"],
    new=NEW,
)
DISCARD_NODES_BATCH = {
    label: _stmt(
        f"loads.discard_{label.lower()}_batch",
        f"MATCH (x:{label}) WHERE x._load = $load WITH x LIMIT $batch DETACH DELETE x "
        "RETURN count(*) AS n",
        load=1,
        batch=10000,
    )
    for label in ("Customer", "Transaction", "Event")
}
DISCARD_RELATIONS_BATCH = _stmt(
    "loads.discard_relations_batch",
    "MATCH ()-[r:__REL__]->() WHERE r._load = $load WITH r LIMIT $batch DELETE r "
    "RETURN count(*) AS n",
    load=1,
    batch=10000,
)


def _vis(x: str) -> str:
    """Cypher: `x` was not written by a load that is still pending ($pending)."""
    return f"({x}._load IS NULL OR NOT {x}._load IN $pending)"


def _staged_out(col: str, typ: pa.DataType) -> str:
    """Cypher: one attribute of customer ``c`` as readers see it, converted for Bolt."""
    plain, staged = _value_out(col, typ, "c"), _value_out(NEW + col, typ, "c")
    return f"CASE WHEN c._staged IN $committed THEN {staged} ELSE {plain} END"


def _staged(x: str, col: str) -> str:
    """Cypher: a customer attribute as readers see it (staged by a committed load, or plain)."""
    return f"CASE WHEN {x}._staged IN $committed THEN {x}.{NEW}{col} ELSE {x}.{col} END"


# The forms readers use while a load is pending or its staged updates are not yet applied
# (a :Load node exists); otherwise the plain statements above, at no cost.
_VIS = {"pending": [1], "committed": [0]}
COUNT_CUSTOMERS_V = _stmt(
    "counts.customers.visible",
    f"MATCH (c:Customer) WHERE {_vis('c')} RETURN count(c) AS n",
    **_VIS,
)
COUNT_RELATIONS_V = _stmt(
    "counts.relations.visible",
    f"MATCH ()-[r:__REL__]->() WHERE {_vis('r')} RETURN count(r) AS n",
    **_VIS,
)
COUNT_TRANSACTIONS_V = _stmt(
    "counts.transactions.visible",
    f"MATCH (t:Transaction) WHERE {_vis('t')} RETURN count(t) AS n",
    **_VIS,
)
COUNT_EVENTS_V = _stmt(
    "counts.events.visible",
    f"MATCH (e:Event) WHERE {_vis('e')} RETURN count(e) AS n",
    **_VIS,
)
CUSTOMER_IDS_V = _stmt(
    "customers.ids.visible",
    f"MATCH (c:Customer) WHERE {_vis('c')} RETURN collect(c.customer_id) AS ids",
    **_VIS,
)


def _collect(col: str, typ: pa.DataType, ref: str) -> str:
    """``collect`` of one column, and of its null mask: ``collect`` skips nulls, so a nullable
    column is collected coalesced to a placeholder next to a list of ``IS NULL`` flags, which
    keeps every list of a chunk aligned row for row. Temporal values travel as ISO strings,
    which Arrow parses vectorised (cheaper, server and client, than epoch arithmetic)."""
    if typ in (pa.timestamp("us"), pa.date32()):
        val, default = f"toString({ref})", "''"
    elif pa.types.is_string(typ):
        val, default = ref, "''"
    elif pa.types.is_boolean(typ):
        val, default = ref, "false"
    elif pa.types.is_floating(typ):
        val, default = ref, "0.0"
    else:
        val, default = ref, "0"
    return f"collect(coalesce({val}, {default})) AS {col}, collect({ref} IS NULL) AS {col}__null"


@dataclass(frozen=True)
class ChunkRead:
    """A chunked table read: ``bounded`` for [$lo, $hi), ``last`` for [$lo, end).

    Why two statements: ``x.k >= $lo AND ($hi IS NULL OR x.k < $hi)`` is planned as an index
    seek from $lo to the END of the index followed by a filter, so every chunk scanned the
    rest of the index (quadratic: at 1M customers a transactions chunk took 17 s). With both
    bounds in the predicate the seek stops at $hi.
    """

    bounded: Statement
    last: Statement

    def for_bounds(self, hi: str | None) -> Statement:
        return self.last if hi is None else self.bounded


def _read_chunk(
    name: str, match: str, columns: dict[str, str], key: str, suffix: str = ""
) -> ChunkRead:
    """One chunk of a table (rows whose range ``key`` is in [$lo, $hi)) as one record of lists.

    ``match`` holds ``{range}`` where the WHERE on ``key`` goes; a ``.visible`` suffix marks
    the form that skips rows of pending loads (it takes ``$pending`` and ``$committed``)."""
    schema = SCHEMAS[name]
    ret = ", ".join(_collect(c, schema.field(c).type, ref) for c, ref in columns.items())
    bounded = match.format(range=f"WHERE {key} >= $lo AND {key} < $hi")
    last = match.format(range=f"WHERE {key} >= $lo")
    extra = {"pending": [1], "committed": [0]} if "visible" in suffix else {}
    return ChunkRead(
        _stmt(f"{name}.read_chunk{suffix}", f"{bounded} RETURN {ret}", lo="C0", hi="C9", **extra),
        _stmt(f"{name}.read_chunk{suffix}.last", f"{last} RETURN {ret}", lo="C0", **extra),
    )


READ_CUSTOMERS_V = _read_chunk(
    "customers",
    "MATCH (x:Customer) {range} AND " + _vis("x"),
    {c: ("x.customer_id" if c == "customer_id" else _staged("x", c)) for c in _CUST.names},
    "x.customer_id",
    ".visible",
)
READ_CUSTOMERS = _read_chunk(
    "customers",
    "MATCH (x:Customer) {range}",
    {c: f"x.{c}" for c in _CUST.names},
    "x.customer_id",
)
#: transactions and events are ranged on their key, which starts with "v" + customer_id
READ_TRANSACTIONS = _read_chunk(
    "transactions",
    "MATCH (x:Transaction) {range}",
    {c: f"x.{c}" for c in SCHEMAS["transactions"].names},
    "x.key",
)
READ_EVENTS = _read_chunk(
    "events",
    "MATCH (x:Event) {range}",
    {c: f"x.{c}" for c in SCHEMAS["events"].names},
    "x.key",
)
_REL_MATCH = f"MATCH (a:Customer) {{range}} MATCH (a)-[r:{_ANY_REL}]->(b:Customer)"
_REL_REFS = {
    "src_id": "a.customer_id",
    "dst_id": "b.customer_id",
    "type": "toLower(type(r))",
    **{c: f"r.{c}" for c in SCHEMAS["relations"].names[3:]},
}
READ_RELATIONS = _read_chunk("relations", _REL_MATCH, _REL_REFS, "a.customer_id")
_REL_MATCH_V = (
    f"MATCH (a:Customer) {{range}} AND {_vis('a')} MATCH (a)-[r:{_ANY_REL}]->(b:Customer) "
    f"WHERE {_vis('r')} AND {_vis('b')}"
)
READ_RELATIONS_V = _read_chunk("relations", _REL_MATCH_V, _REL_REFS, "a.customer_id", ".visible")
READ_TRANSACTIONS_V = _read_chunk(
    "transactions",
    "MATCH (x:Transaction) {range} AND " + _vis("x"),
    {c: f"x.{c}" for c in SCHEMAS["transactions"].names},
    "x.key",
    ".visible",
)
READ_EVENTS_V = _read_chunk(
    "events",
    "MATCH (x:Event) {range} AND " + _vis("x"),
    {c: f"x.{c}" for c in SCHEMAS["events"].names},
    "x.key",
    ".visible",
)
#: The projection's read: only what the interaction graph needs.
_LEAN = PROJECTION_COLUMNS
READ_RELATIONS_PROJECTION = _read_chunk(
    "relations", _REL_MATCH, {c: _REL_REFS[c] for c in _LEAN}, "a.customer_id", "_projection"
)
READ_RELATIONS_PROJECTION_V = _read_chunk(
    "relations",
    _REL_MATCH_V,
    {c: _REL_REFS[c] for c in _LEAN},
    "a.customer_id",
    "_projection.visible",
)
#: Every ``$step``-th customer id in the server's own string order: the chunk boundaries
#: (``range(a, b, s)`` with a > b yields ``[a]`` on Neo4j 5.26, hence the ``WHERE``).
CHUNK_CUTS = _stmt(
    "customers.chunk_cuts",
    "MATCH (c:Customer) WITH c.customer_id AS id ORDER BY id WITH collect(id) AS ids "
    "RETURN [i IN range($step, size(ids) - 1, $step) WHERE i < size(ids) | ids[i]] AS cuts",
    step=10000,
)
GET_CUSTOMER = _stmt(
    "customers.get",
    "MATCH (c:Customer {customer_id: $customer_id}) RETURN "
    + ", ".join(f"{_value_out(c, _CUST.field(c).type, 'c')} AS {c}" for c in _CUST.names),
    customer_id="C1",
)
GET_CUSTOMER_V = _stmt(
    "customers.get.visible",
    f"MATCH (c:Customer {{customer_id: $customer_id}}) WHERE {_vis('c')} RETURN "
    + ", ".join(
        f"{_value_out(c, _CUST.field(c).type, 'c')} AS {c}"
        if c == "customer_id"
        else f"{_staged_out(c, _CUST.field(c).type)} AS {c}"
        for c in _CUST.names
    ),
    customer_id="C1",
    **_VIS,
)

# --- runs: write-back ---
MERGE_RUN = _stmt(
    "runs.merge",
    "MERGE (r:Run {run_id: $run_id}) SET r.created_at = $created_at, r.params = $params, "
    "r.input_counts = $input_counts, r.stats = $stats, r.metric_columns = $metric_columns, "
    "r.metric_dtypes = $metric_dtypes, r.community_columns = $community_columns, "
    "r.community_dtypes = $community_dtypes, r.metrics_kept = true, r.complete = false",
    run_id="r1",
    created_at="2025-01-01T00:00:00+00:00",
    params="{}",
    input_counts="{}",
    stats="{}",
    metric_columns=["customer_id"],
    metric_dtypes="{}",
    community_columns=["community_id"],
    community_dtypes="{}",
)
#: The one transaction that makes a run visible: complete, and the only run whose metrics and
#: communities are served (the others' are marked gone in the same commit).
PUBLISH_RUN = _stmt(
    "runs.publish",
    "MATCH (r:Run {run_id: $run_id}) SET r.complete = true "
    "WITH r OPTIONAL MATCH (o:Run) WHERE o.run_id <> r.run_id SET o.metrics_kept = false "
    "RETURN count(DISTINCT r) AS n",
    run_id="r1",
)
INCOMPLETE_RUNS = _stmt(
    "runs.incomplete",
    "MATCH (r:Run) WHERE r.complete = false RETURN r.run_id AS run_id",
)
DELETE_INCOMPLETE_RUN = _stmt(
    "runs.delete_incomplete",
    "MATCH (r:Run {run_id: $run_id}) WHERE r.complete = false DELETE r",
    run_id="r1",
)
ALL_RUN_COLUMNS = _stmt(
    "runs.metric_columns",
    "MATCH (r:Run) UNWIND coalesce(r.metric_columns, []) AS k RETURN collect(DISTINCT k) AS ks",
)
# Communities (and membership) of every run but those in $keep: before a write the previous
# complete run's are kept (readers may still be served it), after its publish only the new.
DELETE_MEMBERSHIP_BATCH = _stmt(
    "communities.delete_membership_batch",
    "MATCH ()-[m:IN_COMMUNITY]->(k:Community) WHERE NOT k.run_id IN $keep "
    "WITH m LIMIT $batch DELETE m RETURN count(*) AS n",
    keep=["r1"],
    batch=10000,
)
DELETE_COMMUNITIES_BATCH = _stmt(
    "communities.delete_batch",
    "MATCH (k:Community) WHERE NOT k.run_id IN $keep "
    "WITH k LIMIT $batch DETACH DELETE k RETURN count(*) AS n",
    keep=["r1"],
    batch=10000,
)
CREATE_COMMUNITIES = _stmt(
    "communities.create",
    "UNWIND $rows AS row CREATE (k:Community) SET k += row, k.run_id = $run_id",
    rows=[{"community_id": "0", "size": 3}],
    run_id="r1",
)
#: Prefix of the properties holding the previous complete run's metrics while a run is written.
PREV = "prev_"
# Before a customer's metrics are overwritten, the values of the latest complete run ($keep)
# move to prev_* properties, once (a customer already rewritten by an unpublished run keeps
# them): readers of the complete run read live or prev_* by run id, whatever a crash left.
WRITE_METRICS = _stmt(
    "metrics.write",
    "UNWIND $rows AS row MATCH (c:Customer {customer_id: row.customer_id}) "
    "WITH c, row, coalesce(c.metrics_run_id = $keep AND $keep <> $run_id, false) AS shift "
    "FOREACH (k IN CASE WHEN shift THEN $keep_columns ELSE [] END | SET c[$prev + k] = c[k]) "
    "SET c.prev_run_id = CASE WHEN shift THEN $keep ELSE c.prev_run_id END "
    "SET c += row, c.metrics_run_id = $run_id "
    "WITH c, row MATCH (k:Community {run_id: $run_id, community_id: row.community_id}) "
    "CREATE (c)-[:IN_COMMUNITY]->(k)",
    rows=[{"customer_id": "C1", "community_id": "0", "pagerank": 0.1}],
    run_id="r2",
    keep="r1",
    keep_columns=["community_id", "pagerank"],
    prev=PREV,
)
CLEAR_STALE_METRICS_BATCH = _stmt(
    "metrics.clear_stale_batch",
    "MATCH (c:Customer) WHERE c.metrics_run_id IS NOT NULL AND c.metrics_run_id <> $run_id "
    "WITH c LIMIT $batch SET c += $clear RETURN count(*) AS n",
    run_id="r1",
    batch=10000,
    clear={"pagerank": None, "metrics_run_id": None},
)
LIST_RUNS = _stmt(
    "runs.list",
    "MATCH (r:Run) WHERE coalesce(r.complete, true) "
    "RETURN r.run_id AS run_id, r.created_at AS created_at, r.params AS params, "
    "r.input_counts AS input_counts, r.stats AS stats "
    "ORDER BY r.created_at DESC, r.run_id DESC",
)
GET_RUN = _stmt(
    "runs.get",
    "MATCH (r:Run {run_id: $run_id}) RETURN r.metrics_kept AS metrics_kept, "
    "r.tags_kept AS tags_kept, r.metric_columns AS metric_columns, "
    "r.metric_dtypes AS metric_dtypes, r.community_columns AS community_columns, "
    "r.community_dtypes AS community_dtypes, r.catalog AS catalog, r.created_at AS created_at, "
    "coalesce(r.complete, true) AS complete",
    run_id="r1",
)
# A run's metrics are a customer's live properties or, while a newer run is being written
# (or after it died unpublished), its prev_* ones; customer_id is never prefixed.
_METRICS_OF_RUN = (
    "WHERE c.metrics_run_id = $run_id OR c.prev_run_id = $run_id "
    "WITH c, CASE WHEN c.metrics_run_id = $run_id THEN '' ELSE $prev END AS p "
)
_METRIC_VALUES = "[k IN $columns | CASE k WHEN 'customer_id' THEN c.customer_id ELSE c[p + k] END]"
READ_METRICS_ALL = _stmt(
    "metrics.read_all",
    "MATCH (c:Customer) "
    + _METRICS_OF_RUN
    + f"RETURN {_METRIC_VALUES} AS v ORDER BY c.customer_id",
    run_id="r1",
    columns=["customer_id", "pagerank"],
    prev=PREV,
)
READ_METRICS_FOR = _stmt(
    "metrics.read_for",
    "UNWIND $customer_ids AS id MATCH (c:Customer {customer_id: id}) "
    + _METRICS_OF_RUN
    + f"RETURN {_METRIC_VALUES} AS v",
    run_id="r1",
    columns=["customer_id", "pagerank"],
    customer_ids=["C1"],
    prev=PREV,
)
READ_COMMUNITIES = _stmt(
    "communities.read",
    "MATCH (k:Community {run_id: $run_id}) RETURN [x IN $columns | k[x]] AS v "
    "ORDER BY k.size DESC, k.community_id",
    run_id="r1",
    columns=["community_id", "size"],
)
TOP_INFLUENCERS = _stmt(
    "metrics.top_influencers",
    "MATCH (c:Customer) " + _METRICS_OF_RUN + "WHERE ($community_id IS NULL OR "
    "c[p + 'community_id'] = $community_id) "
    "AND ($tag_id IS NULL OR EXISTS { "
    "  MATCH (c)-[h:HAS_TAG {run_id: $run_id}]->(:Tag {tag_id: $tag_id}) }) "
    f"RETURN {_METRIC_VALUES} AS v ORDER BY c[p + 'influence'] DESC, c.customer_id "
    "SKIP $offset LIMIT $limit",
    prev=PREV,
    run_id="r1",
    columns=["customer_id", "influence"],
    community_id=None,
    tag_id=None,
    offset=0,
    limit=10,
)

# --- tags ---
DELETE_RUN_TAGS_BATCH = _stmt(
    "tags.delete_run_batch",
    "MATCH ()-[h:HAS_TAG]->() WHERE h.run_id = $run_id WITH h LIMIT $batch DELETE h "
    "RETURN count(*) AS n",
    run_id="r1",
    batch=10000,
)
MERGE_TAGS = _stmt(
    "tags.merge_definitions",
    "UNWIND $rows AS row MERGE (t:Tag {tag_id: row.tag_id}) SET t += row",
    rows=[{"tag_id": "bridge", "name_zh": "桥梁客户", "name_en": "Bridge"}],
)
CREATE_HAS_TAG = _stmt(
    "tags.create_assignments",
    "UNWIND range(0, size($customer_id) - 1) AS i "
    "MATCH (c:Customer {customer_id: $customer_id[i]}) MATCH (t:Tag {tag_id: $tag_id[i]}) "
    "CREATE (c)-[:HAS_TAG {run_id: $run_id, score: $score[i], reason: $reason[i]}]->(t)",
    customer_id=["C1"],
    tag_id=["bridge"],
    score=[1.0],
    reason=["r"],
    run_id="r1",
)
SET_RUN_CATALOG = _stmt(
    "runs.set_catalog",
    "MERGE (r:Run {run_id: $run_id}) SET r.catalog = $catalog, r.tags_kept = true",
    run_id="r1",
    catalog="[]",
)
RUNS_WITH_TAGS = _stmt(
    "runs.with_tags",
    "MATCH (r:Run) WHERE r.tags_kept AND coalesce(r.complete, true) RETURN r.run_id AS run_id "
    "ORDER BY r.created_at DESC, r.run_id DESC",
)
MARK_RUN_TAGS_GONE = _stmt(
    "runs.mark_tags_gone",
    "MATCH (r:Run {run_id: $run_id}) SET r.tags_kept = false",
    run_id="r1",
)
DELETE_UNUSED_TAGS = _stmt(
    "tags.delete_unused",
    "MATCH (t:Tag) WHERE NOT EXISTS { MATCH ()-[:HAS_TAG]->(t) } AND NOT t.tag_id IN $keep "
    "DETACH DELETE t",
    keep=["bridge"],
)
REMOVE_LABEL_BATCH = _stmt(
    "labels.remove_batch",
    "MATCH (c:__LABEL__) WITH c LIMIT $batch REMOVE c:__LABEL__ RETURN count(*) AS n",
    batch=10000,
)
TAG_HOLDERS = _stmt(
    "tags.holders",
    "MATCH (:Tag {tag_id: $tag_id})<-[h:HAS_TAG]-(c:Customer) WHERE h.run_id = $run_id "
    "RETURN collect(DISTINCT c.customer_id) AS ids",
    tag_id="bridge",
    run_id="r1",
)
SET_LABEL = _stmt(
    "labels.set",
    "UNWIND $customer_ids AS id MATCH (c:Customer {customer_id: id}) SET c:__LABEL__",
    customer_ids=["C1"],
)
READ_TAGS_RUN = _stmt(
    "tags.read_run",
    "MATCH (c:Customer)-[h:HAS_TAG]->(t:Tag) WHERE h.run_id = $run_id "
    "AND ($tag_id IS NULL OR t.tag_id = $tag_id) "
    "RETURN c.customer_id AS customer_id, t.tag_id AS tag_id, h.score AS score, "
    "h.reason AS reason, h.run_id AS run_id "
    "ORDER BY score DESC, customer_id, tag_id SKIP $offset LIMIT $limit",
    run_id="r1",
    tag_id=None,
    offset=0,
    limit=100,
)
READ_TAGS_CUSTOMER = _stmt(
    "tags.read_customer",
    "MATCH (c:Customer {customer_id: $customer_id})-[h:HAS_TAG {run_id: $run_id}]->(t:Tag) "
    "WHERE $tag_id IS NULL OR t.tag_id = $tag_id "
    "RETURN c.customer_id AS customer_id, t.tag_id AS tag_id, h.score AS score, "
    "h.reason AS reason, h.run_id AS run_id "
    "ORDER BY score DESC, customer_id, tag_id SKIP $offset LIMIT $limit",
    run_id="r1",
    customer_id="C1",
    tag_id=None,
    offset=0,
    limit=100,
)

# --- ego network ---
EGO_FIRST = _stmt(
    "ego.first_hop",
    f"MATCH (c:Customer {{customer_id: $customer_id}})-[r:{_ANY_REL}]-(o:Customer) "
    f"WHERE {_vis('r')} "
    "WITH o.customer_id AS other, sum(coalesce(r.count, 1)) AS w "
    "RETURN other, w ORDER BY w DESC, other LIMIT $limit",
    customer_id="C1",
    limit=10,
    pending=[],
)
EGO_SECOND = _stmt(
    "ego.second_hop",
    f"UNWIND $frontier AS fid MATCH (f:Customer {{customer_id: fid}})-[r:{_ANY_REL}]-(o:Customer) "
    f"WHERE NOT o.customer_id IN $exclude AND {_vis('r')} "
    "WITH o.customer_id AS other, sum(coalesce(r.count, 1)) AS w "
    "RETURN other, w ORDER BY w DESC, other LIMIT $limit",
    frontier=["C2"],
    exclude=["C1", "C2"],
    limit=10,
    pending=[],
)
EGO_EDGES = _stmt(
    "ego.edges",
    f"UNWIND $ids AS sid MATCH (a:Customer {{customer_id: sid}})-[r:{_ANY_REL}]->(b:Customer) "
    f"WHERE b.customer_id IN $ids AND {_vis('r')} "
    "RETURN a.customer_id AS src_id, b.customer_id AS dst_id, toLower(type(r)) AS type, "
    "count(*) AS interactions, sum(coalesce(r.count, 1)) AS weight "
    "ORDER BY weight DESC, src_id, dst_id, type",
    ids=["C1", "C2"],
    pending=[],
)

# --- store metadata: (:GuanxiMeta {key, value: [strings]}) ---
META_ADD = _stmt(
    "meta.add_values",
    "MERGE (m:GuanxiMeta {key: $key}) "
    "WITH m, coalesce(m.value, []) AS old "
    "SET m.value = old + [v IN $values WHERE NOT v IN old]",
    key="pii_columns",
    values=["email"],
)
META_GET = _stmt(
    "meta.get_values",
    "MATCH (m:GuanxiMeta {key: $key}) RETURN m.value AS value",
    key="pii_columns",
)

# --- maintenance ---
DELETE_ALL_RELS_BATCH = _stmt(
    "admin.delete_all_relationships_batch",
    "MATCH ()-[r]->() WITH r LIMIT $batch DELETE r RETURN count(*) AS n",
    batch=10000,
)
DELETE_ALL_BATCH = _stmt(
    "admin.delete_all_batch",
    "MATCH (n) WITH n LIMIT $batch DETACH DELETE n RETURN count(*) AS n",
    batch=10000,
)
COUNT_ORPHAN_COMMUNITIES = _stmt(
    "admin.orphan_communities",
    "MATCH (k:Community) WHERE NOT EXISTS { MATCH ()-[:IN_COMMUNITY]->(k) } RETURN count(k) AS n",
)


class RunResultsUnavailable(RunNotFound):
    """The run exists, but this store no longer keeps the results asked for."""

    def __init__(self, run_id: str, what: str, detail: str) -> None:
        StoreError.__init__(self, f"run {run_id!r}: {what} no longer kept in Neo4j; {detail}")
        self.run_id = run_id


# --- the store ---------------------------------------------------------------------------------


def _column_lists(table: pa.Table) -> dict[str, list]:
    """Columns as Python lists for Bolt, temporal columns as epoch micros / days."""
    out = {}
    for name in table.column_names:
        col = table.column(name)
        if pa.types.is_timestamp(col.type):
            col = col.cast(pa.timestamp("us")).cast(pa.int64())
        elif pa.types.is_date32(col.type):
            col = col.cast(pa.int32())
        out[name] = col.to_pylist()
    return out


def _natural_key(table: pa.Table, name: str) -> pa.Array:
    """One string per row identifying it by its natural key (nulls distinct from '').

    A separator inside a value is doubled, so that values holding it cannot shift into the
    next part (``("d\\x1fvX", "t")`` and ``("d", "X\\x1fvt")`` joined the same). Every part
    starts with ``v`` or is ``\\x00``, never with the separator, so the doubling reads back
    unambiguously. Keys without the separator, that is every realistic key, are unchanged.
    """
    parts = []
    for k in NATURAL_KEYS[name]:
        col = table.column(k)
        if pa.types.is_timestamp(col.type):
            col = col.cast(pa.int64())
        s = pc.replace_substring(pc.cast(col, pa.string()), "\x1f", "\x1f\x1f")
        parts.append(pc.fill_null(pc.binary_join_element_wise("v", s, ""), "\x00"))
    return pc.binary_join_element_wise(*parts, "\x1f").combine_chunks()


def _dedup_first(table: pa.Table, keys: list[str]) -> pa.Table:
    """Rows whose key columns were not seen earlier in the table (first occurrence wins)."""
    idx = table.select(keys).append_column("__i", pa.array(np.arange(table.num_rows)))
    first = idx.group_by(keys, use_threads=False).aggregate([("__i", "min")]).column("__i_min")
    if len(first) == table.num_rows:
        return table
    return table.take(pc.take(first, pc.sort_indices(first)))


class Neo4jStore:
    """GraphStore over a Neo4j 5 server (Bolt).

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
    ) -> None:
        import neo4j

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
        try:
            # statements are linted in CI; the server's per-query hints would only flood the log
            self._driver = neo4j.GraphDatabase.driver(
                uri, auth=(user, password), notifications_min_severity="OFF"
            )
            self._driver.verify_connectivity()
        except Exception as exc:
            raise self._wrap(exc, f"cannot connect to Neo4j at {uri}") from exc
        self._setup_schema()

    # --- plumbing -------------------------------------------------------------------------
    @staticmethod
    def _wrap(exc: Exception, what: str) -> StoreError:
        from neo4j import exceptions as nx

        unavailable = (nx.ServiceUnavailable, nx.SessionExpired, nx.AuthError, OSError)
        if isinstance(exc, nx.ConfigurationError | ValueError):
            return StoreUnavailable(f"{what}: {exc}")
        if isinstance(exc, unavailable):
            return StoreUnavailable(f"{what}: {exc}")
        return StoreError(f"{what}: {exc}")

    def _session(self):
        return self._driver.session(database=self.database)

    def _write(
        self, stmt: Statement, params: dict | None = None, *, sub: str | None = None
    ) -> tuple[list[tuple], Any]:
        """Run one statement in a managed write transaction: (records, summary counters)."""
        cypher = stmt.render(sub)

        def work(tx):
            res = tx.run(cypher, params or {})
            rows = [tuple(r) for r in res]
            return rows, res.consume().counters

        try:
            with self._session() as s:
                return s.execute_write(work)
        except Exception as exc:
            if isinstance(exc, StoreError):
                raise
            raise self._wrap(exc, f"Neo4j statement {stmt.name} failed") from exc

    def _read(
        self,
        stmt: Statement,
        params: dict | None = None,
        *,
        sub: str | None = None,
        consume: Callable[[Any], Any] | None = None,
    ) -> Any:
        """Run one statement in a managed read transaction; rows as tuples, or consume(result)."""
        cypher = stmt.render(sub)

        def work(tx):
            res = tx.run(cypher, params or {})
            if consume is not None:
                return consume(res)
            return [tuple(r) for r in res]

        try:
            with self._session() as s:
                return s.execute_read(work)
        except Exception as exc:
            if isinstance(exc, StoreError):
                raise
            raise self._wrap(exc, f"Neo4j statement {stmt.name} failed") from exc

    def _repeat_until_done(self, stmt: Statement, params: dict, *, sub: str | None = None) -> int:
        """Re-run a batched delete/clear (``... LIMIT $batch ... RETURN count(*)``) until done."""
        total = 0
        while True:
            rows, _ = self._write(stmt, {**params, "batch": self.batch_size}, sub=sub)
            n = rows[0][0] if rows else 0
            total += n
            if n < self.batch_size:
                return total

    def _setup_schema(self) -> None:
        for s in SCHEMA_SETUP:
            self._write(s)
        self._read(AWAIT_INDEXES)

    def _batches(self, table: pa.Table, rows: int | None = None) -> Iterator[pa.Table]:
        step = rows or self.batch_size
        for start in range(0, table.num_rows, step):
            yield table.slice(start, step)

    def close(self) -> None:
        self._driver.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def clear(self) -> int:
        """Delete every node and relationship of the database (tests, benchmarks). Returns nodes.

        Relationships go first, in batches: a DETACH DELETE of well-connected nodes would pull
        all their relationships into one transaction and exceed the server's memory limit.
        """
        self._repeat_until_done(DELETE_ALL_RELS_BATCH, {})
        return self._repeat_until_done(DELETE_ALL_BATCH, {})

    # --- input tables ---------------------------------------------------------------------
    def customer_ids(self) -> pa.Array:
        vis = self._visibility()
        stmt, params = (CUSTOMER_IDS, {}) if vis is None else (CUSTOMER_IDS_V, vis)
        ids = self._read(stmt, params, consume=lambda res: res.single(strict=True)[0])
        return pa.array(ids, pa.string())

    # --- load staging -----------------------------------------------------------------------
    def _visibility(self) -> dict | None:
        """None when no load is open (the plain reads apply), else the visible-read parameters.

        ``pending``: loads not committed, whose rows readers skip; ``committed``: committed
        loads whose staged customer updates are not yet applied, whose values readers take.
        """
        loads = self._read(LOADS)
        if not loads:
            return None
        return {
            "pending": [r[0] for r in loads if not r[1]],
            "committed": [r[0] for r in loads if r[1]],
        }

    @contextmanager
    def _table_load(self, table: str) -> Iterator[int]:
        """One table's load: rows written inside carry its id and stay invisible until commit.

        The commit is one transaction (:data:`COMMIT_LOAD`); a process killed before it, or an
        exception, leaves the table as it was for every reader, and the next load deletes
        the rows (:meth:`_finish_loads`). After the commit the staged customer updates are
        applied in batches; readers already see them through the committed load meanwhile.
        """
        self._finish_loads()
        load = uuid.uuid4().int >> 76  # an integer marker: one property block per row
        self._write(BEGIN_LOAD, {"load": load, "table": table})
        yield load
        self._write(COMMIT_LOAD, {"load": load})
        self._apply_staged(load)
        self._write(END_LOAD, {"load": load})

    def _apply_staged(self, load: int) -> None:
        cols = list(_CUST.names[1:])
        params = {"load": load, "columns": cols, "new": NEW}
        self._repeat_until_done(APPLY_STAGED_BATCH, params)

    def _finish_loads(self) -> None:
        """Finish committed loads and delete what uncommitted ones (killed, failed) wrote."""
        for load, committed, _table in self._read(LOADS):
            if committed:
                self._apply_staged(load)
            else:
                params = {"load": load, "columns": list(_CUST.names[1:]), "new": NEW}
                self._repeat_until_done(DISCARD_STAGED_BATCH, params)
                for stmt in DISCARD_NODES_BATCH.values():
                    self._repeat_until_done(stmt, {"load": load})
                for rel in REL_TYPES.values():
                    self._repeat_until_done(DISCARD_RELATIONS_BATCH, {"load": load}, sub=rel)
            self._write(END_LOAD, {"load": load})

    def upsert_customers(self, table: pa.Table) -> UpsertCounts:
        """Insert new customers, update changed ones: visible all at once, when committed.

        New customers carry the load's id and changed ones get their new values staged
        (``_new_*``) until the commit; see :meth:`_table_load`.
        """
        table = _conform(table, "customers")
        inserted = updated = 0
        with self._table_load("customers") as load:
            if self._count(COUNT_CUSTOMERS) == 0:
                table = _dedup_first(table, ["customer_id"])
                for batch in self._batches(table):
                    params = {**_column_lists(batch), "load": load}
                    _, counters = self._write(CREATE_CUSTOMERS, params)
                    inserted += counters.nodes_created
                    failpoint("load.customers.batch")
            else:
                for batch in self._batches(table):
                    params = {**_column_lists(batch), "load": load, "new": NEW}
                    rows, counters = self._write(UPSERT_CUSTOMERS, params)
                    inserted += counters.nodes_created
                    updated += rows[0][0] if rows else 0
                    failpoint("load.customers.batch")
        failpoint("load.customers.done")
        return UpsertCounts(inserted=inserted, updated=updated)

    def upsert_rows(self, name: str, table: pa.Table) -> UpsertCounts:
        """Insert relations, transactions or events whose natural key is new.

        Why two forms: while a relationship type or label is still empty (a first load), rows
        are deduplicated here and CREATEd outright; otherwise each row is MERGEd (relations)
        or checked against the key constraint (transactions, events), so reloading inserts
        nothing. Single writer assumed, as for every load. Endpoints are resolved to node ids
        once per call (see :data:`RESOLVE_CUSTOMERS`).
        """
        if name not in ("relations", "transactions", "events"):
            raise ValueError(f"upsert_rows takes relations, transactions or events, not {name}")
        table = _conform(table, name)
        inserted = 0
        if name == "relations":
            types = table.column("type")
            unknown = pc.sum(pc.invert(pc.is_in(types, pa.array(list(REL_TYPES))))).as_py()
            if unknown:
                raise StoreError(f"relations: {unknown} row(s) with a type not in {RELATION_TYPES}")
            table = _dedup_first(table, list(NATURAL_KEYS["relations"]))
            for end in ("src", "dst"):
                table = table.append_column(end, self._node_ids(table.column(f"{end}_id")))
            table = table.drop_columns(["src_id", "dst_id"])
            types = table.column("type")
            with self._table_load("relations") as load:
                for rel_type, rel in REL_TYPES.items():
                    part = table.filter(pc.equal(types, rel_type)).drop_columns(["type"])
                    if part.num_rows == 0:
                        continue
                    empty = self._count(COUNT_RELATIONS, rel) == 0
                    stmt = CREATE_RELATIONS if empty else UPSERT_RELATIONS
                    for batch in self._batches(part):
                        params = {**_column_lists(batch), "load": load}
                        _, counters = self._write(stmt, params, sub=rel)
                        inserted += counters.relationships_created
                        failpoint("load.relations.batch")
            failpoint("load.relations.done")
            return UpsertCounts(inserted=inserted)
        count, insert, create = (
            (COUNT_TRANSACTIONS, INSERT_TRANSACTIONS, CREATE_TRANSACTIONS)
            if name == "transactions"
            else (COUNT_EVENTS, INSERT_EVENTS, CREATE_EVENTS)
        )
        table = table.append_column("key", _natural_key(table, name))
        table = _dedup_first(table, ["key"])
        table = table.append_column("node", self._node_ids(table.column("customer_id")))
        with self._table_load(name) as load:
            stmt = insert if self._count(count) else create
            for batch in self._batches(table):
                _, counters = self._write(stmt, {**_column_lists(batch), "load": load})
                inserted += counters.nodes_created
                failpoint(f"load.{name}.batch")
        failpoint(f"load.{name}.done")
        return UpsertCounts(inserted=inserted)

    def _count(self, stmt: Statement, sub: str | None = None) -> int:
        rows = self._read(stmt, sub=sub)
        return int(rows[0][0]) if rows else 0

    def _node_ids(self, customer_ids: pa.ChunkedArray | pa.Array) -> pa.Array:
        """Internal node id of each customer id, looked up once per distinct id.

        Raises StoreError when a customer is missing: the loader validated every endpoint
        against the store, so a gap means the store changed underneath the load.
        """
        unique = pc.unique(customer_ids)
        found_ids: list = []
        found_nodes: list = []
        step = max(self.batch_size, 50_000)
        for start in range(0, len(unique), step):
            chunk = unique.slice(start, step).to_pylist()
            rows = self._read(RESOLVE_CUSTOMERS, {"ids": chunk})
            if rows:
                found_ids += rows[0][0]
                found_nodes += rows[0][1]
        pos = pc.index_in(customer_ids, value_set=pa.array(found_ids, pa.string()))
        missing = pc.sum(pc.is_null(pos)).as_py() or 0
        if missing:
            raise StoreError(f"{missing} row(s) name a customer that is not in the store")
        return pc.take(pa.array(found_nodes, pa.int64()), pos).combine_chunks()

    def counts(self) -> dict[str, int]:
        """Rows of each table that readers see (a pending load's rows are not counted)."""
        vis = self._visibility()
        if vis is None:
            stmts, p = (COUNT_CUSTOMERS, COUNT_RELATIONS, COUNT_TRANSACTIONS, COUNT_EVENTS), {}
        else:
            stmts = (COUNT_CUSTOMERS_V, COUNT_RELATIONS_V, COUNT_TRANSACTIONS_V, COUNT_EVENTS_V)
            p = vis
        out = {"customers": self._read(stmts[0], p)[0][0]}
        out["relations"] = sum(self._read(stmts[1], p, sub=t)[0][0] for t in REL_TYPES.values())
        out["transactions"] = self._read(stmts[2], p)[0][0]
        out["events"] = self._read(stmts[3], p)[0][0]
        return {t: int(out[t]) for t in TABLES}

    def read_table(self, name: str, columns: Sequence[str] | None = None) -> pa.Table:
        if name not in TABLES:
            raise ValueError(f"unknown table {name!r}")
        schema = SCHEMAS[name]
        cols = list(columns) if columns else schema.names
        bad = [c for c in cols if c not in schema.names]
        if bad:
            raise ValueError(f"unknown column(s) {bad} for {name}")
        vis = self._visibility()
        lean = set(cols) <= set(_LEAN)
        if vis is None:
            stmt = {
                "customers": READ_CUSTOMERS,
                "transactions": READ_TRANSACTIONS,
                "events": READ_EVENTS,
                "relations": READ_RELATIONS_PROJECTION if lean else READ_RELATIONS,
            }[name]
        else:
            stmt = {
                "customers": READ_CUSTOMERS_V,
                "transactions": READ_TRANSACTIONS_V,
                "events": READ_EVENTS_V,
                "relations": READ_RELATIONS_PROJECTION_V if lean else READ_RELATIONS_V,
            }[name]
        prefix = "v" if name in ("transactions", "events") else ""
        parts = [
            self._read(
                stmt.for_bounds(hi),
                {**(vis or {}), "lo": prefix + lo}
                if hi is None
                else {**(vis or {}), "lo": prefix + lo, "hi": prefix + hi},
                consume=lambda res: _arrow_from_columns(res.single(strict=True), schema),
            )
            for lo, hi in self._chunk_bounds()
        ]
        return pa.concat_tables(parts).select(cols).combine_chunks()

    def _chunk_bounds(self) -> list[tuple[str, str | None]]:
        """[lo, hi) customer_id ranges of about ``read_chunk`` customers each, covering all ids.

        Reads are chunked by customer so that each chunk comes back as one record of column
        lists (no Python object per row) and the server never collects a whole table at once.
        The first range starts at '' so rows of ids sorting before every customer are kept.

        Neo4j orders strings two ways: ``ORDER BY`` and the index seek by code point, but
        comparisons of values (a filter, and the check that a seek's lower bound is below its
        upper one) by UTF-16 code unit. They disagree once ids mix characters outside the BMP
        (emoji, CJK Extension B) with BMP ones from U+E000 up (full-width forms): a [lo, hi)
        increasing by code point but not by UTF-16 was read as empty, and its customers were
        lost. So a cut is kept only when it is above the previous kept cut in both orders;
        the ranges then partition the ids under either order (a dropped cut merges two
        chunks, which only such mixed ids can cause).
        """
        cuts = []
        for c in self._read(CHUNK_CUTS, {"step": self.read_chunk})[0][0]:
            if not cuts or (c > cuts[-1] and _utf16(c) > _utf16(cuts[-1])):
                cuts.append(c)
        los = ["", *cuts]
        his: list[str | None] = [*cuts, None]
        return list(zip(los, his, strict=True))

    # --- store metadata -------------------------------------------------------------------
    def declare_pii_columns(self, columns: Sequence[str]) -> None:
        names = checked_pii_columns(columns)
        if names:
            self._write(META_ADD, {"key": "pii_columns", "values": sorted(set(names))})

    def declared_pii_columns(self) -> tuple[str, ...]:
        rows = self._read(META_GET, {"key": "pii_columns"})
        return tuple(sorted(rows[0][0] or [])) if rows else ()

    # --- runs -----------------------------------------------------------------------------
    def write_run(self, run: RunInfo, *, metrics: pd.DataFrame, communities: pd.DataFrame) -> None:
        """Write a run as incomplete: its record, its communities, each customer's metrics.

        Nothing any reader is served changes: the run is unlisted until :meth:`publish_run`,
        its communities carry its run id next to the previous run's, and each customer's
        values of the previous complete run move to ``prev_*`` properties before they are
        overwritten (see :data:`WRITE_METRICS`), so that run reads the same throughout. What an
        analyze that died unpublished left is deleted first.
        """
        clash = set(metrics.columns) & set(_CUST.names) - {"customer_id"}
        if clash:
            raise StoreError(f"metric column(s) {sorted(clash)} would overwrite customer data")
        prev = self.list_runs()
        keep = prev[0].run_id if prev else None
        keep_rec = self._run_record(keep) if keep else None
        keep_cols = [c for c in (keep_rec or {}).get("metric_columns") or [] if c != "customer_id"]
        self._delete_incomplete_runs(keep=keep)
        self._write(
            MERGE_RUN,
            {
                "run_id": run.run_id,
                "created_at": run.created_at,
                "params": json.dumps(run.params, default=str),
                "input_counts": json.dumps(run.input_counts),
                "stats": json.dumps(run.stats, default=str),
                "metric_columns": list(metrics.columns),
                "metric_dtypes": json.dumps({c: str(t) for c, t in metrics.dtypes.items()}),
                "community_columns": list(communities.columns),
                "community_dtypes": json.dumps({c: str(t) for c, t in communities.dtypes.items()}),
            },
        )
        ctbl = pa.Table.from_pandas(communities, preserve_index=False)
        for batch in self._batches(ctbl):
            self._write(CREATE_COMMUNITIES, {"rows": batch.to_pylist(), "run_id": run.run_id})
            failpoint("analyze.communities.batch")
        mtbl = pa.Table.from_pandas(metrics, preserve_index=False)
        shift = {"keep": keep, "keep_columns": keep_cols, "prev": PREV, "run_id": run.run_id}
        # each row also moves ~20 values to prev_*: a quarter batch keeps one transaction's
        # state within the server's transaction memory (a full one exceeded it on a 1 GB heap)
        for batch in self._batches(mtbl, rows=max(1, self.batch_size // 4)):
            self._write(WRITE_METRICS, {"rows": batch.to_pylist(), **shift})
            failpoint("analyze.metrics.batch")

    def _delete_incomplete_runs(self, *, keep: str | None) -> None:
        """Delete what unpublished runs left: their tags, communities, membership, record.

        Communities of every run but `keep` (the latest complete one) go, which also finishes
        the housekeeping of a publish that was cut short. The record goes last, so a crash in
        here leaves the run findable by the next attempt. Customers' properties written by a
        dead run are left: the next write overwrites them, and readers select by run id.
        """
        dead = [r[0] for r in self._read(INCOMPLETE_RUNS)]
        for run_id in dead:
            self._repeat_until_done(DELETE_RUN_TAGS_BATCH, {"run_id": run_id})
        keep_list = [keep] if keep else []
        self._repeat_until_done(DELETE_MEMBERSHIP_BATCH, {"keep": keep_list})
        self._repeat_until_done(DELETE_COMMUNITIES_BATCH, {"keep": keep_list})
        for run_id in dead:
            self._write(DELETE_INCOMPLETE_RUN, {"run_id": run_id})

    def publish_run(self, run_id: str) -> None:
        """Make a written run the one readers see (one transaction), then tidy up after it.

        The publish itself is :data:`PUBLISH_RUN`. The housekeeping that follows is
        idempotent and invisible to readers, who select by run id: the previous run's
        communities and stale customer metrics are removed, the social-tag labels rewritten
        from the run's assignments, and tag history pruned. A crash in it is finished by the
        next analyze (its start deletes other runs' communities, its publish rewrites labels).

        Raises
        ------
        RunNotFound
            No run `run_id` was written.
        """
        rows, _ = self._write(PUBLISH_RUN, {"run_id": run_id})
        if not rows or not rows[0][0]:
            raise RunNotFound(run_id)
        failpoint("analyze.published")
        rec = self._run_record(run_id) or {}
        self._repeat_until_done(DELETE_MEMBERSHIP_BATCH, {"keep": [run_id]})
        self._repeat_until_done(DELETE_COMMUNITIES_BATCH, {"keep": [run_id]})
        cols = set(self._read(ALL_RUN_COLUMNS)[0][0] or []) | set(rec.get("metric_columns") or [])
        clear = {c: None for c in cols - {"customer_id"}}
        clear["metrics_run_id"] = None
        self._repeat_until_done(CLEAR_STALE_METRICS_BATCH, {"run_id": run_id, "clear": clear})
        self._write_labels(run_id)
        catalog = json.loads(rec.get("catalog") or "[]")
        self._prune_tag_history(keep_tags=sorted({str(d["tag_id"]) for d in catalog}))

    def write_tags(self, run_id: str, assignments: pd.DataFrame, catalog: pd.DataFrame) -> None:
        a = assignments[["customer_id", "tag_id", "score", "reason"]]
        cat = catalog[["tag_id", "name_zh", "name_en", "category", "rule"]]
        self._repeat_until_done(DELETE_RUN_TAGS_BATCH, {"run_id": run_id})
        defs = pa.Table.from_pandas(cat, preserve_index=False).to_pylist()
        known = {d["tag_id"] for d in defs}
        defs += [{"tag_id": t} for t in sorted(set(a["tag_id"].astype(str)) - known)]
        self._write(MERGE_TAGS, {"rows": defs})
        atbl = pa.Table.from_pandas(a, preserve_index=False)
        for batch in self._batches(atbl):
            self._write(CREATE_HAS_TAG, {**_column_lists(batch), "run_id": run_id})
            failpoint("analyze.tags.batch")
        n = a.groupby("tag_id").size()
        rows = [
            {**d, "count": int(n.get(d["tag_id"], 0))}
            for d in pa.Table.from_pandas(cat, preserve_index=False).to_pylist()
        ]
        self._write(
            SET_RUN_CATALOG,
            {"run_id": run_id, "catalog": json.dumps(rows, ensure_ascii=False, default=str)},
        )

    def _write_labels(self, run_id: str) -> None:
        """Rewrite the social-tag labels from the run's assignments (Browser styling only)."""
        for tag_id, label in TAG_LABELS.items():
            self._repeat_until_done(REMOVE_LABEL_BATCH, {}, sub=label)
            ids = self._read(TAG_HOLDERS, {"tag_id": tag_id, "run_id": run_id})[0][0]
            for start in range(0, len(ids), self.batch_size):
                chunk = ids[start : start + self.batch_size]
                self._write(SET_LABEL, {"customer_ids": chunk}, sub=label)
                failpoint("analyze.labels.batch")

    def _prune_tag_history(self, *, keep_tags: list[str]) -> None:
        kept = [r[0] for r in self._read(RUNS_WITH_TAGS)]
        for old in kept[self.history_runs :]:
            self._repeat_until_done(DELETE_RUN_TAGS_BATCH, {"run_id": old})
            self._write(MARK_RUN_TAGS_GONE, {"run_id": old})
        self._write(DELETE_UNUSED_TAGS, {"keep": keep_tags})

    def list_runs(self) -> list[RunInfo]:
        rows = self._read(LIST_RUNS)
        return [
            RunInfo(
                r[0],
                r[1],
                json.loads(r[2] or "{}"),
                json.loads(r[3] or "{}"),
                json.loads(r[4] or "{}"),
            )
            for r in rows
            if r[1] is not None
        ]

    def _run_record(self, run_id: str) -> dict | None:
        rows = self._read(GET_RUN, {"run_id": run_id})
        if not rows:
            return None
        keys = (
            "metrics_kept",
            "tags_kept",
            "metric_columns",
            "metric_dtypes",
            "community_columns",
            "community_dtypes",
            "catalog",
            "created_at",
            "complete",
        )
        return dict(zip(keys, rows[0], strict=True))

    def _metrics_run(self, run_id: str) -> dict:
        rec = self._run_record(run_id)
        if rec is None or rec["created_at"] is None or not rec["complete"]:
            raise RunNotFound(run_id)
        if not rec["metrics_kept"]:
            raise RunResultsUnavailable(
                run_id,
                "metrics and communities are",
                f"only the latest run's are; its tags are kept for the last {self.history_runs} "
                "runs. Re-run `guanxi analyze` to recompute",
            )
        return rec

    def read_metrics(
        self, run_id: str, *, customer_ids: Sequence[str] | None = None
    ) -> pd.DataFrame:
        rec = self._metrics_run(run_id)
        cols = list(rec["metric_columns"])
        if customer_ids is None:
            rows = self._read(READ_METRICS_ALL, {"run_id": run_id, "columns": cols, "prev": PREV})
        else:
            params = {
                "run_id": run_id,
                "columns": cols,
                "customer_ids": list(customer_ids),
                "prev": PREV,
            }
            rows = self._read(READ_METRICS_FOR, params)
        return _frame([r[0] for r in rows], cols, json.loads(rec["metric_dtypes"]))

    def read_communities(self, run_id: str) -> pd.DataFrame:
        rec = self._metrics_run(run_id)
        cols = list(rec["community_columns"])
        rows = self._read(READ_COMMUNITIES, {"run_id": run_id, "columns": cols})
        return _frame([r[0] for r in rows], cols, json.loads(rec["community_dtypes"]))

    def read_tags(
        self,
        run_id: str,
        *,
        customer_id: str | None = None,
        tag_id: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> pd.DataFrame:
        rec = self._run_record(run_id)
        if rec is not None and rec["tags_kept"] is False:
            raise RunResultsUnavailable(
                run_id, "tag assignments are", f"only the last {self.history_runs} runs' are"
            )
        params = {
            "run_id": run_id,
            "tag_id": tag_id,
            "offset": int(offset),
            "limit": int(limit) if limit is not None else 2**62,
        }
        if customer_id is not None:
            rows = self._read(READ_TAGS_CUSTOMER, {**params, "customer_id": customer_id})
        else:
            rows = self._read(READ_TAGS_RUN, params)
        cols = ["customer_id", "tag_id", "score", "reason", "run_id"]
        dtypes = {"customer_id": "str", "tag_id": "str", "score": "float64"}
        return _frame(rows, cols, {**dtypes, "reason": "str", "run_id": "str"})

    def scan_tags(self, run_id: str, *, batch_size: int = 200_000) -> Iterator[pa.RecordBatch]:
        """Every assignment of a run as Arrow batches (read once, then sliced)."""
        df = self.read_tags(run_id)[["customer_id", "tag_id", "score", "reason"]]
        table = pa.Table.from_pandas(df, preserve_index=False)
        yield from table.to_batches(max_chunksize=batch_size)

    def read_catalog(self, run_id: str) -> pd.DataFrame:
        cols = ["tag_id", "name_zh", "name_en", "category", "rule", "count"]
        rec = self._run_record(run_id)
        rows = json.loads(rec["catalog"]) if rec and rec["catalog"] else []
        df = pd.DataFrame(rows, columns=cols)
        df["count"] = df["count"].astype("int64")
        for c in cols[:-1]:
            df[c] = df[c].astype("str")
        return df.sort_values(["category", "tag_id"], kind="stable").reset_index(drop=True)

    def top_influencers(
        self,
        run_id: str,
        *,
        limit: int,
        offset: int = 0,
        community_id: str | None = None,
        tag_id: str | None = None,
    ) -> pd.DataFrame:
        rec = self._metrics_run(run_id)
        cols = list(rec["metric_columns"])
        rows = self._read(
            TOP_INFLUENCERS,
            {
                "run_id": run_id,
                "columns": cols,
                "prev": PREV,
                "community_id": community_id,
                "tag_id": tag_id,
                "offset": int(offset),
                "limit": int(limit),
            },
        )
        return _frame([r[0] for r in rows], cols, json.loads(rec["metric_dtypes"]))

    def get_customer(self, customer_id: str) -> dict:
        vis = self._visibility()
        if vis is None:
            rows = self._read(GET_CUSTOMER, {"customer_id": customer_id})
        else:
            rows = self._read(GET_CUSTOMER_V, {**vis, "customer_id": customer_id})
        if not rows:
            raise CustomerNotFound(customer_id)
        tbl = _arrow_from_records([rows[0]], _CUST, _CUST.names)
        return {k: v[0] for k, v in tbl.to_pydict().items()}

    def ego_network(self, customer_id: str, *, hops: int, limit: int) -> EgoNetwork:
        self.get_customer(customer_id)
        pending = (self._visibility() or {}).get("pending", [])
        first = self._read(
            EGO_FIRST, {"customer_id": customer_id, "limit": int(limit), "pending": pending}
        )
        others = [r[0] for r in first]
        ids = [customer_id, *others]
        hop = {customer_id: 0, **{c: 1 for c in others}}
        if hops >= 2 and len(ids) < limit + 1:
            second = self._read(
                EGO_SECOND,
                {
                    "frontier": ids[1:],
                    "exclude": ids,
                    "limit": int(limit) + 1 - len(ids),
                    "pending": pending,
                },
            )
            for r in second:
                hop[r[0]] = 2
            ids += [r[0] for r in second]
        rows = self._read(EGO_EDGES, {"ids": ids, "pending": pending})
        edges = _frame(
            rows,
            ["src_id", "dst_id", "type", "interactions", "weight"],
            {
                "src_id": "str",
                "dst_id": "str",
                "type": "str",
                "interactions": "int64",
                "weight": "float64",
            },
        )
        # Sorted again here, by code point like DuckDB: the statement's src_id is the bound
        # parameter, which Cypher orders by UTF-16 code unit (see `_chunk_bounds`), so ties
        # between ids outside the BMP and full-width ones came back in another order.
        edges = edges.sort_values(
            ["weight", "src_id", "dst_id", "type"],
            ascending=[False, True, True, True],
            kind="stable",
            ignore_index=True,
        )
        nodes = pd.DataFrame({"customer_id": ids, "hop": [hop[c] for c in ids]})
        runs = self.list_runs()
        if runs:
            try:
                m = self.read_metrics(runs[0].run_id, customer_ids=ids)
                m = m[["customer_id", "community_id", "influence"]]
                nodes = nodes.merge(m, on="customer_id", how="left")
            except RunNotFound:
                nodes = nodes.assign(community_id=None, influence=None)
        else:
            nodes = nodes.assign(community_id=None, influence=None)
        return EgoNetwork(nodes=nodes, edges=edges)

    # --- checks used by the contract suite ----------------------------------------------------
    def orphan_communities(self) -> int:
        """:Community nodes without members (always 0 after a write-back)."""
        return int(self._read(COUNT_ORPHAN_COMMUNITIES)[0][0])


def _utf16(text: str) -> bytes:
    """A sort key ordering strings by UTF-16 code unit, as Cypher's comparisons do."""
    return text.encode("utf-16-be", "surrogatepass")


def _conform(table: pa.Table, name: str) -> pa.Table:
    """The table with exactly the schema's columns and types (absent optional ones null)."""
    schema = SCHEMAS[name]
    cols = []
    for f in schema:
        if f.name in table.column_names:
            cols.append(table.column(f.name).cast(f.type))
        else:
            cols.append(pa.nulls(table.num_rows, f.type))
    return pa.Table.from_arrays(cols, schema=schema)


def _arrow_from_records(records: Any, schema: pa.Schema, names: Sequence[str]) -> pa.Table:
    """Records (tuples in ``names`` order) -> Arrow with the schema's types, in chunks."""
    chunks: list[pa.RecordBatch] = []
    buf: list[tuple] = []

    def flush() -> None:
        cols = list(zip(*buf, strict=True)) if buf else [()] * len(names)
        arrays = []
        for n, vals in zip(names, cols, strict=True):
            typ = schema.field(n).type
            if typ == pa.timestamp("us"):
                arrays.append(pa.array(vals, pa.int64()).cast(typ))
            elif typ == pa.date32():
                arrays.append(pa.array(vals, pa.int32()).cast(typ))
            else:
                arrays.append(pa.array(vals, typ))
        chunks.append(pa.RecordBatch.from_arrays(arrays, names=list(names)))
        buf.clear()

    for rec in records:
        buf.append(tuple(rec))
        if len(buf) >= 200_000:
            flush()
    if buf or not chunks:
        flush()
    return pa.Table.from_batches(chunks)


def _arrow_from_columns(record: Any, schema: pa.Schema) -> pa.Table:
    """One chunk record of ``<col>`` and ``<col>__null`` lists -> Arrow with the schema's types."""
    data = dict(zip(record.keys(), record.values(), strict=True))  # .data() walks every list
    names = [k for k in data if not k.endswith("__null")]
    arrays = []
    for n in names:
        typ = schema.field(n).type
        mask = np.asarray(data[n + "__null"], dtype=bool)
        vals = data[n]
        if typ in (pa.timestamp("us"), pa.date32()):
            arrays.append(pa.array(vals, pa.string(), mask=mask).cast(typ))
        else:
            arrays.append(pa.array(vals, typ, mask=mask))
    return pa.Table.from_arrays(arrays, names=names)


def _frame(rows: list, columns: list[str], dtypes: dict[str, str]) -> pd.DataFrame:
    df = pd.DataFrame([list(r) for r in rows], columns=columns)
    for c in columns:
        dt = dtypes.get(c)
        if dt is None:
            continue
        try:
            if dt in ("str", "string", "object"):
                # what DuckDB's .df() gives for VARCHAR (pandas' default string dtype)
                df[c] = df[c].astype("str")
            else:
                df[c] = df[c].astype(dt)
        except (TypeError, ValueError):
            pass
    return df
