"""The GDS benchmark's statements run through the store's registry and connection.

Why: `api.bench.gds` used to keep its own driver and raw Cypher, outside the registry and
its lint. Its statements now go through `graph.store.neo4j.gds.Gds` on the store's `Bolt`.
The parts that need no GDS plugin run here against the test server: the customer-node map,
writing the weighted edges and removing them again (the one auto-commit statement, since
``CALL {...} IN TRANSACTIONS`` cannot run in a managed transaction), and the typed error a
server without GDS gives. The procedures themselves run in tests/api/bench/test_bench_gds.py
when a GDS server is available.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from graph.errors import StoreError
from graph.model import SCHEMAS
from graph.store.neo4j.gds import Gds
from graph.store.neo4j.gds_statements import REL, STREAMS
from graph.store.neo4j.statements import registry
from tests.graph.store.conftest import open_neo4j

pytestmark = pytest.mark.neo4j


@pytest.fixture
def neo(neo4j_server):
    s = open_neo4j(neo4j_server, batch_size=7)
    s.clear()
    yield s
    s.clear()
    s.close()


def _count(store, cypher: str) -> int:
    with store.bolt.session() as s:
        return s.run(cypher).single()[0]


def test_gds_statements_are_registered_and_only_removal_autocommits():
    names = {s.name for s in registry() if s.name.startswith("gds.")}
    assert {f"gds.stream.{m}" for m in STREAMS} <= names
    assert [s.name for s in registry() if s.autocommit] == ["gds.remove_weighted"]


def test_weighted_edges_round_trip_through_the_store_connection(neo):
    ids = [f"C{i}" for i in range(30)]
    schema = SCHEMAS["customers"]
    neo.upsert_customers(
        pa.Table.from_arrays(
            [pa.array(ids)] + [pa.nulls(len(ids), f.type) for f in list(schema)[1:]],
            schema=schema,
        )
    )
    gds = Gds(neo)
    nodes = dict((c, n) for n, c in gds.customer_nodes())
    assert sorted(nodes) == sorted(ids)
    src = np.array([nodes[f"C{i}"] for i in range(29)])
    dst = np.array([nodes[f"C{i + 1}"] for i in range(29)])
    gds.write_weighted(src, dst, np.linspace(0.5, 3.0, 29))
    assert _count(neo, f"MATCH ()-[r:{REL}]->() RETURN count(r)") == 29
    total = _count(neo, f"MATCH ()-[r:{REL}]->() RETURN sum(r.weight)")
    assert total == pytest.approx(np.linspace(0.5, 3.0, 29).sum())
    gds.remove_weighted()
    assert _count(neo, f"MATCH ()-[r:{REL}]->() RETURN count(r)") == 0


def test_a_server_without_gds_raises_a_store_error(neo):
    gds = Gds(neo)
    try:
        version = gds.version()
    except StoreError as exc:
        assert "gds.version" in str(exc)
    else:  # a server with GDS answers with its version
        assert version[0].isdigit()
    with pytest.raises(ValueError, match="unknown GDS measure"):
        gds.stream("nope", "g", {})
