"""The read checks of `graph.store.common` hold in both stores, with the same errors.

Why: the checks are written once so that both stores refuse the same calls; each store
must also call them. An unknown table or column, a negative page and a neighbourhood the
stores do not compute (hops other than 1 or 2, a limit below 1) are a caller's mistake,
refused before any query runs, with a message that names the value.
"""

from __future__ import annotations

import pyarrow as pa
import pytest

from graph.errors import ConfigError, CustomerNotFound
from graph.model import SCHEMAS
from graph.store.common import (
    checked_columns,
    checked_ego_bounds,
    checked_page,
    checked_pii_columns,
)


def test_pure_checks():
    assert checked_columns("relations", None) == SCHEMAS["relations"].names
    assert checked_columns("events", ["customer_id"]) == ["customer_id"]
    with pytest.raises(ValueError, match="unknown table 'nope'"):
        checked_columns("nope", None)
    with pytest.raises(ValueError, match=r"\['x'\] for customers"):
        checked_columns("customers", ["customer_id", "x"])
    checked_page(limit=None, offset=0)
    checked_page(limit=0, offset=3)
    for limit, offset in ((-1, 0), (5, -2)):
        with pytest.raises(ValueError, match="must not be negative"):
            checked_page(limit=limit, offset=offset)
    checked_ego_bounds(hops=2, limit=1)
    with pytest.raises(ValueError, match="hops 3 must be 1 or 2"):
        checked_ego_bounds(hops=3, limit=5)
    with pytest.raises(ValueError, match="limit 0 must be at least 1"):
        checked_ego_bounds(hops=1, limit=0)
    assert checked_pii_columns([" email ", "phone"]) == ["email", "phone"]
    with pytest.raises(ConfigError, match="blank"):
        checked_pii_columns(["email", " "])


def test_both_stores_apply_the_checks(store):
    schema = SCHEMAS["customers"]
    ids = ["A", "B"]
    store.upsert_customers(
        pa.Table.from_arrays(
            [pa.array(ids)] + [pa.nulls(2, f.type) for f in list(schema)[1:]], schema=schema
        )
    )
    with pytest.raises(ValueError, match="unknown column"):
        store.read_table("customers", ["customer_id", "nope"])
    with pytest.raises(ValueError, match="unknown table"):
        store.read_table("accounts")
    for hops, limit in ((0, 5), (3, 5), (1, 0)):
        with pytest.raises(ValueError):
            store.ego_network("A", hops=hops, limit=limit)
    with pytest.raises(CustomerNotFound):
        store.ego_network("NOPE", hops=1, limit=5)
    with pytest.raises(ValueError, match="must not be negative"):
        store.top_influencers("r1", limit=-1)
    with pytest.raises(ValueError, match="must not be negative"):
        store.read_tags("r1", limit=3, offset=-1)
    ego = store.ego_network("A", hops=2, limit=5)
    assert ego.nodes["customer_id"].tolist() == ["A"] and ego.edges.empty


def test_stores_declare_their_roles_and_capabilities(store, store_kind):
    from graph.store import (
        GraphStore,
        IngestSink,
        Maintenance,
        QueryService,
        RunRepository,
        TableSource,
        TagScanner,
    )

    for role in (IngestSink, TableSource, RunRepository, QueryService, GraphStore, TagScanner):
        assert isinstance(store, role), role.__name__
    # only a store whose data a caller cannot just delete offers to empty itself
    assert isinstance(store, Maintenance) == (store_kind == "neo4j")
