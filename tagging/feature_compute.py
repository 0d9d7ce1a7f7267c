"""Per-customer features for the tag rules: the SQL aggregation over the loaded tables.

`compute_features` turns the loaded tables (plus the graph metrics of a run) into one row per
customer. Aggregation runs in an in-memory DuckDB connection over the Arrow tables (a pure
compute engine: no file is opened); `features_from_sql` runs the very same statements where
the tables already are (a DuckDB store), so only the per-customer aggregates come into
memory. The few derived columns are numpy/pandas, in `tagging.feature_derive`. The catalog
of features is `tagging.feature_catalog`.

Point in time: every window is measured back from ``as_of``, which defaults to the latest
timestamp in the data so that re-running on the same data gives the same features; rows
after ``as_of`` are ignored.

Dynamic columns: ``category_share:<c>`` / ``category_count:<c>`` per transaction category and
``topic_share:<t>`` / ``topic_count:<t>`` per content topic (values lower-cased, spaces to
``_``), read by the ``prefers:`` and ``interest:`` tag families.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from graph.model import DUCKDB_QUIET, SCHEMAS
from tagging.feature_catalog import DAY_S, FeatureParams
from tagging.feature_derive import derive_features
from tagging.sums_sql import amount_sum

__all__ = [
    "FEATURE_INPUTS",
    "FactAggregates",
    "aggregate_from_sql",
    "compute_features",
    "features_from_sql",
]

#: The columns the features read, by table: a caller reads only these (the fact tables'
#: ``attributes`` and ``detail`` never reach the aggregation).
FEATURE_INPUTS: dict[str, tuple[str, ...]] = {
    "customers": ("customer_id", "gender", "birth_date", "age", "city", "occupation",
                  "income_level", "member_level", "marital_status", "aum", "registered_at",
                  "channel", "marketing_consent"),
    "transactions": ("customer_id", "occurred_at", "amount", "category", "brand", "promo",
                     "channel"),
    "events": ("customer_id", "occurred_at", "event_type", "device_id", "device_type", "topic"),
    "relations": ("src_id", "dst_id", "type"),
}  # fmt: skip

#: Runs one SELECT and returns its rows as Arrow.
Select = Callable[[str], pa.Table]

#: The per-customer aggregates of the fact tables (``base``, ``cat_long``, ``topic_long``,
#: ``family``), what the derived features and the run's metrics are joined onto.
FactAggregates = Mapping[str, pa.Table | None]


def _conform(table: pa.Table | None, name: str) -> pa.Table:
    """The table with every contract column present (missing optional ones as nulls)."""
    schema = SCHEMAS[name]
    if table is None:
        return schema.empty_table()
    cols = []
    for fld in schema:
        if fld.name in table.column_names:
            col = table.column(fld.name)
            if col.type != fld.type:
                col = pc.cast(col, fld.type)
            cols.append(col)
        else:
            cols.append(pa.nulls(table.num_rows, fld.type))
    return pa.Table.from_arrays(cols, schema=schema)


def _default_as_of(*tables: pa.Table) -> datetime:
    best = None
    for t in tables:
        for col in ("occurred_at", "registered_at"):
            if col in t.column_names and t.num_rows:
                m = pc.max(t.column(col)).as_py()
                if m is not None and (best is None or m > best):
                    best = m
    return best or datetime(1970, 1, 1)


def _ts(x: datetime) -> str:
    return f"TIMESTAMP '{x.replace(tzinfo=None).isoformat(sep=' ')}'"


def _in_list(values: tuple[str, ...] | list[str]) -> str:
    """A SQL list literal; ``(NULL)`` when empty, so ``x IN (NULL)`` matches nothing."""
    if not values:
        return "(NULL)"
    return "(" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + ")"


def _raw_values(distinct: list, wanted: tuple[str, ...]) -> list[str]:
    """The raw spellings among ``distinct`` whose trimmed lower-case form is in ``wanted``.

    Normalising the few distinct values here, instead of calling lower() on every row in
    SQL, keeps the scans of tens of millions of events cheap.
    """
    targets = {w.strip().lower() for w in wanted}
    return [v for v in distinct if v is not None and v.strip().lower() in targets]


def _distinct(table: pa.Table, column: str) -> list:
    return pc.unique(table.column(column)).to_pylist()


def compute_features(
    customers: pa.Table,
    transactions: pa.Table,
    events: pa.Table,
    metrics: pd.DataFrame | None,
    *,
    as_of: datetime | None = None,
    params: FeatureParams | None = None,
    relations: pa.Table | None = None,
) -> pd.DataFrame:
    """One row per customer with every feature in `FEATURES` plus the dynamic columns.

    Parameters
    ----------
    customers, transactions, events
        Tables following ``graph.model.SCHEMAS`` (missing optional columns are allowed).
        Transactions and events of customers not in ``customers`` are ignored.
    metrics
        Graph metrics of the run (``customer_id``, ``community_id`` and `METRIC_COLUMNS`);
        customers missing from it get 0 (null community, null clustering/constraint).
    as_of
        The point in time; defaults to the latest timestamp in the data.
    params
        Windows and value lists, see `FeatureParams`.
    relations
        Optional; when given, ``family_links`` counts distinct family counterparts.

    Returns
    -------
    pandas.DataFrame
        Column ``customer_id`` first, sorted by customer id, default RangeIndex.
    """
    p = params or FeatureParams()
    cust = _conform(customers, "customers")
    txn = _conform(transactions, "transactions")
    ev = _conform(events, "events")
    rel = _conform(relations, "relations") if relations is not None else None
    as_of = as_of or _default_as_of(txn, ev, cust)
    by_name = {"customers": cust, "transactions": txn, "events": ev, "relations": rel}
    con = duckdb.connect(":memory:")
    con.execute(DUCKDB_QUIET)
    try:
        for name, table in by_name.items():
            if table is not None:
                con.register(name, table)
        parts = _aggregate(
            lambda sql: con.sql(sql).to_arrow_table(),
            lambda table, column: _distinct(by_name[table], column),
            as_of=as_of,
            p=p,
            has_relations=rel is not None,
        )
    finally:
        con.close()
    return _derive(parts, metrics, as_of, p)


def features_from_sql(
    select: Select,
    metrics: pd.DataFrame | None,
    *,
    as_of: datetime | None = None,
    params: FeatureParams | None = None,
    aggregates: FactAggregates | None = None,
) -> pd.DataFrame:
    """`compute_features` over tables a DuckDB connection holds, aggregated where they are.

    The same statements as `compute_features` run through ``select`` on relations named
    ``customers``, ``transactions``, ``events`` and ``relations`` (a store's own tables,
    which follow ``graph.model.SCHEMAS``), so only the per-customer aggregates come into
    memory, not the fact tables; DuckDB reads just the columns it needs.

    Parameters
    ----------
    select
        Runs one SELECT on the connection and returns Arrow
        (e.g. ``DuckDBStore.select_arrow``).
    metrics, as_of, params
        As for `compute_features`.
    aggregates
        `aggregate_from_sql` of the same ``select``, ``as_of`` and ``params``, when the
        caller computed it ahead (it does not depend on the metrics); computed here if None.

    Returns
    -------
    pandas.DataFrame
        The same table `compute_features` gives for those tables.
    """
    p = params or FeatureParams()
    if aggregates is None:
        as_of, aggregates = _aggregate_sql(select, as_of, p)
    elif as_of is None:
        raise ValueError("aggregates computed ahead need the as_of they were computed for")
    return _derive(aggregates, metrics, as_of, p)


def aggregate_from_sql(
    select: Select, *, as_of: datetime, params: FeatureParams | None = None
) -> FactAggregates:
    """The fact tables' per-customer aggregates that `features_from_sql` joins the metrics
    onto; they need no metric, so an analysis can compute them while the graph is measured.
    """
    return _aggregate_sql(select, as_of, params or FeatureParams())[1]


def _aggregate_sql(
    select: Select, as_of: datetime | None, p: FeatureParams
) -> tuple[datetime, FactAggregates]:
    """``as_of`` (resolved from the data when None) and the aggregates at it."""
    if as_of is None:
        latest = (
            select(
                "SELECT max(x) FROM (SELECT max(occurred_at) AS x FROM transactions UNION ALL "
                "SELECT max(occurred_at) FROM events UNION ALL "
                "SELECT max(registered_at) FROM customers)"
            )
            .column(0)[0]
            .as_py()
        )
        as_of = latest or datetime(1970, 1, 1)
    parts = _aggregate(
        select,
        lambda table, column: (
            select(f'SELECT DISTINCT "{column}" FROM {table}').column(0).to_pylist()
        ),
        as_of=as_of,
        p=p,
        has_relations=True,
    )
    return as_of, parts


def _derive(
    parts: FactAggregates,
    metrics: pd.DataFrame | None,
    as_of: datetime,
    p: FeatureParams,
) -> pd.DataFrame:
    """`derive_features` on the aggregates of `_aggregate`."""
    as_of = as_of.replace(tzinfo=None)
    asof_s = (as_of - datetime(1970, 1, 1)).total_seconds()
    family = parts["family"]
    return derive_features(
        parts["base"].to_pandas(),
        parts["cat_long"].to_pandas(),
        parts["topic_long"].to_pandas(),
        None if family is None else family.to_pandas(),
        metrics,
        asof_s,
        p,
    )


def _aggregate(
    select: Select,
    distinct: Callable[[str, str], list],
    *,
    as_of: datetime,
    p: FeatureParams,
    has_relations: bool,
) -> dict[str, pa.Table | None]:
    """The per-customer aggregates (``base``, ``cat_long``, ``topic_long``, ``family``).

    ``select`` runs on a connection holding ``customers``, ``transactions``, ``events``
    (and ``relations`` when ``has_relations``) with the contract columns; ``distinct(table,
    column)`` gives a column's distinct values.
    """
    as_of = as_of.replace(tzinfo=None)

    def start(days: float) -> str:
        return f"({_ts(as_of)} - INTERVAL {int(days * DAY_S)} SECOND)"

    recent = start(p.recent_days)
    login_recent = start(p.login_recent_days)
    complaint_recent = start(p.complaint_recent_days)
    overdue_recent = start(p.overdue_recent_days)
    earlier = start(p.recent_days + p.earlier_days)
    rfm_start = start(p.rfm_window_days) if p.rfm_window_days else "TIMESTAMP '0001-01-01'"
    event_types = distinct("events", "event_type")
    activity = _in_list(_raw_values(event_types, p.activity_event_types))
    ev_mobile = _in_list(_raw_values(distinct("events", "device_type"), p.mobile_values))
    txn_mobile = _in_list(_raw_values(distinct("transactions", "channel"), p.mobile_values))
    et = {
        k: _in_list(_raw_values(event_types, (k,)))
        for k in ("login", "page_view", "content_view", "complaint", "overdue")
    }
    now = _ts(as_of)
    ccols = ", ".join(f'"{c}"' for c in FEATURE_INPUTS["customers"])
    # Customers get a row number (rn) in id order; every aggregate is grouped by the raw
    # id first and joined to it afterwards, so the big tables are never joined row by row.
    # Values (event types, categories, topics) are normalised after grouping, on the few
    # distinct values, not on every row. Each statement is one SELECT (the inputs may be a
    # store's tables, where nothing is created).
    prefix = f"""WITH c AS (
            SELECT (row_number() OVER (ORDER BY customer_id) - 1)::BIGINT AS rn, *
            FROM (SELECT {ccols} FROM customers WHERE customer_id IS NOT NULL
                  QUALIFY row_number() OVER (PARTITION BY customer_id) = 1)),
        t AS NOT MATERIALIZED (
            SELECT customer_id, occurred_at, amount, promo, channel, category, brand
            FROM transactions WHERE occurred_at <= {now}),
        e AS NOT MATERIALIZED (SELECT customer_id, occurred_at, device_id, device_type, topic,
            event_type AS et FROM events WHERE occurred_at <= {now})
        """
    out: dict[str, pa.Table | None] = {}
    aggregates = (
        prefix
        + f""",
        ta AS (
            SELECT customer_id,
                count(*) AS txn_count,
                count(*) FILTER (WHERE occurred_at > {rfm_start}) AS frequency,
                coalesce({
            amount_sum(f"CASE WHEN occurred_at > {rfm_start} THEN amount END", "duckdb")
        }, 0) AS monetary,
                {amount_sum("amount", "duckdb")} / count(amount) AS avg_amount,
                max(amount) AS max_amount,
                epoch(max(occurred_at)) AS last_txn_s,
                epoch(min(occurred_at)) AS first_txn_s,
                count(*) FILTER (WHERE occurred_at > {recent}) AS txn_recent,
                count(*) FILTER (WHERE occurred_at <= {recent} AND occurred_at > {earlier})
                    AS txn_earlier,
                count(*) FILTER (WHERE promo) AS promo_count,
                count(promo) AS promo_known,
                count(*) FILTER (WHERE channel IN {txn_mobile}) AS txn_mobile,
                count(channel) AS txn_channel_known
            FROM t GROUP BY customer_id
        ),
        br AS (
            SELECT customer_id, count(*) AS brand_count, max(n) AS top_brand_count,
                sum(n) AS brand_txn
            FROM (SELECT customer_id, brand, count(*) AS n FROM t
                  WHERE brand IS NOT NULL AND brand <> '' GROUP BY ALL)
            GROUP BY customer_id
        ),
        ea AS (
            SELECT customer_id,
                count(*) AS event_count,
                count(*) FILTER (WHERE et IN {et["login"]}) AS login_count,
                count(*) FILTER (WHERE et IN {et["login"]} AND occurred_at > {login_recent})
                    AS logins_recent,
                epoch(max(occurred_at) FILTER (WHERE et IN {et["login"]})) AS last_login_s,
                count(*) FILTER (WHERE et IN {et["page_view"]}) AS page_views,
                count(*) FILTER (WHERE et IN {et["content_view"]}) AS content_views,
                count(*) FILTER (WHERE et IN {et["complaint"]}) AS complaint_count,
                count(*) FILTER (WHERE et IN {et["complaint"]}
                    AND occurred_at > {complaint_recent}) AS complaints_recent,
                count(*) FILTER (WHERE et IN {et["overdue"]}) AS overdue_count,
                count(*) FILTER (WHERE et IN {et["overdue"]}
                    AND occurred_at > {overdue_recent}) AS overdue_recent,
                count(*) FILTER (WHERE et IN {activity}) AS act_count,
                count(*) FILTER (WHERE et IN {activity} AND occurred_at > {recent})
                    AS act_recent,
                count(*) FILTER (WHERE et IN {activity} AND occurred_at <= {recent}
                    AND occurred_at > {earlier}) AS act_earlier,
                epoch(max(occurred_at) FILTER (WHERE et IN {activity})) AS last_act_s,
                epoch(min(occurred_at)) AS first_event_s,
                count(*) FILTER (WHERE device_type IN {ev_mobile}) AS ev_mobile,
                count(device_type) AS ev_device_known
            FROM e GROUP BY customer_id
        ),
        d AS (SELECT DISTINCT device_id, customer_id FROM e WHERE device_id IS NOT NULL),
        dk AS (SELECT device_id, count(*) AS k FROM d GROUP BY device_id),
        dd AS (
            SELECT customer_id, count(*) AS device_count, max(k) AS max_device_accounts
            FROM d JOIN dk USING (device_id) GROUP BY customer_id
        ),
        sd AS (
            SELECT d.device_id, d.customer_id FROM d JOIN dk USING (device_id)
            WHERE dk.k BETWEEN 2 AND {int(p.shared_device_max_accounts)}
        ),
        shared AS (
            SELECT a.customer_id, count(DISTINCT b.customer_id) AS shared_device_customers
            FROM sd a JOIN sd b ON a.device_id = b.device_id AND a.customer_id <> b.customer_id
            GROUP BY a.customer_id
        )
        """
    )
    customer = f"""SELECT c.customer_id,
            coalesce(c.age::DOUBLE,
                     floor(date_diff('day', c.birth_date, {now}::DATE) / 365.25)) AS age,
            c.aum::DOUBLE AS aum,
            epoch(c.registered_at) AS registered_s,
            c.marketing_consent::DOUBLE AS marketing_consent,
            lower(trim(c.gender)) AS gender, lower(trim(c.city)) AS city,
            lower(trim(c.occupation)) AS occupation,
            lower(trim(c.income_level)) AS income_level,
            lower(trim(c.member_level)) AS member_level,
            lower(trim(c.marital_status)) AS marital_status,
            lower(trim(c.channel)) AS channel
        FROM c ORDER BY c.rn"""
    # One statement per aggregate, each aligned to the customers by rn: joined in one
    # statement, DuckDB holds every aggregate's hash tables at once (several times the
    # memory of the largest alone).
    parts = [select(aggregates + customer)]
    for alias, cols in (("ta", "*"), ("br", "*"), ("ea", "*"), ("dd", "*"),
                        ("shared", "shared_device_customers")):  # fmt: skip
        pick = f"{alias}.* EXCLUDE (customer_id)" if cols == "*" else f"{alias}.{cols}"
        parts.append(
            select(
                aggregates + f"SELECT {pick} FROM c LEFT JOIN {alias} USING (customer_id) "
                "ORDER BY c.rn"
            )
        )
    out["base"] = pa.Table.from_arrays(
        [col for part in parts for col in part.columns],
        names=[name for part in parts for name in part.column_names],
    )
    out["cat_long"] = select(
        prefix + "SELECT c.rn, g.v, g.n FROM (SELECT customer_id, category AS v, count(*) AS n "
        "FROM t WHERE category IS NOT NULL GROUP BY ALL) g JOIN c USING (customer_id)",
    )
    out["topic_long"] = select(
        prefix + "SELECT c.rn, g.v, g.n FROM (SELECT customer_id, topic AS v, count(*) AS n "
        "FROM e WHERE topic IS NOT NULL GROUP BY ALL) g JOIN c USING (customer_id)",
    )
    out["family"] = None
    if has_relations:
        fam = _in_list(_raw_values(distinct("relations", "type"), p.family_relation_types))
        out["family"] = select(
            prefix
            + f"""SELECT c.rn, g.family_links FROM (
                SELECT customer_id, count(DISTINCT other) AS family_links FROM (
                    SELECT src_id AS customer_id, dst_id AS other FROM relations
                        WHERE type IN {fam} AND src_id <> dst_id
                    UNION ALL
                    SELECT dst_id, src_id FROM relations
                        WHERE type IN {fam} AND src_id <> dst_id
                ) GROUP BY customer_id) g JOIN c USING (customer_id)"""
        )
    return out
