from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from tagging.feature_catalog import FEATURES, FeatureParams
from tagging.feature_compute import compute_features

T = pa.timestamp("us")


def _tables():
    customers = pa.table(
        {
            "customer_id": ["a", "b", "c", "d"],
            "age": pa.array([25, None, 70, None], pa.int32()),
            "birth_date": pa.array([None, datetime(1990, 6, 1).date(), None, None], pa.date32()),
            "member_level": [" Gold", None, "silver", None],
            "registered_at": pa.array([datetime(2024, 1, 1), None, datetime(2023, 1, 1), None], T),
        }
    )
    transactions = pa.table(
        {
            "customer_id": ["a", "a", "a", "b", "zz", "a"],
            "occurred_at": pa.array(
                [
                    datetime(2024, 5, 1),
                    datetime(2024, 6, 1),
                    datetime(2024, 6, 20),
                    datetime(2023, 12, 1),
                    datetime(2024, 6, 1),
                    datetime(2024, 7, 15),  # after as_of below: ignored
                ],
                T,
            ),
            "amount": [100.0, 50.0, 30.0, 10.0, 5.0, 999.0],
            "category": ["Wealth Management", "wealth management", "food", None, "x", "food"],
            "brand": ["b1", "b1", "b2", None, None, None],
            "promo": [True, False, None, True, None, None],
            "channel": ["mobile", "branch", "App", None, None, None],
        }
    )
    events = pa.table(
        {
            "customer_id": ["a", "b", "c", "c", "b", "c"],
            "occurred_at": pa.array(
                [
                    datetime(2024, 6, 30),
                    datetime(2024, 3, 1),
                    datetime(2024, 5, 1),
                    datetime(2024, 5, 2),
                    datetime(2024, 6, 1),
                    datetime(2024, 6, 2),
                ],
                T,
            ),
            "event_type": ["login", "content_view", "login", "LOGIN", "complaint", "overdue"],
            "device_id": ["d1", "d1", "d1", "d2", None, None],
            "device_type": ["mobile", "desktop", "mobile", "mobile", None, None],
            "topic": [None, "Investment", None, None, None, None],
        }
    )
    metrics = pd.DataFrame(
        {
            "customer_id": ["a", "b", "c"],
            "community_id": ["1", "1", "2"],
            "pagerank": [0.5, 0.3, 0.2],
            "in_degree": [3, 1, 0],
            "constraint": [0.4, 0.9, np.nan],
        }
    )
    return customers, transactions, events, metrics


@pytest.fixture(scope="module")
def feats():
    c, t, e, m = _tables()
    f = compute_features(c, t, e, m, as_of=datetime(2024, 7, 1))
    return f.set_index("customer_id")


def test_one_row_per_customer_sorted(feats):
    assert feats.index.tolist() == ["a", "b", "c", "d"]
    for name in FEATURES:
        assert name in feats.columns, name


def test_transactions_rfm(feats):
    a = feats.loc["a"]
    assert a.txn_count == 3 and a.monetary == 180 and a.avg_amount == 60
    assert a.recency_days == pytest.approx(11.0)
    assert a.promo_share == pytest.approx(0.5)  # one unknown promo flag is not counted
    assert a.top_brand_share == pytest.approx(2 / 3) and a.brand_count == 2
    assert a.category_count == 2 and a.top_category_share == pytest.approx(2 / 3)
    assert feats.loc["a", "category_share:wealth_management"] == pytest.approx(2 / 3)
    assert feats.loc["a", "category_count:food"] == 1
    assert feats.loc["d"].txn_count == 0 and np.isnan(feats.loc["d"].recency_days)
    # R/F/M scores only for customers with transactions; a beats b on all three
    assert feats.loc["a", "r_score"] > feats.loc["b", "r_score"]
    assert np.isnan(feats.loc["c", "r_score"])


def test_basic_and_tenure(feats):
    assert feats.loc["a", "age"] == 25
    assert feats.loc["b", "age"] == 34  # from birth_date
    assert feats.loc["a", "member_level"] == "gold"  # trimmed, lower-cased
    assert feats.loc["c", "tenure_days"] == pytest.approx(547)
    # no registered_at: first seen in the data (b's first purchase 2023-12-01)
    assert feats.loc["b", "tenure_days"] == pytest.approx(213)


