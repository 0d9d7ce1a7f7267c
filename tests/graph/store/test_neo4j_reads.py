"""Chunked whole-table reads from Neo4j return every row exactly once, however they are cut.

Why: the projection and the features read tables in customer-id chunks ([lo, hi) with a
separate open-ended statement for the last chunk). A chunk boundary that dropped or repeated
rows would silently change every metric; the default chunk (10,000 customers) is one chunk
on small test data, so this test cuts the same data into many.
"""

from __future__ import annotations

import pyarrow as pa
import pytest

from graph.model import NATURAL_KEYS, TABLES
from loaders.generate import generate, write_dataset
from loaders.ingest import load_folder
from tests.graph.store.conftest import open_neo4j

pytestmark = [pytest.mark.neo4j, pytest.mark.slow]


def _sorted(t: pa.Table, name: str) -> pa.Table:
    return t.sort_by([(k, "ascending") for k in NATURAL_KEYS[name]])


def test_many_small_chunks_read_the_same_rows_as_one(neo4j_server, tmp_path):
    store = open_neo4j(neo4j_server)
    try:
        store.clear()
        write_dataset(generate(300, seed=5), tmp_path / "data", fmt="csv")
        load_folder(store, tmp_path / "data", quarantine_dir=tmp_path / "q")
        counts = store.counts()
        whole = {name: store.read_table(name) for name in TABLES}
        store.read_chunk = 7
        assert len(store._chunk_bounds()) == -(-counts["customers"] // 7)
        for name in TABLES:
            chunked = store.read_table(name)
            assert chunked.num_rows == counts[name] > 0, name
            assert _sorted(chunked, name).equals(_sorted(whole[name], name)), name
    finally:
        store.close()
