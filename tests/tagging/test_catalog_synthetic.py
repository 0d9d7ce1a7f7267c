"""The shipped catalog on 20k randomised customers: coverage, exclusivity, planted truth."""

import time

import numpy as np
import pytest

from tagging import compute_features, default_catalog, evaluate
from tests.tagging.synthetic import make_synthetic

N = 20_000


@pytest.fixture(scope="module")
def run():
    data = make_synthetic(N, seed=7)
    features = compute_features(data.customers, data.transactions, data.events, data.metrics)
    t0 = time.perf_counter()
    assignments = evaluate(default_catalog(), features, run_id="test-run")
    elapsed = time.perf_counter() - t0
    return data, features, assignments, elapsed


def test_every_catalog_tag_held_by_some_but_not_all(run):
    _, _features, out, _ = run
    counts = out.groupby("tag_id").customer_id.nunique()
    for tag in default_catalog().tags:
        assert 0 < counts.get(tag.id, 0) < N, (tag.id, counts.get(tag.id, 0))
    for fam in default_catalog().families:
        fam_counts = counts[counts.index.str.startswith(fam.id + ":")]
        assert len(fam_counts) > 0, fam.id
        assert (fam_counts < N).all()


def test_exactly_one_lifecycle_stage_and_value_level(run):
    _, _features, out, _ = run
    for prefix in ("lifecycle_", "value_"):
        per = out[out.tag_id.str.startswith(prefix)].groupby("customer_id").size()
        assert len(per) == N and (per == 1).all(), prefix


def test_exactly_one_rfm_segment_per_customer_with_transactions(run):
    _, features, out, _ = run
    per = out[out.tag_id.str.startswith("rfm_")].groupby("customer_id").size()
    buyers = set(features.customer_id[features.txn_count > 0])
    assert set(per.index) == buyers and (per == 1).all()


@pytest.mark.parametrize(
    ("tag", "truth"),
    [("super_referrer", "super_referrers"), ("fraud_risk", "fraud"), ("churn_risk", "churners")],
)
def test_planted_truth_recovered(run, tag, truth):
    data, _, out, _ = run
    planted = getattr(data, truth)
    got = set(out.customer_id[out.tag_id == tag])
    recall = len(got & planted) / len(planted)
    assert recall >= 0.8, (tag, recall)


def test_reasons_name_values_and_thresholds(run):
    _, _, out, _ = run
    assert (out.reason.str.len() > 0).all()
    leader = out.reason[out.tag_id == "opinion_leader"].iloc[0]
    assert leader.startswith("PageRank percentile ") and "; in-degree " in leader
    assert np.isfinite(out.score).all()


def test_evaluate_is_vectorised(run):
    *_, elapsed = run
    assert elapsed < 10, elapsed
