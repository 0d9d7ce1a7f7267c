"""The DuckDB store's read-only SELECTs: whole (`select_arrow`) or streamed
(`select_batches`) give the same rows; a failing statement is a StoreError naming it, and
the frames registered for it are gone afterwards either way."""

from __future__ import annotations

import pyarrow as pa
import pytest

from graph.errors import StoreError
from graph.store import open_store


@pytest.fixture
def store(tmp_path):
    with open_store(f"duckdb:///{tmp_path / 's.duckdb'}") as s:
        yield s


def test_streamed_and_whole_selects_give_the_same_rows(store):
    frame = pa.table({"x": pa.array(range(5000), pa.int64())})
    sql = "SELECT x, x * 2 AS y FROM _f ORDER BY x"
    whole = store.select_arrow(sql, _f=frame)
    with store.select_batches(sql, _f=frame) as reader:
        streamed = reader.read_all()
    assert streamed.equals(whole) and whole.num_rows == 5000
    with pytest.raises(StoreError, match="_f"):  # unregistered after the block
        store.select_arrow("SELECT * FROM _f")


@pytest.mark.parametrize("streamed", [False, True])
def test_a_failing_statement_names_its_first_line(store, streamed):
    sql = "SELECT no_such_column\nFROM customers"
    with pytest.raises(StoreError, match="SELECT no_such_column"):
        if streamed:
            with store.select_batches(sql) as reader:
                reader.read_all()
        else:
            store.select_arrow(sql)
