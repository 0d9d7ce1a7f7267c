"""`guanxi analyze --threads N`: the same numbers for every N (what `metrics export` shows)."""

from __future__ import annotations

from typer.testing import CliRunner

from api.cli import app
from graph.store import open_store
from loaders.ingest import load_folder


def _export(tmp_path, small_csv_dir, name: str, *args: str) -> bytes:
    uri = f"duckdb:///{tmp_path / (name + '.duckdb')}"
    with open_store(uri) as st:
        load_folder(st, small_csv_dir, quarantine_dir=tmp_path / f"q-{name}")
    r = CliRunner().invoke(app, ["analyze", "--store", uri, "--json", *args])
    assert r.exit_code == 0, r.output
    out = tmp_path / f"{name}.csv"
    r = CliRunner().invoke(app, ["metrics", "export", "--store", uri, "--out", str(out)])
    assert r.exit_code == 0, r.output
    return out.read_bytes()


def test_metrics_export_is_byte_identical_for_one_two_and_three_threads(tmp_path, small_csv_dir):
    one = _export(tmp_path, small_csv_dir, "one", "--threads", "1")
    assert _export(tmp_path, small_csv_dir, "two", "--threads", "2") == one
    assert _export(tmp_path, small_csv_dir, "three", "--threads", "3") == one


def test_threads_refused_for_spark_and_below_one(tmp_path):
    uri = f"duckdb:///{tmp_path / 'x.duckdb'}"
    r = CliRunner().invoke(app, ["analyze", "--store", uri, "--threads", "0"])
    assert r.exit_code == 2
    r = CliRunner().invoke(
        app,
        [
            "analyze",
            "--store",
            uri,
            "--engine",
            "spark",
            "--input",
            str(tmp_path),
            "--threads",
            "2",
        ],
    )
    assert r.exit_code == 2 and "--master local[N]" in r.output


def test_analyze_json_reports_each_stage_peak_memory(tmp_path, small_csv_dir):
    import json

    uri = f"duckdb:///{tmp_path / 'peaks.duckdb'}"
    with open_store(uri) as st:
        load_folder(st, small_csv_dir, quarantine_dir=tmp_path / "q")
    r = CliRunner().invoke(app, ["analyze", "--store", uri, "--json", "--threads", "2"])
    assert r.exit_code == 0, r.output
    info = json.loads(r.output)
    peaks = info["peak_rss_mb"]
    for stage in ("projection", "graph.undirected", "graph.betweenness", "tagging", "persist"):
        assert peaks[stage] > 50, stage
    assert peaks["max"] == max(v for k, v in peaks.items() if k != "max")
    assert "peak_rss_mb" not in info["stats"]  # a run's stored facts stay reproducible