def test_events_and_devices(feats):
    assert feats.loc["c", "login_count"] == 2  # event types are case-insensitive
    assert feats.loc["b", "complaint_count"] == 1 and feats.loc["c", "overdue_count"] == 1
    assert feats.loc["b", "topic_count"] == 1
    assert feats.loc["b", "topic_share:investment"] == 1.0
    # d1 is used by a, b and c: each sees 2 other customers
    assert feats.loc[["a", "b", "c"], "shared_device_customers"].tolist() == [2, 2, 2]
    assert feats.loc["d", "shared_device_customers"] == 0
    # mobile share counts transaction channels and event device types
    assert feats.loc["a", "mobile_share"] == pytest.approx(3 / 4)


def test_activity_and_trend(feats):
    a = feats.loc["a"]
    # recent 90 days: 3 purchases + 1 login; earlier window (90-360 days): nothing
    assert a.activity_recent == 4 and a.activity_earlier == 0 and np.isnan(a.activity_trend)
    b = feats.loc["b"]
    # content_view on 2024-03-01 (earlier window), complaint is not activity
    assert b.activity_recent == 0 and b.activity_earlier == 2 and b.activity_trend == 0
    assert b.last_active_days == pytest.approx(122)


def test_metrics_merge_missing_customers(feats):
    assert feats.loc["a", "pagerank"] == 0.5 and feats.loc["a", "community_id"] == "1"
    assert feats.loc["a", "community_size"] == 2
    assert feats.loc["d", "pagerank"] == 0 and pd.isna(feats.loc["d", "community_id"])
    assert np.isnan(feats.loc["d", "constraint"])
    assert feats.loc["d", "degree"] == 0


def test_as_of_defaults_to_latest_timestamp_and_is_reproducible():
    c, t, e, _m = _tables()
    f1 = compute_features(c, t, e, None)
    f2 = compute_features(c, t, e, None)
    pd.testing.assert_frame_equal(f1, f2)
    # latest row is a's purchase on 2024-07-15
    assert f1.set_index("customer_id").loc["a", "recency_days"] == 0


def test_public_kiosk_devices_are_ignored():
    c, t, e, m = _tables()
    f = compute_features(c, t, e, m, params=FeatureParams(shared_device_max_accounts=2))
    assert f["shared_device_customers"].sum() == 0


def test_family_links_from_relations():
    c, t, e, m = _tables()
    rel = pa.table(
        {
            "src_id": ["a", "a", "b"],
            "dst_id": ["b", "c", "a"],
            "type": ["family", "transfer", "family"],
            "occurred_at": pa.array([datetime(2024, 1, 1)] * 3, T),
        }
    )
    f = compute_features(c, t, e, m, relations=rel).set_index("customer_id")
    assert f["family_links"].tolist() == [1, 1, 0, 0]


def test_empty_activity_tables():
    c, t, e, _m = _tables()
    f = compute_features(c, t.slice(0, 0), e.slice(0, 0), None)
    assert len(f) == 4 and (f["txn_count"] == 0).all()


def test_income_amount_parses_each_level_as_pandas_does():
    """Levels are parsed once per distinct value; the column equals pandas' own parse of
    every row, numbers, words, blanks and missing values alike."""
    from tagging.feature_derive import _numbers_of_levels

    rng = np.random.default_rng(3)
    levels = np.array(["12000", "high", " 7", "1e3", "", "nan", "-inf", "0x10", "3.5"], object)
    values = levels[rng.integers(0, levels.size, 5_000)]
    values[rng.random(5_000) < 0.1] = None
    for dtype in ("str", object):
        col = pd.Series(values, dtype=dtype)
        want = pd.to_numeric(col, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
        np.testing.assert_array_equal(_numbers_of_levels(col), want)
    assert _numbers_of_levels(pd.Series([], dtype="str")).size == 0
    assert np.isnan(_numbers_of_levels(pd.Series([None, None], dtype=object))).all()
