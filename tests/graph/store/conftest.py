"""The parametrised `store` fixture: every contract test runs on DuckDB and on Neo4j.

Where the Neo4j server comes from, in order:

1. ``NEO4J_URI`` (+ ``NEO4J_USER`` / ``NEO4J_PASSWORD``) when set — CI's ``.ci/run`` starts a
   server and exports these;
2. else a local server started once per session with ``graph.store.neo4j_local`` in
   ``.neo4j-test`` on free ports, when java and mvn are on PATH (stopped at session end only if
   this session started it);
3. else the Neo4j cases are skipped with the reason printed.

With ``CI=true`` the Neo4j cases never skip: an unreachable server fails the fixture.
Every test gets an empty database (``MATCH (n) DETACH DELETE n`` in batches).
"""

from __future__ import annotations

import os
import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from graph.errors import GuanxiError
from tests.ci import IN_CI

_ROOT = Path(__file__).resolve().parents[3]
_LOCAL_DIR = _ROOT / ".neo4j-test"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def neo4j_server() -> Iterator[dict]:
    """Connection info of a live Neo4j: {"uri", "user", "password"} (skip/fail as documented)."""
    uri = os.environ.get("NEO4J_URI")
    if uri:
        yield {
            "uri": uri,
            "user": os.environ.get("NEO4J_USER", "neo4j"),
            "password": os.environ.get("NEO4J_PASSWORD"),
        }
        return
    missing = [t for t in ("java", "mvn") if shutil.which(t) is None]
    if missing:
        reason = f"NEO4J_URI not set and {' and '.join(missing)} not on PATH: no Neo4j to test"
        if IN_CI:
            pytest.fail(f"CI=true requires Neo4j: {reason}")
        print(f"SKIP Neo4j contract cases: {reason}")
        pytest.skip(reason)
    from graph.store import neo4j_local

    already = neo4j_local.status(_LOCAL_DIR).get("running", False)
    try:
        info = neo4j_local.start(
            _LOCAL_DIR,
            bolt_port=_free_port(),
            http_port=_free_port(),
            heap=os.environ.get("GUANXI_NEO4J_HEAP") or neo4j_local.DEFAULT_HEAP,
            pagecache=os.environ.get("GUANXI_NEO4J_PAGECACHE") or neo4j_local.DEFAULT_PAGECACHE,
            timeout=300,
        )
    except GuanxiError as exc:
        if IN_CI:
            pytest.fail(f"cannot start a local Neo4j: {exc}")
        pytest.skip(f"cannot start a local Neo4j: {exc}")
    try:
        yield {"uri": info["bolt_uri"], "user": info["user"], "password": info["password"]}
    finally:
        if not already:
            neo4j_local.stop(_LOCAL_DIR)


def open_neo4j(server: dict, **kw):
    from graph.store.neo4j import Neo4jStore

    return Neo4jStore(server["uri"], user=server["user"], password=server["password"], **kw)


@pytest.fixture(params=["duckdb", "neo4j"])
def store_kind(request) -> str:
    return request.param


@pytest.fixture
def make_store(store_kind, request, tmp_path):
    """Factory of empty stores of this test's kind (a second call reopens the same store)."""
    opened = []

    def make(**kw):
        if store_kind == "duckdb":
            from graph.store.duckdb_store import DuckDBStore

            s = DuckDBStore(tmp_path / "contract.duckdb")
        else:
            server = request.getfixturevalue("neo4j_server")
            try:
                s = open_neo4j(server, **kw)
            except GuanxiError as exc:
                if IN_CI:
                    pytest.fail(f"CI=true: cannot connect to Neo4j at {server['uri']}: {exc}")
                pytest.skip(f"cannot connect to Neo4j at {server['uri']}: {exc}")
            if not opened:
                s.clear()
        opened.append(s)
        return s

    yield make
    for s in opened:
        s.close()


@pytest.fixture
def store(make_store):
    """An empty store: DuckDB file or Neo4j database (cleared)."""
    return make_store()
