"""Metric families on several processes give the sequential run's exact numbers.

Peak memory per task and stage is the kernel's high-water mark, so the tests allocate a
known block and check that the stage which did shows it.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd
import pytest

from graph.analysis import analyze_graph
from graph.build import build_interaction_graph
from graph.centrality import betweenness_scores
from graph.parallel import StagePeaks, run_tasks
from graph.params import AnalysisParams


@pytest.fixture(scope="module")
def graph(small_data):
    return build_interaction_graph(small_data.customers.column("customer_id"), small_data.relations)


@pytest.mark.parametrize("workers", [2, 3])
def test_every_metric_is_identical_for_any_number_of_workers(graph, workers):
    # sampled betweenness (4 pivot chunks) on this 2,000-customer graph
    params = AnalysisParams(seed=5, exact_betweenness_max_vertices=500)
    one = analyze_graph(graph, params, workers=1)
    many = analyze_graph(graph, params, workers=workers)
    pd.testing.assert_frame_equal(one.metrics, many.metrics, check_exact=True)
    pd.testing.assert_frame_equal(one.communities, many.communities, check_exact=True)
    assert one.stats["modularity"] == many.stats["modularity"]
    assert set(one.stats["timings"]) == set(many.stats["timings"])
    # the chunked sum is the sequential function's own result
    und = graph.undirected()
    ref = betweenness_scores(
        und, exact_max_vertices=500, samples=params.betweenness_samples, seed=5
    )
    assert (one.metrics["betweenness"].to_numpy() == ref[: len(ref)]).all()


def test_run_tasks_reports_each_task_and_raises_a_workers_error():
    seen = []
    out = run_tasks(
        {"a": lambda: 1, "b": lambda: [2, 3]}, workers=2, done=lambda n, s: seen.append(n)
    )
    assert out == {"a": 1, "b": [2, 3]} and sorted(seen) == ["a", "b"]

    def boom():
        raise ValueError("in a worker")

    with pytest.raises(ValueError, match="in a worker"):
        run_tasks({"ok": lambda: 1, "bad": boom}, workers=2)
    assert run_tasks({"x": lambda: 7}, workers=1) == {"x": 7}


def _span(seconds: float) -> tuple[float, float]:
    start = time.monotonic()
    time.sleep(seconds)
    return start, time.monotonic()


def _overlap(a: tuple[float, float], b: tuple[float, float]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


@pytest.mark.parametrize("exclusive", [(), ("h1", "h2")])
def test_exclusive_tasks_never_run_at_the_same_time(exclusive):
    tasks = {
        "h1": lambda: _span(0.4),
        "h2": lambda: _span(0.4),
        "l1": lambda: _span(0.1),
        "l2": lambda: _span(0.1),
    }
    out = run_tasks(tasks, workers=2, exclusive=exclusive)
    assert sorted(out) == ["h1", "h2", "l1", "l2"]
    # without the constraint the two long tasks start together; with it they follow one
    # another on one worker while the short ones run on the other
    assert _overlap(out["h1"], out["h2"]) == (not exclusive)
    if exclusive:
        assert _overlap(out["h1"], out["l1"])


def test_pagerank_is_bit_identical_call_after_call(graph):
    """PRPACK's OpenMP sums used to change the last bits from call to call."""
    from graph.centrality import pagerank_scores

    first = pagerank_scores(graph.graph)
    assert all((pagerank_scores(graph.graph) == first).all() for _ in range(20))


def _allocate(mb: int) -> int:
    block = np.ones(mb * 2**20 // 8)  # touched, so resident
    return int(block.size)


@pytest.mark.parametrize("workers", [1, 2])
def test_each_task_reports_its_own_peak_memory(workers):
    peaks: dict = {}
    run_tasks(
        {"big": lambda: _allocate(300), "small": lambda: _allocate(1)},
        workers=workers,
        peaks=peaks,
    )
    # the large task's high-water mark shows its 300 MB; the small one's, reset when it
    # started, does not (the big task ran first in the same process when workers=1)
    assert peaks["big"] - peaks["small"] > 250


def test_stage_peaks_show_the_stage_that_allocated():
    peaks = StagePeaks()
    with peaks.stage("big"):
        _allocate(300)
    with peaks.stage("small"):
        _allocate(1)
    assert peaks.mb["big"] - peaks.mb["small"] > 250
    assert peaks.maximum() == peaks.mb["big"]
    peaks.add("small", None)  # an unknown figure keeps the known one
    assert peaks.mb["small"] is not None


def test_analysis_reports_a_peak_per_stage_and_family(graph):
    res = analyze_graph(graph, AnalysisParams(seed=5, exact_betweenness_max_vertices=500))
    timed = {k for k in res.stats["timings"] if k != "families_wall"}
    assert set(res.peak_rss_mb) == timed | {"families"}
    assert all(v > 50 for v in res.peak_rss_mb.values())
