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
