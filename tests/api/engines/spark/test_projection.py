"""The Spark projection gives the local build's graph: same vertices, ties, weights and counts."""

from __future__ import annotations

import numpy as np
import pandas as pd

from graph.build import edge_arrays, edge_interactions


def _local_edges(g, interactions: bool = True) -> pd.DataFrame:
    src, dst, w = edge_arrays(g)
    out = {"a": src, "b": dst, "weight": w}
    if interactions:
        out["interactions"] = edge_interactions(g)
    return pd.DataFrame(out).sort_values(["a", "b"]).reset_index(drop=True)


def _spark_edges(df, a: str, b: str, interactions: bool = True) -> pd.DataFrame:
    cols = [a, b, "weight", *(["interactions"] if interactions else [])]
    out = df.select(*cols).toPandas().rename(columns={a: "a", b: "b"})
    return out.sort_values(["a", "b"]).reset_index(drop=True)


def test_vertices_are_the_customers_in_ascending_id_order(spark_pair):
    local, sg = spark_pair
    v = sg.vertices.orderBy("vid").toPandas()
    assert v["vid"].tolist() == list(range(local.n))
    assert v["customer_id"].tolist() == local.ids.tolist()


def test_directed_ties_equal_the_local_build(spark_pair):
    local, sg = spark_pair
    mine, ref = _spark_edges(sg.edges, "src", "dst"), _local_edges(local.graph)
    assert len(ref) > 5000
    assert (mine[["a", "b", "interactions"]] == ref[["a", "b", "interactions"]]).all().all()
    # bit for bit: the same decay operations and the same summation order
    np.testing.assert_array_equal(mine["weight"].to_numpy(), ref["weight"].to_numpy())


def test_undirected_view_and_referral_ties_equal_the_local_build(spark_pair):
    local, sg = spark_pair
    mine, ref = _spark_edges(sg.undirected, "lo", "hi"), _local_edges(local.undirected())
    assert (mine[["a", "b", "interactions"]] == ref[["a", "b", "interactions"]]).all().all()
    # bit for bit: the same decay operations and the same summation order
    np.testing.assert_array_equal(mine["weight"].to_numpy(), ref["weight"].to_numpy())
    mine_r = _spark_edges(sg.referral, "src", "dst", interactions=False)
    ref_r = _local_edges(local.referral, interactions=False)
    assert len(ref_r) > 50
    pd.testing.assert_frame_equal(mine_r, ref_r)


def test_decay_column_is_the_local_decay_bit_for_bit(spark):
    from pyspark.sql import functions as F

    from api.engines.spark.projection import decay_column
    from graph.build import decay

    rng = np.random.default_rng(3)
    x = np.r_[0.0, -0.5, -1.0, -1e-300, -999.5, -1000.0, -1000.5, -rng.random(2000) * 40]
    df = spark.createDataFrame(pd.DataFrame({"x": x})).select(decay_column(F.col("x")).alias("d"))
    got = df.toPandas()["d"].to_numpy()
    want = decay(x)
    np.testing.assert_array_equal(got, want)
    # about an ulp from libm's exp2 (and 0 beyond the floor)
    ref = np.where(x < -1000, 0.0, np.exp2(x))
    np.testing.assert_allclose(want, ref, rtol=4.5e-16, atol=0)


def test_build_stats_equal_the_local_build(spark_pair):
    local, sg = spark_pair
    assert sg.stats == local.stats
