"""The feature catalog: every feature a rule may name (`FEATURES`) and the windows behind them.

`tagging.feature_compute.compute_features` fills these columns; the rule checker reads
`FEATURES` for the names and kinds a rule may use, and the engine `FAMILY_SOURCES` for the
dynamic per-value columns of the ``prefers:`` and ``interest:`` families.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

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
