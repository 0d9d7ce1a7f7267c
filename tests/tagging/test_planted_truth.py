"""End to end on generated data: tags recover what the generator planted.

The generator writes its ground truth (super-referrers, fraud-ring members, churners,
complainers, overdue customers) beside the data; the full pipeline (load -> analyze ->
tags) must find them.
"""

from __future__ import annotations

import pandas as pd
import pytest

from graph.store import open_store


@pytest.fixture(scope="module")
def tagged(analysed_store_uri, small_data):
    with open_store(analysed_store_uri, read_only=True) as st:
        run = st.list_runs()[0].run_id
        tags = st.read_tags(run)
        catalog = st.read_catalog(run)
    return tags, catalog, small_data.truth.to_pandas()


def _recall_precision(tags: pd.DataFrame, tag_id: str, planted: pd.Series) -> tuple[float, float]:
    have = set(tags.loc[tags.tag_id == tag_id, "customer_id"])
    pos = set(planted)
    tp = len(have & pos)
    return tp / len(pos), tp / max(1, len(have))


@pytest.mark.parametrize(
    ("tag_id", "column", "min_precision"),
    [
        ("super_referrer", "super_referrer", 0.8),
        ("fraud_risk", "fraud_ring", 0.8),
        ("churn_risk", "churner", 0.1),  # broad on purpose: inactivity also flags sleepers
        ("credit_risk", "overdue", 0.8),
        ("complaint_risk", "complainer", 0.8),
    ],
)
def test_planted_truth_is_recovered(tagged, tag_id, column, min_precision):
    tags, _, truth = tagged
    mask = truth[column] >= 0 if column == "fraud_ring" else truth[column].astype(bool)
    recall, precision = _recall_precision(tags, tag_id, truth.customer_id[mask])
    assert recall >= 0.8, (tag_id, recall, precision)
    assert precision >= min_precision, (tag_id, recall, precision)


def test_every_catalog_tag_is_held_by_some_but_not_all(tagged):
    _, catalog, truth = tagged
    n = len(truth)
    fixed = catalog[~catalog.tag_id.str.contains(":")]
    assert len(fixed) >= 43
    assert (fixed["count"] >= 1).all(), list(fixed.tag_id[fixed["count"] < 1])
    assert (fixed["count"] < n).all(), list(fixed.tag_id[fixed["count"] >= n])
    # every catalog category of the brief is present
    assert set(catalog.category) >= {
        "basic",
        "behavior",
        "consumption",
        "value",
        "interest",
        "lifecycle",
        "social",
        "risk",
    }


def test_exactly_one_lifecycle_stage_per_customer(tagged):
    tags, _, truth = tagged
    stages = tags[tags.tag_id.str.startswith("lifecycle_")].groupby("customer_id").size()
    assert len(stages) == len(truth)
    assert (stages == 1).all()


def test_every_reason_names_values_and_thresholds(tagged):
    tags, _, _ = tagged
    social = tags[tags.tag_id.isin(["opinion_leader", "bridge", "super_referrer"])]
    assert len(social) > 0
    assert social.reason.str.contains(r"\d").all()
    assert social.reason.str.contains(">=|<=|>|<").all()
