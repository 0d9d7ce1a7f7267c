"""The derived feature columns: RFM scores, value score, shares, trends and graph metrics.

`tagging.feature_compute.compute_features` aggregates the tables in SQL and hands the one row
per customer to `derive_features`, which computes here, in numpy/pandas, what SQL does not
express well: quintile scores, rank-weighted value, the wide per-category and per-topic share
columns, and the merge of the run's graph metrics.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from graph.model import METRIC_COLUMNS
from tagging.feature_catalog import DAY_S, FEATURES, FeatureParams

#: Metrics that are undefined (not zero) for a customer outside the graph.
_METRICS_KEEP_NULL = ("clustering", "constraint")


def _num(df: pd.DataFrame, col: str, fill: float | None = 0.0) -> np.ndarray:
    v = df[col].to_numpy(dtype="float64", na_value=np.nan)
    if fill is not None:
        v = np.where(np.isnan(v), fill, v)
    return v


def _numbers_of_levels(col: pd.Series) -> np.ndarray:
    """``pd.to_numeric(col, errors="coerce")`` as float64, parsed once per distinct value:
    a level column holds a handful of strings over every customer."""
    codes, levels = pd.factorize(col)
    numbers = pd.to_numeric(pd.Series(levels, dtype=object), errors="coerce")
    # code -1 (a missing value) picks the NaN appended last
    return np.append(numbers.to_numpy(dtype="float64", na_value=np.nan), np.nan)[codes]


def _quintile(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """1-5 score by quintile of ``x`` among ``mask`` (ties share their average rank)."""
    out = np.full(x.shape, np.nan)
    if mask.any():
        r = pd.Series(x[mask]).rank(method="average", pct=True).to_numpy()
        out[mask] = np.clip(np.ceil(r * 5.0), 1, 5)
    return out


def _rank_pct(x: np.ndarray) -> np.ndarray:
    return pd.Series(x).rank(method="average", pct=True).to_numpy(dtype="float64") * 100.0


def derive_features(
    df: pd.DataFrame,
    cat_long: pd.DataFrame,
    topic_long: pd.DataFrame,
    family: pd.DataFrame | None,
    metrics: pd.DataFrame | None,
    asof_s: float,
    p: FeatureParams,
) -> pd.DataFrame:
    """The feature table, columns in `FEATURES` order, from the aggregated rows.

    ``df`` holds one aggregated row per customer in customer id order; the per-value counts,
    the family links and the run's graph metrics are merged into it here.
    """
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
    out["income_amount"] = _numbers_of_levels(df["income_level"])

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

    # one frame built once, in its final column order, on the arrays made here (no copy
    # into a consolidated block): selecting and concatenating after would copy every
    # column twice more
    order = ["customer_id"] + [c for c in FEATURES if c in out]
    return pd.DataFrame({c: out[c] for c in order} | cat_cols | topic_cols, copy=False)


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
