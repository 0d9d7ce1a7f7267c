"""Shared fixtures: a small generated dataset, written once per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from loaders.generate import generate, write_dataset

SHARED = Path(__file__).resolve().parents[1].parent / "shared"


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
    from api import service
    from graph.store import open_store
    from loaders.ingest import load_folder

    d = tmp_path_factory.mktemp("analysed")
    uri = f"duckdb:///{d / 'store.duckdb'}"
    with open_store(uri) as st:
        load_folder(st, small_csv_dir, quarantine_dir=d / "q")
        service.analyze(st, seed=42)
    return uri
