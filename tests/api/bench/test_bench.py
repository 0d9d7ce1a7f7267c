"""`guanxi bench` on a tiny dataset: rows per stage, and each stage's figures kept on disk."""

from __future__ import annotations

import json
import os

import pytest
from rich.console import Console

from api.bench.runner import run_bench


def _stage_rows(workdir, name: str) -> dict:
    return json.loads((workdir / f"stage-{name}.json").read_text())


def _bench_300(workdir, stage: str) -> dict:
    """Generate 300 customers, run `stage` on them; the stages' summaries by name."""
    res = run_bench(
        customers=300,
        workdir=workdir,
        stages=["generate", stage],
        networkx=False,
        console=Console(quiet=True),
    )
    return {s["stage"]: s for s in res["stages"]}


def test_bench_counts_rows_and_keeps_each_stage_on_disk(tmp_path):
    by_name = _bench_300(tmp_path, "load")
    assert set(by_name) == {"generate", "load"}
    load = by_name["load"]
    assert isinstance(load["rows"], int) and load["rows"] > 300  # customers plus their rows
    assert load["rows_per_s"] > 0
    assert _stage_rows(tmp_path, "load")["rows"] == load["rows"]


@pytest.mark.skipif(not os.environ.get("NEO4J_URI"), reason="needs NEO4J_URI (set in CI)")
def test_neo4j_stage_reports_total_rows_and_its_detail(tmp_path):
    neo = _bench_300(tmp_path, "neo4j")["neo4j"]
    detail = neo["detail"]
    assert neo["rows"] == sum(detail["rows"].values()) > 300
    assert detail["relations_per_s"] > 0 and detail["projection_s"] > 0
    assert detail["write_back_s"] > 0
    assert _stage_rows(tmp_path, "neo4j")["rows"] == neo["rows"]


def test_bench_analyze_shows_each_stage_time_and_peak_memory(tmp_path):
    console = Console(record=True, width=120)
    res = run_bench(
        customers=300,
        workdir=tmp_path,
        stages=["generate", "load", "analyze"],
        networkx=False,
        console=console,
    )
    analyze = {s["stage"]: s for s in res["stages"]}["analyze"]
    peaks = analyze["detail"]["peak_rss_mb"]
    assert peaks["tagging"] > 50 and peaks["graph.constraint"] > 50
    # the stages reset the high-water mark, so the stage's figure is their maximum
    assert analyze["peak_rss_mb"] >= peaks["max"]
    text = console.export_text()
    assert "analyze stages" in text
    row = next(line for line in text.splitlines() if "graph.betweenness" in line)
    assert f"{peaks['graph.betweenness']:,.0f}" in row
