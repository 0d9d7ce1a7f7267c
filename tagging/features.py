"""Per-customer features for the tag rules: RFM, activity, preferences, risk evidence, graph.

`compute_features` turns the loaded tables (plus the graph metrics of a run) into one row per
customer. Aggregation runs in an in-memory DuckDB connection over the Arrow tables (a pure
compute engine: no file is opened); the few derived columns are numpy/pandas.

Point in time: every window is measured back from ``as_of``, which defaults to the latest
timestamp in the data so that re-running on the same data gives the same features; rows
after ``as_of`` are ignored.

Dynamic columns: ``category_share:<c>`` / ``category_count:<c>`` per transaction category and
``topic_share:<t>`` / ``topic_count:<t>`` per content topic (values lower-cased, spaces to
``_``), read by the ``prefers:`` and ``interest:`` tag families.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from graph.model import METRIC_COLUMNS, SCHEMAS

DAY_S = 86400.0


@dataclass(frozen=True)
class Feature:
    label: str
    kind: Literal["num", "str"]


def _f(label: str, kind: Literal["num", "str"] = "num") -> Feature:
    return Feature(label, kind)


#: Every feature a rule may name, with the label used in reasons.
FEATURES: dict[str, Feature] = {
    # basic
    "age": _f("age"),
    "aum": _f("AUM"),
    "income_amount": _f("income"),
    "tenure_days": _f("customer for (days)"),
    "marketing_consent": _f("marketing consent"),
    "family_links": _f("family links"),
    "gender": _f("gender", "str"),
    "city": _f("city", "str"),
    "occupation": _f("occupation", "str"),
    "income_level": _f("income level", "str"),
    "member_level": _f("member level", "str"),
    "marital_status": _f("marital status", "str"),
    "channel": _f("channel", "str"),
    # transactions / RFM
    "txn_count": _f("transactions"),
    "frequency": _f("RFM frequency"),
    "monetary": _f("RFM monetary"),
    "recency_days": _f("days since last purchase"),
    "avg_amount": _f("average amount"),
    "max_amount": _f("largest amount"),
    "first_txn_days": _f("days since first purchase"),
    "txn_recent": _f("recent transactions"),
    "txn_earlier": _f("earlier transactions"),
    "promo_count": _f("promo purchases"),
    "promo_share": _f("promo share"),
    "category_count": _f("categories bought"),
    "top_category_share": _f("top category share"),
    "brand_count": _f("brands bought"),
    "top_brand_share": _f("top brand share"),
    "top_brand_count": _f("top brand purchases"),
    "r_score": _f("R score"),
    "f_score": _f("F score"),
    "m_score": _f("M score"),
    "rfm_score": _f("RFM score"),
    "value_score": _f("value score"),
    # events
    "event_count": _f("events"),
    "login_count": _f("logins"),
    "logins_recent": _f("recent logins"),
    "login_recency_days": _f("days since last login"),
    "page_views": _f("page views"),
    "content_views": _f("content views"),
    "topic_count": _f("topics engaged"),
    "top_topic_share": _f("top topic share"),
    "mobile_share": _f("mobile share"),
    "complaint_count": _f("complaints"),
    "complaints_recent": _f("recent complaints"),
    "overdue_count": _f("overdue events"),
    "overdue_recent": _f("recent overdue events"),
    "device_count": _f("devices"),
    "shared_device_customers": _f("other customers on the same device"),
    "max_device_accounts": _f("accounts on busiest device"),
    # activity = transactions + activity events
    "activity_count": _f("activities"),
    "activity_recent": _f("recent activities"),
    "activity_earlier": _f("earlier activities"),
    "activity_trend": _f("activity trend (recent/earlier rate)"),
    "last_active_days": _f("days since last activity"),
    # graph metrics of the run
    "community_id": _f("community", "str"),
    "community_size": _f("community size"),
    "in_degree": _f("in-degree"),
    "out_degree": _f("out-degree"),
    "degree": _f("degree"),
    "in_strength": _f("in-strength"),
    "out_strength": _f("out-strength"),
    "pagerank": _f("PageRank"),
    "betweenness": _f("betweenness"),
    "coreness": _f("coreness"),
    "clustering": _f("clustering"),
    "constraint": _f("constraint"),
    "reach_2hop": _f("2-hop reach"),
    "neighbor_communities": _f("neighbouring communities"),
    "referrals_direct": _f("direct referrals"),
    "referral_downstream": _f("referral downstream"),
    "referral_depth": _f("referral depth"),
    "community_pagerank_pct": _f("PageRank percentile in community"),
    "influence": _f("influence"),
}

#: Metrics that are undefined (not zero) for a customer outside the graph.
_METRICS_KEEP_NULL = ("clustering", "constraint")

#: Prefixes of the dynamic per-value columns, by family source.
FAMILY_SOURCES: tuple[str, ...] = ("category", "topic")


@dataclass(frozen=True)
class FeatureParams:
    """Windows and value lists behind the features.

    Attributes
    ----------
    recent_days, earlier_days
        The activity trend compares the daily rate in the last ``recent_days`` with the rate
        in the ``earlier_days`` before that (default: last quarter vs the three before).
    login_recent_days, complaint_recent_days, overdue_recent_days
        Windows of the "recent" counts.
    rfm_window_days
        Frequency and monetary over this many days; None = the whole history.
    activity_event_types
        Event types that show the customer is active (complaints and overdue notices are
        not activity).
    mobile_values
        ``events.device_type`` / ``transactions.channel`` values that count as mobile.
    shared_device_max_accounts
        Devices used by more accounts than this are treated as public terminals (branch
        kiosks) and ignored as fraud evidence.
    """

    recent_days: float = 90.0
    earlier_days: float = 270.0
    login_recent_days: float = 30.0
    complaint_recent_days: float = 180.0
    overdue_recent_days: float = 365.0
    rfm_window_days: float | None = None
    activity_event_types: tuple[str, ...] = ("login", "page_view", "content_view")
    mobile_values: tuple[str, ...] = (
        "mobile",
        "app",
        "mobile_app",
        "ios",
        "android",
        "phone",
        "wechat",
        "mini_program",
        "h5",
        "手机",
        "手机银行",
        "移动端",
    )
    shared_device_max_accounts: int = 50
    family_relation_types: tuple[str, ...] = ("family",)


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
    as_of = as_of.replace(tzinfo=None)
    asof_s = (as_of - datetime(1970, 1, 1)).total_seconds()

    def start(days: float) -> str:
        return f"({_ts(as_of)} - INTERVAL {int(days * DAY_S)} SECOND)"

    recent = start(p.recent_days)
    login_recent = start(p.login_recent_days)
    complaint_recent = start(p.complaint_recent_days)
    overdue_recent = start(p.overdue_recent_days)
    earlier = start(p.recent_days + p.earlier_days)
    rfm_start = start(p.rfm_window_days) if p.rfm_window_days else "TIMESTAMP '0001-01-01'"
    event_types = _distinct(ev, "event_type")
    activity = _in_list(_raw_values(event_types, p.activity_event_types))
    ev_mobile = _in_list(_raw_values(_distinct(ev, "device_type"), p.mobile_values))
    txn_mobile = _in_list(_raw_values(_distinct(txn, "channel"), p.mobile_values))
    et = {
        k: _in_list(_raw_values(event_types, (k,)))
        for k in ("login", "page_view", "content_view", "complaint", "overdue")
    }
    now = _ts(as_of)

    con = duckdb.connect(":memory:")
    try:
        con.register("c_raw", cust)
        con.register("t_raw", txn)
        con.register("e_raw", ev)
        # Customers get a row number (rn) in id order; every aggregate is grouped by the raw
        # id first and joined to it afterwards, so the big tables are never joined row by row.
        # Values (event types, categories, topics) are normalised after grouping, on the few
        # distinct values, not on every row.
        con.execute(
            f"""
            CREATE TEMP TABLE c AS
            SELECT (row_number() OVER (ORDER BY customer_id) - 1)::BIGINT AS rn, *
            FROM (SELECT * FROM c_raw WHERE customer_id IS NOT NULL
                  QUALIFY row_number() OVER (PARTITION BY customer_id) = 1);
            CREATE TEMP VIEW t AS SELECT customer_id, occurred_at, amount, promo, channel,
                category, brand FROM t_raw WHERE occurred_at <= {now};
            CREATE TEMP VIEW e AS SELECT customer_id, occurred_at, device_id, device_type,
                topic, event_type AS et FROM e_raw WHERE occurred_at <= {now};
            """
        )
        base = con.sql(
            f"""
            WITH ta AS (
                SELECT customer_id,
                    count(*) AS txn_count,
                    count(*) FILTER (WHERE occurred_at > {rfm_start}) AS frequency,
                    coalesce(sum(amount) FILTER (WHERE occurred_at > {rfm_start}), 0) AS monetary,
                    avg(amount) AS avg_amount,
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
            SELECT c.customer_id,
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
                lower(trim(c.channel)) AS channel,
                ta.* EXCLUDE (customer_id), br.* EXCLUDE (customer_id),
                ea.* EXCLUDE (customer_id),
                dd.* EXCLUDE (customer_id), shared.shared_device_customers
            FROM c
            LEFT JOIN ta USING (customer_id)
            LEFT JOIN br USING (customer_id)
            LEFT JOIN ea USING (customer_id)
            LEFT JOIN dd USING (customer_id)
            LEFT JOIN shared USING (customer_id)
            ORDER BY c.rn
            """
        ).to_arrow_table()
        cat_long = _fetch(
            con,
            "SELECT c.rn, g.v, g.n FROM (SELECT customer_id, category AS v, count(*) AS n "
            "FROM t WHERE category IS NOT NULL GROUP BY ALL) g JOIN c USING (customer_id)",
        )
        topic_long = _fetch(
            con,
            "SELECT c.rn, g.v, g.n FROM (SELECT customer_id, topic AS v, count(*) AS n "
            "FROM e WHERE topic IS NOT NULL GROUP BY ALL) g JOIN c USING (customer_id)",
        )
        family = None
        if rel is not None:
            con.register("r_raw", rel)
            fam = _in_list(_raw_values(_distinct(rel, "type"), p.family_relation_types))
            family = _fetch(
                con,
                f"""SELECT c.rn, g.family_links FROM (
                    SELECT customer_id, count(DISTINCT other) AS family_links FROM (
                        SELECT src_id AS customer_id, dst_id AS other FROM r_raw
                            WHERE type IN {fam} AND src_id <> dst_id
                        UNION ALL
                        SELECT dst_id, src_id FROM r_raw
                            WHERE type IN {fam} AND src_id <> dst_id
                    ) GROUP BY customer_id) g JOIN c USING (customer_id)""",
            )
    finally:
        con.close()

    df = base.to_pandas()
    return _derive(df, cat_long, topic_long, family, metrics, asof_s, p)


def _fetch(con: duckdb.DuckDBPyConnection, sql: str) -> pd.DataFrame:
    return con.sql(sql).to_arrow_table().to_pandas()


def _num(df: pd.DataFrame, col: str, fill: float | None = 0.0) -> np.ndarray:
    v = df[col].to_numpy(dtype="float64", na_value=np.nan)
    if fill is not None:
        v = np.where(np.isnan(v), fill, v)
    return v


def _quintile(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """1-5 score by quintile of ``x`` among ``mask`` (ties share their average rank)."""
    out = np.full(x.shape, np.nan)
    if mask.any():
        r = pd.Series(x[mask]).rank(method="average", pct=True).to_numpy()
        out[mask] = np.clip(np.ceil(r * 5.0), 1, 5)
    return out


def _rank_pct(x: np.ndarray) -> np.ndarray:
    return pd.Series(x).rank(method="average", pct=True).to_numpy(dtype="float64") * 100.0


def _derive(
    df: pd.DataFrame,
    cat_long: pd.DataFrame,
    topic_long: pd.DataFrame,
    family: pd.DataFrame | None,
    metrics: pd.DataFrame | None,
    asof_s: float,
    p: FeatureParams,
) -> pd.DataFrame:
    n = len(df)
    out: dict[str, object] = {"customer_id": df["customer_id"]}
    for col in ("age", "aum", "marketing_consent"):
        out[col] = _num(df, col, None)
    for col in (
        "gender",
        "city",
        "occupation",
        "income_level",
        "member_level",
        "marital_status",
        "channel",
    ):
        out[col] = df[col]
    out["income_amount"] = pd.to_numeric(df["income_level"], errors="coerce").to_numpy(
        dtype="float64", na_value=np.nan
    )

    txn_count = _num(df, "txn_count")
    has_txn = txn_count > 0
    last_txn = _num(df, "last_txn_s", None)
    first_txn = _num(df, "first_txn_s", None)
    last_act_ev = _num(df, "last_act_s", None)
    first_ev = _num(df, "first_event_s", None)
    registered = _num(df, "registered_s", None)

    out["txn_count"] = txn_count
    out["frequency"] = _num(df, "frequency")
    out["monetary"] = _num(df, "monetary")
    out["recency_days"] = (asof_s - last_txn) / DAY_S
    out["avg_amount"] = _num(df, "avg_amount", None)
    out["max_amount"] = _num(df, "max_amount", None)
    out["first_txn_days"] = (asof_s - first_txn) / DAY_S
    out["txn_recent"] = _num(df, "txn_recent")
    out["txn_earlier"] = _num(df, "txn_earlier")
    out["promo_count"] = _num(df, "promo_count")
    with np.errstate(divide="ignore", invalid="ignore"):
        promo_known = _num(df, "promo_known")
        out["promo_share"] = np.where(promo_known > 0, out["promo_count"] / promo_known, np.nan)
        out["brand_count"] = _num(df, "brand_count")
        brand_txn = _num(df, "brand_txn")
        out["top_brand_count"] = _num(df, "top_brand_count")
        out["top_brand_share"] = np.where(brand_txn > 0, out["top_brand_count"] / brand_txn, np.nan)

        # RFM: quintile scores among customers with transactions; R is higher when recent.
        out["r_score"] = _quintile(-np.nan_to_num(out["recency_days"], nan=0.0), has_txn)
        out["f_score"] = _quintile(out["frequency"], has_txn)
        out["m_score"] = _quintile(out["monetary"], has_txn)
        out["rfm_score"] = out["r_score"] + out["f_score"] + out["m_score"]

        # Value: weighted rank of monetary, frequency and AUM, 0-100 (AUM only when known).
        aum = np.nan_to_num(out["aum"], nan=0.0)
        if np.any(aum > 0):
            value = (
                0.4 * _rank_pct(out["monetary"])
                + 0.3 * _rank_pct(out["frequency"])
                + 0.3 * _rank_pct(aum)
            )
        else:
            value = 0.55 * _rank_pct(out["monetary"]) + 0.45 * _rank_pct(out["frequency"])
        out["value_score"] = value

        # events
        for col in (
            "event_count",
            "login_count",
            "logins_recent",
            "page_views",
            "content_views",
            "complaint_count",
            "complaints_recent",
            "overdue_count",
            "overdue_recent",
            "device_count",
            "max_device_accounts",
            "shared_device_customers",
        ):
            out[col] = _num(df, col)
        out["login_recency_days"] = (asof_s - _num(df, "last_login_s", None)) / DAY_S
        mobile_known = _num(df, "txn_channel_known") + _num(df, "ev_device_known")
        out["mobile_share"] = np.where(
            mobile_known > 0,
            (_num(df, "txn_mobile") + _num(df, "ev_mobile")) / mobile_known,
            np.nan,
        )

        # activity = purchases + activity events
        out["activity_count"] = txn_count + _num(df, "act_count")
        recent = out["txn_recent"] + _num(df, "act_recent")
        earlier = out["txn_earlier"] + _num(df, "act_earlier")
        out["activity_recent"] = recent
        out["activity_earlier"] = earlier
        out["activity_trend"] = np.where(
            earlier > 0, (recent / p.recent_days) / (earlier / p.earlier_days), np.nan
        )
        last_active = np.fmax(last_txn, last_act_ev)
        out["last_active_days"] = (asof_s - last_active) / DAY_S
        first_seen = np.fmin(first_txn, first_ev)
        out["tenure_days"] = (asof_s - np.where(np.isnan(registered), first_seen, registered)) / (
            DAY_S
        )

    # family links
    fam = np.zeros(n)
    if family is not None and len(family):
        fam[family["rn"].to_numpy()] = family["family_links"].to_numpy(dtype="float64")
    out["family_links"] = fam

    # preference families
    ids = pd.Index(df["customer_id"])
    cat_cols, cat_top, cat_n = _shares(n, cat_long, "category")
    topic_cols, topic_top, topic_n = _shares(n, topic_long, "topic")
    out["top_category_share"] = cat_top
    out["category_count"] = cat_n
    out["top_topic_share"] = topic_top
    out["topic_count"] = topic_n

    # graph metrics
    _merge_metrics(out, ids, metrics)

    frame = pd.DataFrame(out)
    order = ["customer_id"] + [c for c in FEATURES if c in frame.columns]
    frame = frame[order]
    extra = pd.DataFrame({**cat_cols, **topic_cols}, index=frame.index)
    return pd.concat([frame, extra], axis=1) if len(extra.columns) else frame


def _slug(v: object) -> str:
    return "_".join(str(v).strip().lower().split())


def _shares(
    n: int, long: pd.DataFrame, source: str
) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """Wide ``<source>_share:<v>`` / ``<source>_count:<v>`` columns, top share, distinct count.

    ``long`` holds (rn, raw value, count); values are normalised (lower case, spaces to
    ``_``) here, on the distinct values only.
    """
    if not len(long):
        return {}, np.full(n, np.nan), np.zeros(n)
    raw_codes, raw_values = pd.factorize(long["v"].to_numpy())
    slugs = np.array([_slug(v) for v in raw_values], dtype=object)
    keep = np.array([bool(v) for v in slugs])
    codes_of_raw, values = pd.factorize(slugs)
    codes = codes_of_raw[raw_codes]
    ok = keep[raw_codes]
    k = len(values)
    flat = long["rn"].to_numpy()[ok] * k + codes[ok]
    counts = np.bincount(
        flat, weights=long["n"].to_numpy(dtype="float64")[ok], minlength=n * k
    ).reshape(n, k)
    total = counts.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        shares = counts / total[:, None]
        top = np.where(total > 0, shares.max(axis=1), np.nan)
    distinct = (counts > 0).sum(axis=1).astype("float64")
    cols: dict[str, np.ndarray] = {}
    for j, v in sorted(enumerate(values), key=lambda t: str(t[1])):
        cols[f"{source}_share:{v}"] = np.nan_to_num(shares[:, j]).astype("float32")
        cols[f"{source}_count:{v}"] = counts[:, j].astype("int32")
    return cols, top, distinct


def _merge_metrics(out: dict, ids: pd.Index, metrics: pd.DataFrame | None) -> None:
    n = len(ids)
    community = pd.Series(pd.NA, index=range(n), dtype="str")
    values = {c: np.zeros(n) for c in METRIC_COLUMNS}
    for c in _METRICS_KEEP_NULL:
        values[c] = np.full(n, np.nan)
    if metrics is not None and len(metrics):
        m = metrics.reset_index() if "customer_id" not in metrics.columns else metrics
        mids = m["customer_id"].astype("str")
        if len(mids) == n and bool((mids.to_numpy() == ids.to_numpy()).all()):
            rows = np.arange(n)  # already aligned (the common case): skip the hash lookup
        else:
            rows = ids.get_indexer(mids)
        ok = rows >= 0
        for c in METRIC_COLUMNS:
            if c in m.columns:
                col = m[c]
                if not pd.api.types.is_numeric_dtype(col.dtype):
                    col = pd.to_numeric(col, errors="coerce")
                v = col.to_numpy(dtype="float64", na_value=np.nan)
                if c not in _METRICS_KEEP_NULL:
                    v = np.nan_to_num(v, nan=0.0)
                values[c][rows[ok]] = v[ok]
        if "community_id" in m.columns:
            comm = m["community_id"].astype("str").to_numpy(dtype=object, na_value=None)
            arr = np.full(n, None, dtype=object)
            arr[rows[ok]] = comm[ok]
            community = pd.Series(arr, dtype="str")
    out["community_id"] = community
    codes, _ = pd.factorize(community, use_na_sentinel=True)
    counts = np.bincount(codes[codes >= 0], minlength=1).astype("float64")
    out["community_size"] = np.where(codes >= 0, counts[np.clip(codes, 0, None)], 0.0)
    out.update(values)
