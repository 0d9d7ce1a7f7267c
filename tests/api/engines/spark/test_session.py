"""The session has the settings every stage relies on; a missing Java names the remedies."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from api.engines.spark import session as spark_session
from graph.errors import ConfigError

ROOT = Path(__file__).resolve().parents[4]


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


def test_local_checkpoint_folder_is_removed_when_the_process_exits(tmp_path):
    # a run's checkpoints are as large as its input: left behind, each 1M run kept 4 GB
    script = (
        "from api.engines.spark.engine import SparkEngine\n"
        "import os\n"
        "folder = SparkEngine(source='in', master='local[1]')._checkpoint_dir()\n"
        "open(os.path.join(folder, 'part'), 'w').write('x')\n"
        "print(folder)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=ROOT
    )
    folder = Path(done.stdout.strip())
    assert folder.name.startswith("guanxi-spark-ckpt-")
    assert not folder.exists()
