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


def test_the_input_is_generated_in_a_process_of_its_own(tmp_path):
    """The generate stage runs alone (its arrays must not stay in the stages' driver RSS),
    reports the rows it wrote, and a second call finds the folder and does nothing."""
    import json
    import subprocess
    import sys

    import pyarrow.parquet as pq

    cmd = [sys.executable, "-m", "api.bench.spark_stages", "300", str(tmp_path), "generate"]
    first = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rows = [json.loads(line) for line in first.splitlines() if line.startswith("{")]
    assert [r["stage"] for r in rows] == ["generate"]
    data = tmp_path / "spark-input-300"
    tables = ("customers", "relations", "transactions", "events")
    written = sum(pq.read_metadata(data / f"{t}.parquet").num_rows for t in tables)
    assert rows[0]["rows"] == written and rows[0]["detail"] == {"folder": str(data)}
    again = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    assert not [line for line in again.splitlines() if line.startswith("{")]
