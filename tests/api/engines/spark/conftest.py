"""The one Spark session every Spark test shares (one JVM per test session).

Skips with the reason when pyspark or Java 17+ is missing; under CI a skip fails the build
(tests/conftest.py), as it must: CI installs the spark extra.
"""

from __future__ import annotations

import pytest

from graph.errors import ConfigError


@pytest.fixture(scope="session")
def spark():
    """A ``local[2]`` session with few shuffle partitions (small test data, fast stages)."""
    from api.engines.spark.graphx_jar import build_jar
    from api.engines.spark.session import check_prerequisites, start_session
    from api.settings import Settings

    try:
        check_prerequisites()
    except ConfigError as exc:
        pytest.skip(str(exc))
    jar, _ = build_jar(Settings().spark_cache_dir)
    session = start_session(
        "local[2]",
        {
            "spark.sql.shuffle.partitions": "4",
            "spark.default.parallelism": "4",
            "spark.driver.memory": "1g",
        },
        app_name="guanxi-tests",
        jars=[jar],
    )
    yield session
    session.stop()


@pytest.fixture(scope="session")
def spark_pair(spark, tmp_path_factory):
    """One generated dataset projected by both engines: (local InteractionGraph, SparkGraph).

    The local side is :func:`graph.build.build_interaction_graph` on the Parquet files read
    with pyarrow; the Spark side is :func:`api.engines.spark.projection.project_tables` on
    the same files read by Spark, with the same reference time.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    from api.engines.spark.projection import newest_timestamp, project_tables
    from graph.build import build_interaction_graph
    from loaders.generate import generate, write_dataset

    d = tmp_path_factory.mktemp("spark_pair")
    write_dataset(generate(1200, seed=5), d, fmt="parquet")
    spark.sparkContext.setCheckpointDir(str(d / "checkpoints"))
    rel = pq.read_table(d / "relations.parquet")
    rel = rel.set_column(
        rel.schema.get_field_index("occurred_at"),
        "occurred_at",
        rel.column("occurred_at").cast(pa.timestamp("us")),
    )
    ids = pq.read_table(d / "customers.parquet", columns=["customer_id"]).column("customer_id")
    s_rel = spark.read.parquet(str(d / "relations.parquet"))
    as_of = newest_timestamp(s_rel)
    local = build_interaction_graph(ids, rel, as_of=as_of)
    sg = project_tables(spark, spark.read.parquet(str(d / "customers.parquet")), s_rel, as_of=as_of)
    return local, sg
