"""Spark's features equal the local engine's on the same tables (floats within 1e-9 relative).

The reference is `tagging.compute_features` (DuckDB aggregation + numpy derivation) on a
generated dataset with relations (family links), shared devices, categories and topics,
and a metrics table with communities and missing clustering values; the same tables go to
Spark and through `api.engines.spark.relational.features` (`tagging.feature_sql`). The SQL
is also run on DuckDB, so the statement is checked apart from the engine.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from api.engines.spark.relational import features
from graph.model import METRIC_COLUMNS
from loaders.generate import generate
from tagging import compute_features
from tagging.feature_compute import _conform, _default_as_of
from tagging.feature_sql import DISTINCT_INPUTS, feature_sql

TABLES = ("customers", "relations", "transactions", "events")


@pytest.fixture(scope="module")
def data():
    g = generate(400, seed=3, relations_per_customer=4.0)
    tables = {name: _conform(t, name) for name, t in g.tables().items()}
    ids = tables["customers"].column("customer_id").to_pylist()
    rng = np.random.default_rng(1)
    metrics = pd.DataFrame({"customer_id": ids[:350]})
    for col in METRIC_COLUMNS:
        metrics[col] = rng.integers(0, 20, len(metrics)).astype(float)
    metrics["clustering"] = np.where(
        rng.random(len(metrics)) < 0.3, np.nan, rng.random(len(metrics))
    )
    metrics["community_id"] = pd.Series(
        np.where(
            rng.random(len(metrics)) < 0.1, None, rng.integers(0, 9, len(metrics)).astype(str)
        ),
        dtype="str",
    )
    local = compute_features(
        tables["customers"],
        tables["transactions"],
        tables["events"],
        metrics,
        relations=tables["relations"],
    )
    return tables, metrics, local


def assert_same_features(local: pd.DataFrame, got: pd.DataFrame) -> None:
    got = got.sort_values("customer_id").reset_index(drop=True)
    assert list(got.columns) == list(local.columns)
    assert got["customer_id"].tolist() == local["customer_id"].tolist()
    for col in local.columns:
        a, b = local[col], got[col]
        if pd.api.types.is_numeric_dtype(a.dtype):
            x = a.to_numpy("float64", na_value=np.nan)
            y = b.to_numpy("float64", na_value=np.nan)
            np.testing.assert_array_equal(np.isnan(y), np.isnan(x), err_msg=col)
            np.testing.assert_allclose(y[~np.isnan(y)], x[~np.isnan(x)], rtol=1e-9, err_msg=col)
        else:
            assert (
                b.astype(object).where(b.notna(), None).tolist()
                == a.astype(object).where(a.notna(), None).tolist()
            ), col


def test_feature_sql_on_duckdb_equals_the_local_features(data):
    tables, metrics, local = data
    as_of = _default_as_of(tables["transactions"], tables["events"], tables["customers"])
    distinct = {(t, c): pc.unique(tables[t].column(c)).to_pylist() for t, c in DISTINCT_INPUTS}
    con = duckdb.connect()
    for name, t in tables.items():
        con.register(name, t)
    con.register("metrics", metrics)
    got = con.sql(feature_sql(as_of=as_of, distinct=distinct)).df()
    assert any(c.startswith("category_share:") for c in local.columns)
    assert local["family_links"].max() > 0 and local["shared_device_customers"].max() > 0
    assert_same_features(local, got)


def test_spark_features_equal_the_local_features(spark, data):
    tables, metrics, local = data
    frames = {name: spark.createDataFrame(t) for name, t in tables.items()}
    m = spark.createDataFrame(pa.Table.from_pandas(metrics, preserve_index=False))
    got = features(spark, frames, m, None).toPandas()
    assert_same_features(local, got)
