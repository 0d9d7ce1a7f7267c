"""The feature table as one SQL statement (DuckDB and Spark SQL): aggregation and derivation.

`feature_sql` writes what `tagging.feature_compute` (aggregation, DuckDB) and
`tagging.feature_derive` (numpy) compute, in SQL that both DuckDB and Spark run, without a
global row number or any per-customer step on the driver: quintile scores and percentile
ranks are window functions with pandas' average-rank tie rule, the per-category and
per-topic columns a pivot over the distinct values (normalised in Python with
`feature_derive._slug`, on the few distinct values only), the run's metrics a join.

Exactness: every column is the same IEEE operation in the same order as in numpy, so the
two agree exactly where the inputs are the same; sums of amounts are exact decimal sums
(`tagging.sums_sql`), as in the local engine's aggregation.

Pure string generation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Literal

from graph.model import METRIC_COLUMNS, UNICODE_SPACES
from tagging.feature_catalog import DAY_S, FEATURES, FeatureParams
from tagging.feature_compute import _raw_values
from tagging.feature_derive import _METRICS_KEEP_NULL, _slug
from tagging.rank_sql import rank_ctes, rank_join
from tagging.sums_sql import amount_sum

__all__ = ["DISTINCT_INPUTS", "feature_sql"]

Dialect = Literal["duckdb", "spark"]

#: (table, column) whose distinct values the statement needs (few; the engine collects them).
DISTINCT_INPUTS: tuple[tuple[str, str], ...] = (
    ("events", "event_type"),
    ("events", "device_type"),
    ("transactions", "channel"),
    ("transactions", "category"),
    ("events", "topic"),
    ("relations", "type"),
)

_TEXT_COLUMNS = (
    "gender",
    "city",
    "occupation",
    "income_level",
    "member_level",
    "marital_status",
    "channel",
)


def feature_sql(
    *,
    as_of: datetime,
    distinct: Mapping[tuple[str, str], Sequence[str | None]],
    dialect: Dialect = "duckdb",
    params: FeatureParams | None = None,
    names: Mapping[str, str] | None = None,
    has_relations: bool = True,
    has_metrics: bool = True,
) -> str:
    """One SELECT giving the feature table of `tagging.compute_features`.

    Parameters
    ----------
    as_of
        The point in time (naive UTC); rows after it are ignored.
    distinct
        The distinct values of each `DISTINCT_INPUTS` column in the data.
    dialect
        ``duckdb`` or ``spark``.
    params
        Windows and value lists, see `FeatureParams`.
    names
        The relations read, by table (``customers``, ``transactions``, ``events``,
        ``relations``, ``metrics``); defaults to those names.
    has_relations, has_metrics
        Whether the relations (family links) and the run's metrics are given.
    """
    p = params or FeatureParams()
    n = {k: k for k in ("customers", "transactions", "events", "relations", "metrics")}
    n.update(names or {})
    spark = dialect == "spark"
    q = (lambda c: "`" + c.replace("`", "``") + "`") if spark else (lambda c: '"' + c + '"')
    text = "STRING" if spark else "VARCHAR"

    def lit(s: str) -> str:
        if spark:
            return "'" + s.replace("\\", "\\\\").replace("'", "\\'") + "'"
        return "'" + s.replace("'", "''") + "'"

    def in_list(values: Sequence[str]) -> str:
        return "(" + ", ".join(lit(v) for v in values) + ")" if values else "(NULL)"

    def ts(x: datetime) -> str:
        return f"{'TIMESTAMP_NTZ' if spark else 'TIMESTAMP'} '{x.isoformat(sep=' ')}'"

    def epoch(x: str) -> str:
        if spark:
            return f"(unix_micros(CAST({x} AS TIMESTAMP)) / 1000000.0)"
        return f"epoch({x})"

    def trim(x: str) -> str:
        if spark:
            return f"btrim({x}, {lit(UNICODE_SPACES)})"
        return f"trim({x})"

    def num(x: float) -> str:
        return f"CAST('{float(x)!r}' AS DOUBLE)"

    as_of = as_of.replace(tzinfo=None)
    asof_s = num((as_of - datetime(1970, 1, 1)).total_seconds())
    day = num(DAY_S)
    now = ts(as_of)

    def start(days: float) -> str:
        return ts(as_of - timedelta(seconds=int(days * DAY_S)))

    recent, earlier = start(p.recent_days), start(p.recent_days + p.earlier_days)
    rfm_start = start(p.rfm_window_days) if p.rfm_window_days else ts(datetime(1, 1, 1))
    ev_types = list(distinct.get(("events", "event_type"), ()))
    et = {
        k: in_list(_raw_values(ev_types, (k,)))
        for k in ("login", "page_view", "content_view", "complaint", "overdue")
    }
    activity = in_list(_raw_values(ev_types, p.activity_event_types))
    ev_mobile = in_list(
        _raw_values(list(distinct.get(("events", "device_type"), ())), p.mobile_values)
    )
    txn_mobile = in_list(
        _raw_values(list(distinct.get(("transactions", "channel"), ())), p.mobile_values)
    )

    ctes = [
        f"c AS (SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY customer_id "
        f"ORDER BY customer_id) AS _k FROM {n['customers']} WHERE customer_id IS NOT NULL) "
        "AS _c WHERE _k = 1)",
        f"t AS (SELECT customer_id, occurred_at, amount, promo, channel, category, brand "
        f"FROM {n['transactions']} WHERE occurred_at <= {now})",
        f"e AS (SELECT customer_id, occurred_at, device_id, device_type, topic, "
        f"event_type AS et FROM {n['events']} WHERE occurred_at <= {now})",
        f"""ta AS (SELECT customer_id, count(*) AS txn_count,
            count(CASE WHEN occurred_at > {rfm_start} THEN 1 END) AS frequency,
            coalesce({amount_sum(f"CASE WHEN occurred_at > {rfm_start} THEN amount END", dialect)},
                0) AS monetary,
            {amount_sum("amount", dialect)} / count(amount) AS avg_amount,
            max(amount) AS max_amount,
            {epoch("max(occurred_at)")} AS last_txn_s, {epoch("min(occurred_at)")} AS first_txn_s,
            count(CASE WHEN occurred_at > {recent} THEN 1 END) AS txn_recent,
            count(CASE WHEN occurred_at <= {recent} AND occurred_at > {earlier} THEN 1 END)
                AS txn_earlier,
            count(CASE WHEN promo THEN 1 END) AS promo_count, count(promo) AS promo_known,
            count(CASE WHEN channel IN {txn_mobile} THEN 1 END) AS txn_mobile,
            count(channel) AS txn_channel_known
            FROM t GROUP BY customer_id)""",
        """br AS (SELECT customer_id, count(*) AS brand_count, max(n) AS top_brand_count,
            sum(n) AS brand_txn FROM (SELECT customer_id, brand, count(*) AS n FROM t
            WHERE brand IS NOT NULL AND brand <> '' GROUP BY customer_id, brand) AS _b
            GROUP BY customer_id)""",
    ]

    def cnt(cond: str) -> str:
        return f"count(CASE WHEN {cond} THEN 1 END)"

    def last(cond: str) -> str:
        return epoch(f"max(CASE WHEN {cond} THEN occurred_at END)")

    ctes.append(
        f"""ea AS (SELECT customer_id, count(*) AS event_count,
            {cnt(f"et IN {et['login']}")} AS login_count,
            {cnt(f"et IN {et['login']} AND occurred_at > {start(p.login_recent_days)}")}
                AS logins_recent,
            {last(f"et IN {et['login']}")} AS last_login_s,
            {cnt(f"et IN {et['page_view']}")} AS page_views,
            {cnt(f"et IN {et['content_view']}")} AS content_views,
            {cnt(f"et IN {et['complaint']}")} AS complaint_count,
            {cnt(f"et IN {et['complaint']} AND occurred_at > {start(p.complaint_recent_days)}")}
                AS complaints_recent,
            {cnt(f"et IN {et['overdue']}")} AS overdue_count,
            {cnt(f"et IN {et['overdue']} AND occurred_at > {start(p.overdue_recent_days)}")}
                AS overdue_recent,
            {cnt(f"et IN {activity}")} AS act_count,
            {cnt(f"et IN {activity} AND occurred_at > {recent}")} AS act_recent,
            {cnt(f"et IN {activity} AND occurred_at <= {recent} AND occurred_at > {earlier}")}
                AS act_earlier,
            {last(f"et IN {activity}")} AS last_act_s, {epoch("min(occurred_at)")} AS first_event_s,
            {cnt(f"device_type IN {ev_mobile}")} AS ev_mobile,
            count(device_type) AS ev_device_known
            FROM e GROUP BY customer_id)"""
    )
    ctes += [
        "d AS (SELECT DISTINCT device_id, customer_id FROM e WHERE device_id IS NOT NULL)",
        "dk AS (SELECT device_id, count(*) AS k FROM d GROUP BY device_id)",
        "dd AS (SELECT d.customer_id, count(*) AS device_count, max(k) AS max_device_accounts "
        "FROM d JOIN dk ON d.device_id = dk.device_id GROUP BY d.customer_id)",
        "sd AS (SELECT d.device_id, d.customer_id FROM d JOIN dk ON d.device_id = dk.device_id "
        f"WHERE dk.k BETWEEN 2 AND {int(p.shared_device_max_accounts)})",
        "shared AS (SELECT a.customer_id, count(DISTINCT b.customer_id) AS "
        "shared_device_customers FROM sd a JOIN sd b ON a.device_id = b.device_id "
        "AND a.customer_id <> b.customer_id GROUP BY a.customer_id)",
    ]
    wide: list[str] = []
    for source, table, column in (("category", "t", "category"), ("topic", "e", "topic")):
        raw = [
            v
            for v in distinct.get(("transactions" if table == "t" else "events", column), ())
            if v is not None
        ]
        slugs = {v: _slug(v) for v in raw}
        values = sorted({s for s in slugs.values() if s}, key=str)
        if not values:
            continue
        case = (
            "CASE "
            + " ".join(f"WHEN raw = {lit(r)} THEN {lit(s)}" for r, s in slugs.items() if s)
            + " END"
        )
        pivot = ", ".join(
            f"sum(CASE WHEN v = {lit(v)} THEN n END) AS {q('n:' + v)}" for v in values
        )
        ctes.append(
            f"{source}_w AS (SELECT customer_id, sum(n) AS total, count(*) AS kinds, "
            f"max(n) AS top_n, {pivot} FROM (SELECT customer_id, {case} AS v, "
            f"sum(n) AS n FROM (SELECT customer_id, {column} AS raw, count(*) AS n FROM {table} "
            f"WHERE {column} IS NOT NULL GROUP BY customer_id, {column}) AS _g "
            f"GROUP BY customer_id, {case}) AS _s "
            f"WHERE v IS NOT NULL GROUP BY customer_id)"
        )
        for v in values:
            share = f"CAST(coalesce({source}_w.{q('n:' + v)} / {source}_w.total, 0) AS FLOAT)"
            count = f"CAST(coalesce({source}_w.{q('n:' + v)}, 0) AS INTEGER)"
            wide.append(f"{share} AS {q(f'{source}_share:{v}')}")
            wide.append(f"{count} AS {q(f'{source}_count:{v}')}")
    fam_join = ""
    if has_relations:
        fam = in_list(
            _raw_values(list(distinct.get(("relations", "type"), ())), p.family_relation_types)
        )
        ctes.append(
            "fam AS (SELECT customer_id, count(DISTINCT other) AS family_links FROM ("
            f"SELECT src_id AS customer_id, dst_id AS other FROM {n['relations']} "
            f"WHERE type IN {fam} AND src_id <> dst_id UNION ALL "
            f"SELECT dst_id, src_id FROM {n['relations']} "
            f"WHERE type IN {fam} AND src_id <> dst_id) AS _f GROUP BY customer_id)"
        )
        fam_join = " LEFT JOIN fam ON fam.customer_id = c.customer_id"

    base_cols = [
        "c.customer_id AS customer_id",
        f"coalesce(CAST(c.age AS DOUBLE), "
        f"floor({_days(dialect, 'c.birth_date', as_of)} / 365.25)) AS age",
        "CAST(c.aum AS DOUBLE) AS aum",
        f"{epoch('c.registered_at')} AS registered_s",
        "CAST(c.marketing_consent AS DOUBLE) AS marketing_consent",
    ]
    base_cols += [f"lower({trim(f'c.{col}')}) AS {col}" for col in _TEXT_COLUMNS]
    agg = {
        "ta": ("txn_count", "frequency", "monetary", "avg_amount", "max_amount", "last_txn_s",
               "first_txn_s", "txn_recent", "txn_earlier", "promo_count", "promo_known",
               "txn_mobile", "txn_channel_known"),
        "br": ("brand_count", "top_brand_count", "brand_txn"),
        "ea": ("event_count", "login_count", "logins_recent", "last_login_s", "page_views",
               "content_views", "complaint_count", "complaints_recent", "overdue_count",
               "overdue_recent", "act_count", "act_recent", "act_earlier", "last_act_s",
               "first_event_s", "ev_mobile", "ev_device_known"),
        "dd": ("device_count", "max_device_accounts"),
        "shared": ("shared_device_customers",),
    }  # fmt: skip
    joins = ""
    for alias, cols in agg.items():
        base_cols += [f"CAST({alias}.{c} AS DOUBLE) AS {c}" for c in cols]
        joins += f" LEFT JOIN {alias} ON {alias}.customer_id = c.customer_id"
    base_cols.append(
        "CAST(coalesce(fam.family_links, 0) AS DOUBLE) AS family_links"
        if has_relations
        else "CAST(0 AS DOUBLE) AS family_links"
    )
    joins += fam_join
    shares_present = {s for s in ("category", "topic") if any(f"{s}_share:" in w for w in wide)}
    for source in ("category", "topic"):
        if source in shares_present:
            w = f"{source}_w"
            base_cols.append(
                f"CASE WHEN {w}.total > 0 THEN {w}.top_n / {w}.total END AS top_{source}_share"
            )
            base_cols.append(f"CAST(coalesce({w}.kinds, 0) AS DOUBLE) AS {source}_count")
            joins += f" LEFT JOIN {w} ON {w}.customer_id = c.customer_id"
        else:
            base_cols.append(f"CAST(NULL AS DOUBLE) AS top_{source}_share")
            base_cols.append(f"CAST(0 AS DOUBLE) AS {source}_count")
    base_cols += wide
    if has_metrics:
        for col in METRIC_COLUMNS:
            v = f"CAST(m.{q(col)} AS DOUBLE)"
            base_cols.append(
                f"{v if col in _METRICS_KEEP_NULL else f'coalesce({v}, 0)'} AS {q(col)}"
            )
        base_cols.append(f"CAST(m.community_id AS {text}) AS community_id")
        joins += f" LEFT JOIN {n['metrics']} m ON m.customer_id = c.customer_id"
    else:
        for col in METRIC_COLUMNS:
            base_cols.append(
                f"CAST({'NULL' if col in _METRICS_KEEP_NULL else '0'} AS DOUBLE) AS {q(col)}"
            )
        base_cols.append(f"CAST(NULL AS {text}) AS community_id")
    ctes.append(f"b AS (SELECT {', '.join(base_cols)} FROM c{joins})")
    return _derived(
        ctes,
        wide_names=[w.rsplit(" AS ", 1)[1] for w in wide],
        asof_s=asof_s,
        day=day,
        p=p,
        num=num,
        q=q,
        spark=spark,
    )


def _ratio(part: str, whole: str) -> str:
    """``part / whole`` where ``whole`` is positive, else missing."""
    return f"CASE WHEN {whole} > 0 THEN {part} / {whole} END"


def _days(dialect: Dialect, date_col: str, as_of: datetime) -> str:
    today = as_of.date().isoformat()
    if dialect == "spark":
        return f"datediff(DATE '{today}', {date_col})"
    return f"date_diff('day', {date_col}, DATE '{today}')"


def _derived(
    ctes: list[str],
    *,
    wide_names: list[str],
    asof_s: str,
    day: str,
    p: FeatureParams,
    num,
    q,
    spark: bool = False,
) -> str:
    """The derived columns of `feature_derive.derive_features` over ``b``, in `FEATURES` order.

    Spark takes its ranks from `tagging.rank_sql` (joined to ``w``), and its totals from
    grouped aggregates, instead of windows spanning all customers (one partition there).
    """
    z = lambda c: f"coalesce({c}, 0)"  # noqa: E731
    ranked: list[str] = []  # Spark: the joins of ``w`` to its rank relations

    def avg_rank(v: str, mask: str) -> tuple[str, str]:
        """pandas' average rank of ``v`` among the rows sharing ``mask``, and their count."""
        # DOUBLE constants: Spark reads ``2.0`` as a DECIMAL, whose division rounds at a scale
        if not spark:
            part, ties = (f"PARTITION BY {mask} ", f"{mask}, {v}") if mask != "TRUE" else ("", v)
            avg = (
                f"(rank() OVER ({part}ORDER BY {v}) "
                f"+ (count(*) OVER (PARTITION BY {ties}) - 1) / {num(2.0)})"
            )
            return avg, f"count(*) OVER ({part.strip()})"
        name = f"_rk{len(ranked)}"
        ctes.extend(rank_ctes(name, "b", v, mask))
        ranked.append(rank_join(name, v, mask))
        return f"({name}._rank + ({name}._n - 1) / {num(2.0)})", f"{name}._total"

    def quintile(x: str, mask: str) -> str:
        # pandas' average rank among ``mask``, as a share; 1-5 by quintile
        avg, total = avg_rank(f"(({x}) + 0.0)", mask)
        r = f"({avg} / {total})"
        five = num(5.0)
        return (
            f"CASE WHEN {mask} THEN CAST(least(5, greatest(1, ceil({r} * {five}))) AS DOUBLE) END"
        )

    def rank_pct(x: str) -> str:
        avg, total = avg_rank(f"(({x}) + 0.0)", "TRUE")
        return f"(({avg} / {total}) * {num(100.0)})"

    has_txn = f"({z('txn_count')} > 0)"
    recency = f"(({asof_s} - last_txn_s) / {day})"
    cols = {
        "age": "age",
        "aum": "aum",
        "income_amount": "TRY_CAST(income_level AS DOUBLE)",
        "tenure_days": (
            f"(({asof_s} - coalesce(registered_s, least(first_txn_s, first_event_s))) / {day})"
        ),
        "marketing_consent": "marketing_consent",
        "family_links": "family_links",
        **{c: c for c in _TEXT_COLUMNS},
        "txn_count": z("txn_count"),
        "frequency": z("frequency"),
        "monetary": z("monetary"),
        "recency_days": recency,
        "avg_amount": "avg_amount",
        "max_amount": "max_amount",
        "first_txn_days": f"(({asof_s} - first_txn_s) / {day})",
        "txn_recent": z("txn_recent"),
        "txn_earlier": z("txn_earlier"),
        "promo_count": z("promo_count"),
        "promo_share": _ratio(z("promo_count"), z("promo_known")),
        "category_count": "category_count",
        "top_category_share": "top_category_share",
        "brand_count": z("brand_count"),
        "top_brand_share": _ratio(z("top_brand_count"), z("brand_txn")),
        "top_brand_count": z("top_brand_count"),
        "r_score": quintile(f"-coalesce({recency}, 0)", has_txn),
        "f_score": quintile(z("frequency"), has_txn),
        "m_score": quintile(z("monetary"), has_txn),
    }
    cols["rfm_score"] = f"({cols['r_score']} + {cols['f_score']} + {cols['m_score']})"
    m, f, a = rank_pct(z("monetary")), rank_pct(z("frequency")), rank_pct(z("aum"))
    top_aum = f"(SELECT max({z('aum')}) FROM b)" if spark else f"max({z('aum')}) OVER ()"
    cols["value_score"] = (
        f"CASE WHEN {top_aum} > 0 THEN {num(0.4)} * {m} + {num(0.3)} * {f} + "
        f"{num(0.3)} * {a} ELSE {num(0.55)} * {m} + {num(0.45)} * {f} END"
    )
    for c in ("event_count", "login_count", "logins_recent", "page_views", "content_views",
              "complaint_count", "complaints_recent", "overdue_count", "overdue_recent",
              "device_count", "max_device_accounts", "shared_device_customers"):  # fmt: skip
        cols[c] = z(c)
    cols["login_recency_days"] = f"(({asof_s} - last_login_s) / {day})"
    cols["topic_count"] = "topic_count"
    cols["top_topic_share"] = "top_topic_share"
    known = f"({z('txn_channel_known')} + {z('ev_device_known')})"
    cols["mobile_share"] = (
        f"CASE WHEN {known} > 0 THEN ({z('txn_mobile')} + {z('ev_mobile')}) / {known} END"
    )
    recent = f"({z('txn_recent')} + {z('act_recent')})"
    earlier = f"({z('txn_earlier')} + {z('act_earlier')})"
    cols["activity_count"] = f"({z('txn_count')} + {z('act_count')})"
    cols["activity_recent"] = recent
    cols["activity_earlier"] = earlier
    cols["activity_trend"] = (
        f"CASE WHEN {earlier} > 0 THEN ({recent} / {num(p.recent_days)}) / "
        f"({earlier} / {num(p.earlier_days)}) END"
    )
    cols["last_active_days"] = f"(({asof_s} - greatest(last_txn_s, last_act_s)) / {day})"
    cols["community_id"] = "community_id"
    size = "count(*) OVER (PARTITION BY community_id)"
    if spark:  # a grouped count: one community may hold most customers
        ctes.append(
            "_cs AS (SELECT community_id AS _c, count(*) AS _n FROM b "
            "WHERE community_id IS NOT NULL GROUP BY community_id)"
        )
        ranked.append(" LEFT JOIN _cs ON _cs._c = b.community_id")
        size = "_cs._n"
    cols["community_size"] = (
        f"CASE WHEN community_id IS NULL THEN CAST(0 AS DOUBLE) ELSE CAST({size} AS DOUBLE) END"
    )
    for c in METRIC_COLUMNS:
        cols.setdefault(c, q(c))
    # the window columns in a narrow relation joined back: a window sorts every column it
    # carries, and the feature rows are wide
    windowed = ("r_score", "f_score", "m_score", "value_score", "community_size")
    ctes.append(
        "w AS (SELECT b.customer_id AS _id, "
        + ", ".join(f"{cols[c]} AS {q(c)}" for c in windowed)
        + " FROM b"
        + "".join(ranked)
        + ")"
    )
    for c in windowed:
        cols[c] = f"w.{q(c)}"
    cols["rfm_score"] = "(w.r_score + w.f_score + w.m_score)"
    select = ["customer_id"] + [f"{cols[name]} AS {q(name)}" for name in FEATURES if name in cols]
    select += wide_names
    return (
        "WITH " + ",\n".join(ctes) + f"\nSELECT {', '.join(select)} FROM b "
        "JOIN w ON w._id = b.customer_id"
    )
