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
    from api.engines.spark.session import check_prerequisites, start_session

    try:
        check_prerequisites()
    except ConfigError as exc:
        pytest.skip(str(exc))
    session = start_session(
        "local[2]",
        {
            "spark.sql.shuffle.partitions": "4",
            "spark.default.parallelism": "4",
            "spark.driver.memory": "1g",
        },
        app_name="guanxi-tests",
    )
    yield session
    session.stop()
