"""`guanxi bench --engine`: the options are checked before any stage starts (no JVM here).

The spark bench itself runs a Spark session per call (tens of seconds even at a few hundred
customers), so CI checks its refusals; the stages are run by hand at a smoke size and by
the lead at 1,000,000 customers (commands in README, "Scaling out").
"""

from __future__ import annotations

from typer.testing import CliRunner

from api.cli import app


def test_an_unknown_engine_is_refused(tmp_path):
    res = CliRunner().invoke(app, ["bench", "--engine", "flink", "--workdir", str(tmp_path)])
    assert res.exit_code == 2 and "--engine takes 'local' or 'spark'" in res.output
    assert not any(tmp_path.iterdir())  # nothing was generated


def test_a_spark_setting_must_be_key_value(tmp_path):
    args = ["bench", "--engine", "spark", "--conf", "memory", "--workdir", str(tmp_path)]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 2 and "must look like key=value" in res.output
    assert not any(tmp_path.iterdir())
