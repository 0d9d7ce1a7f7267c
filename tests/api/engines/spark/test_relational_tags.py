"""Spark's compiled rules give the local engine's tags, scores and reasons on the same features.

The reference is `tagging.evaluate` (the pandas evaluator) on a synthetic feature table with
planted super-referrers, fraud rings and churners and a community column; the same table
goes to Spark and through `api.engines.spark.relational.tags`. Every tag of the shipped
catalog is compared (the community tags given the same community column), with reasons.
"""

from __future__ import annotations

import pyarrow as pa
import pytest

from api.engines.spark.relational import tags
from tagging import compute_features, evaluate, tag_definitions
from tagging.rules import default_catalog, merge_catalogs, parse_rules
from tests.tagging.synthetic import make_synthetic
from tests.tagging.test_rule_sql import assert_same_assignments


@pytest.fixture(scope="module")
def features():
    s = make_synthetic(1500, seed=9)
    return compute_features(s.customers, s.transactions, s.events, s.metrics)


def _spark_tags(spark, features, catalog):
    df = spark.createDataFrame(pa.Table.from_pandas(features, preserve_index=False))
    assignments, definitions = tags(spark, df, catalog, "run-1")
    return assignments.toPandas(), definitions


def test_shipped_catalog_same_assignments_and_reasons(spark, features):
    catalog = default_catalog()
    local = evaluate(catalog, features, run_id="run-1")
    got, definitions = _spark_tags(spark, features, catalog)
    assert set(got["run_id"]) == {"run-1"}
    kinds = {t.split(":")[0] for t in local["tag_id"]}
    assert {"prefers", "interest", "community", "fraud_risk", "super_referrer"} <= kinds
    assert_same_assignments(local, got.drop(columns="run_id"))
    expected = tag_definitions(catalog, local).sort_values("tag_id").reset_index(drop=True)
    assert definitions.sort_values("tag_id").reset_index(drop=True).equals(expected)


def test_templates_and_overrides_same_on_spark(spark, features):
    user = parse_rules(
        """
        [params]
        center_method = "median"
        [[tag]]
        id = "community_core"
        reason = "rank {community_rank(pagerank)} of {community_size}; {pct(pagerank):.1f} pct"
        [[tag]]
        id = "not_young"
        name_zh = "非年轻"
        name_en = "Not young"
        category = "basic"
        when = "not (age <= young_max_age) and is_null(city) and not (aum < 0)"
        """
    )
    catalog = merge_catalogs(default_catalog(), user)
    local = evaluate(catalog, features, run_id="run-1")
    assert "not_young" in set(local["tag_id"])
    got, _ = _spark_tags(spark, features, catalog)
    assert_same_assignments(local, got.drop(columns="run_id"))
