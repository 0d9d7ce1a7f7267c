"""The session has the settings every stage relies on; a missing Java names the remedies."""

from __future__ import annotations

import pytest

from api.engines.spark import session as spark_session
from graph.errors import ConfigError


def test_session_is_utc_and_runs_sql(spark):
    assert spark.conf.get("spark.sql.session.timeZone") == "UTC"
    row = spark.sql(
        "SELECT CAST(TIMESTAMP '2024-01-01 00:00:00' AS LONG) AS s, count(*) AS n FROM range(10)"
    ).collect()[0]
    assert row.n == 10
    assert row.s == 1704067200  # seconds since the epoch of that instant in UTC


def test_missing_java_names_both_remedies(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty folder: no java on PATH
    with pytest.raises(ConfigError) as exc:
        spark_session.check_prerequisites()
    msg = str(exc.value)
    assert "java is not on PATH" in msg
    assert "pip install 'guanxi[spark]'" in msg
    assert "JDK 17" in msg
