"""Ego networks from the in-memory relations equal the store's own (`GraphStore.ego_network`).

The web workspace answers every customer page's network from `NeighbourIndex`, so it must
give the store's answer exactly: the same neighbours in the same order (summed interaction
counts, ties by id in code-point order), the same edges and numbers. The data adds what the
generator does not make: self-relations, repeated pairs, missing counts, ids whose order
differs between code points and naive comparisons, and customers without relations.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from api.http.readmodel.neighbours import NeighbourIndex
from graph.store import open_store
from graph.store.common import assemble_ego_network
from loaders.generate import generate, write_dataset
from loaders.ingest import load_folder

EXTRA_CUSTOMERS = ["Zeta", "zeta", "Ωmega", "😀x", "a b", "lonely"]


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    d = tmp_path_factory.mktemp("neighbours")
    data = generate(300, seed=5)
    write_dataset(data, d, fmt="csv")
    some = data.customers.column("customer_id").to_pylist()[:4]
    with (d / "customers.csv").open("a", encoding="utf-8") as fh:
        header = (d / "customers.csv").read_text(encoding="utf-8").splitlines()[0].split(",")
        for cid in EXTRA_CUSTOMERS:
            fh.write(",".join([cid] + [""] * (len(header) - 1)) + "\n")
    rows = [
        (some[0], some[0], "message", ""),  # to oneself, count missing
        (some[0], some[0], "message", "3"),
        (some[0], "Zeta", "transfer", ""),
        ("zeta", some[0], "transfer", "2"),
        ("Ωmega", some[0], "like", "2"),
        ("😀x", some[0], "like", "2"),
        ("a b", some[1], "message", "1"),
        ("a b", some[1], "message", "1"),  # repeated pair and type
        (some[1], "a b", "referral", "1"),
        ("Zeta", "zeta", "message", "5"),
    ]
    with (d / "relations.csv").open("a", encoding="utf-8") as fh:
        for src, dst, kind, count in rows:
            fh.write(f"{src},{dst},{kind},2026-05-01T10:00:00,,{count},app\n")
    uri = f"duckdb:///{d / 'store.duckdb'}"
    with open_store(uri) as st:
        load_folder(st, d, quarantine_dir=d / "q")
    with open_store(uri, read_only=True) as st:
        yield st


@pytest.fixture(scope="module")
def index(store) -> NeighbourIndex:
    return NeighbourIndex.from_relations(
        store.read_table("relations", ["src_id", "dst_id", "type", "count"])
    )


def _from_memory(index, store, cid, hops, limit):
    return assemble_ego_network(
        cid,
        hops=hops,
        limit=limit,
        first_hop=index.first_hop,
        second_hop=index.second_hop,
        edges_among=index.edges_among,
        runs=store,
    )


def _customers(store) -> list[str]:
    ids = store.read_table("customers", ["customer_id"]).column("customer_id").to_pylist()
    rng = np.random.default_rng(2)
    picked = list(rng.choice(ids, 12, replace=False))
    return sorted(set(picked) | set(EXTRA_CUSTOMERS[:-1]) | set(ids[:4]))


@pytest.mark.parametrize("hops", [1, 2])
@pytest.mark.parametrize("limit", [1, 25, 400])
def test_same_network_as_the_store(store, index, hops, limit):
    for cid in _customers(store):
        want = store.ego_network(cid, hops=hops, limit=limit)
        got = _from_memory(index, store, cid, hops, limit)
        pd.testing.assert_frame_equal(got.nodes, want.nodes, check_dtype=False)
        pd.testing.assert_frame_equal(got.edges, want.edges, check_dtype=False)


def test_knows_only_ends_of_relations(index):
    assert index.knows("Zeta") and index.knows("😀x")
    assert not index.knows("lonely") and not index.knows("nobody")


def test_served_network_uses_memory_and_matches(store, index):
    from api.http.readmodel.network import ego_network

    cid = "Zeta"
    a = ego_network(store, cid, hops=2, limit=10, run_id=None, neighbours=index)
    b = ego_network(store, cid, hops=2, limit=10, run_id=None, neighbours=None)
    assert a == b and len(a["nodes"]) > 2
    lonely = ego_network(store, "lonely", hops=2, limit=10, run_id=None, neighbours=index)
    assert [n["id"] for n in lonely["nodes"]] == ["lonely"]
