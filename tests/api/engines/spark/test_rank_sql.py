"""`tagging.rank_sql` gives Spark's own ``rank()`` and per-value counts, on hostile values.

The reference is the window the module replaces (``rank() OVER (PARTITION BY part ORDER
BY v)``, one partition in Spark), run by the same Spark on the same rows. The values sit on
the buckets' edges: powers of two and their neighbouring doubles (where a logarithm that
rounded the wrong way would move a value across an edge), both zeros, negatives, the
smallest subnormal and the largest double, long ties, NULLs, and two parts.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from tagging.rank_sql import bucket, rank_ctes, rank_join


def _values(seed: int) -> list[float | None]:
    rng = np.random.default_rng(seed)
    edges = [2.0**e for e in range(-60, 61)] + [2.0 ** (k / 16) for k in range(-64, 65)]
    near = [x for e in edges for x in (math.nextafter(e, 0), e, math.nextafter(e, math.inf))]
    specials = [0.0, -0.0, 5e-324, -5e-324, 1.7976931348623157e308, -1.7976931348623157e308]
    money = [float(x) for x in np.round(rng.lognormal(6, 2, 3000), 2)]
    ties = [1.0] * 500 + [0.0] * 700 + [3.5] * 40
    vals = near + [-x for x in near] + specials + money + ties + [None] * 50
    rng.shuffle(vals)
    return vals


@pytest.mark.parametrize("seed", [1, 2])
def test_ranks_equal_sparks_window(spark, seed):
    vals = _values(seed)
    rows = [(i, None if v is None else float(v), i % 3 == 0) for i, v in enumerate(vals)]
    df = spark.createDataFrame(rows, "id BIGINT, v DOUBLE, side BOOLEAN")
    df.createOrReplaceTempView("_rank_src")
    v = "(v + 0.0)"
    for part in ("TRUE", "side"):
        ctes = ",\n".join(rank_ctes("_rk", "_rank_src", v, part))
        got = spark.sql(
            f"WITH {ctes} SELECT id, _rk._rank AS r, _rk._n AS n, _rk._total AS t "
            f"FROM _rank_src{rank_join('_rk', v, part)}"
        ).toPandas()
        want = spark.sql(
            f"SELECT id, CASE WHEN {v} IS NULL THEN NULL ELSE "
            f"rank() OVER (PARTITION BY {part}, ({v} IS NULL) ORDER BY {v}) END AS r, "
            f"CASE WHEN {v} IS NULL THEN NULL ELSE count(*) OVER (PARTITION BY {part}, {v}) "
            f"END AS n, CASE WHEN {v} IS NULL THEN NULL ELSE "
            f"count({v}) OVER (PARTITION BY {part}) END AS t FROM _rank_src"
        ).toPandas()
        got, want = (x.sort_values("id").reset_index(drop=True) for x in (got, want))
        assert got["r"].isna().sum() == 50
        for col in ("r", "n", "t"):
            assert got[col].astype("Float64").equals(want[col].astype("Float64")), (part, col)


def test_buckets_never_decrease_across_neighbouring_doubles(spark):
    vals = sorted(v for v in _values(3) if v is not None)
    df = spark.createDataFrame([(float(v),) for v in vals], "v DOUBLE")
    b = df.selectExpr("v", f"{bucket('v')} AS b").orderBy("v").toPandas()["b"].to_numpy()
    assert (np.diff(b) >= 0).all()
    assert len(np.unique(b)) > 500  # spread over many buckets, not one
