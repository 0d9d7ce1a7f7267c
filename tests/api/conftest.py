"""A real embedded DuckDB store (generated, loaded, analysed twice) behind the HTTP app."""

from __future__ import annotations

import warnings

import pytest

from api import usecases
from api.http.app import create_app
from api.settings import Settings
from graph.store import open_store
from loaders.ingest import load_folder

KEYS = {"viewer": "view-key-1", "operator": "op-key-1", "admin": "admin-key-1"}


@pytest.fixture(scope="session")
def api_store_uri(tmp_path_factory, small_parquet_dir) -> str:
    """2,000 customers, two analysis runs (different seeds), closed so the app can open it."""
    path = tmp_path_factory.mktemp("api_store") / "store.duckdb"
    uri = f"duckdb:///{path}"
    with open_store(uri) as store:
        load_folder(store, small_parquet_dir)
        usecases.analyze(store, seed=1)
        usecases.analyze(store, seed=2)
    return uri


@pytest.fixture(scope="session")
def app(api_store_uri):
    settings = Settings(
        store=api_store_uri,
        api_keys=",".join(f"{role}:{key}" for role, key in KEYS.items()),
    )
    return create_app(settings, warm=False)


@pytest.fixture(scope="session")
def client(app):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from fastapi.testclient import TestClient

    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def key(role: str) -> dict[str, str]:
    return {"X-API-Key": KEYS[role]}
