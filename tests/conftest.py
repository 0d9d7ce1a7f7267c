"""Shared fixtures (a small generated dataset, written once per session) and the CI rule.

Under CI (see `tests.ci`) a skipped test fails the build: a fuzz module whose library is
missing, a ground-truth test whose data is absent or a store case whose server is down would
otherwise turn green while testing nothing. A test that needs what CI deliberately does not
provide says so with ``@pytest.mark.optional_in_ci(reason=...)``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from loaders.generate import generate, write_dataset
from tests.ci import IN_CI

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


def _fail_skip_in_ci(report: pytest.TestReport | pytest.CollectReport, where: str) -> None:
    if IN_CI and report.skipped:
        reason = report.longrepr[-1] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = (
            f"CI: {where} was skipped ({reason}); under CI nothing may skip unless marked "
            "optional_in_ci"
        )


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    if item.get_closest_marker("optional_in_ci") is None and not hasattr(report, "wasxfail"):
        _fail_skip_in_ci(report, item.nodeid)


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector: pytest.Collector):
    outcome = yield
    _fail_skip_in_ci(outcome.get_result(), collector.nodeid)


def pytest_itemcollected(item: pytest.Item) -> None:
    """Keep the tests that share one external resource in one xdist worker.

    Every Neo4j case talks to the one server the run was given (they clear it), and every
    Spark test to the one session its fixture starts; in two workers they would wipe each
    other's data or start a second JVM. Everything else spreads over the workers. Marked as
    each item is collected, so the mark is there before any ``pytest_collection_modifyitems``
    runs, xdist's included (it turns the groups into scheduling keys there).
    """
    if item.get_closest_marker("neo4j") or "neo4j" in item.nodeid.lower():
        item.add_marker(pytest.mark.xdist_group("neo4j"))
    elif item.nodeid.startswith("tests/api/engines/spark/"):
        item.add_marker(pytest.mark.xdist_group("spark"))


@pytest.fixture(scope="session")
def small_data():
    """A 2,000-customer generated dataset (tables in memory)."""
    return generate(2000, seed=11)


@pytest.fixture(scope="session")
def small_csv_dir(tmp_path_factory, small_data) -> Path:
    d = tmp_path_factory.mktemp("small_csv")
    write_dataset(small_data, d, fmt="csv")
    return d


@pytest.fixture(scope="session")
def small_parquet_dir(tmp_path_factory, small_data) -> Path:
    d = tmp_path_factory.mktemp("small_parquet")
    write_dataset(small_data, d, fmt="parquet")
    return d


@pytest.fixture(scope="session")
def analysed_store_uri(tmp_path_factory, small_csv_dir) -> str:
    """A DuckDB store holding the small dataset, loaded and analysed once (one run)."""
    from api import usecases
    from graph.store import open_store
    from loaders.ingest import load_folder

    d = tmp_path_factory.mktemp("analysed")
    uri = f"duckdb:///{d / 'store.duckdb'}"
    with open_store(uri) as st:
        load_folder(st, small_csv_dir, quarantine_dir=d / "q")
        usecases.analyze(st, seed=42)
    return uri
