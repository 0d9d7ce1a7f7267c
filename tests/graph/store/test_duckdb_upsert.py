"""DuckDB store upserts: one row per natural key, within a batch and across batches."""

from __future__ import annotations

import pyarrow as pa
import pytest

from graph.model import SCHEMAS
from graph.store import open_store


@pytest.fixture
def store(tmp_path):
    with open_store(f"duckdb:///{tmp_path / 'u.duckdb'}") as s:
        yield s


def _events(rows: list[tuple]) -> pa.Table:
    """(customer_id, occurred_at, event_type, device_id, topic, detail) tuples."""
    schema = SCHEMAS["events"]
    cols = ["customer_id", "occurred_at", "event_type", "device_id", "topic", "detail"]
    given = {c: [r[i] for r in rows] for i, c in enumerate(cols)}
    return pa.table(
        {f.name: pa.array(given.get(f.name, [None] * len(rows)), f.type) for f in schema},
        schema=schema,
    )


def _detail_by_key(store) -> dict[tuple, str]:
    t = store.read_table("events").to_pylist()
    return {
        (r["customer_id"], r["occurred_at"].isoformat(), r["device_id"], r["topic"]): r["detail"]
        for r in t
    }


def test_repeated_keys_in_one_batch_keep_the_first_row(store):
    ts = 1_700_000_000_000_000
    batch = _events(
        [
            ("A", ts, "login", "D1", None, "first"),
            ("A", ts, "login", "D1", None, "second"),  # same key, NULL topic included
            ("B", ts, "login", "D1", "x", "only"),
            ("A", ts, "login", "D2", None, "other device"),
            ("A", ts, "login", "D1", None, "third"),
        ]
    )
    assert store.upsert_rows("events", batch).inserted == 3
    got = _detail_by_key(store)
    assert got[("A", "2023-11-14T22:13:20", "D1", None)] == "first"
    assert len(got) == 3
    # a reload, and a batch mixing stored keys, a new key and a repeated new key
    assert store.upsert_rows("events", batch).inserted == 0
    more = _events(
        [
            ("A", ts, "login", "D1", None, "late"),
            ("C", ts, "login", None, None, "new"),
            ("C", ts, "login", None, None, "new again"),
            ("B", ts + 1, "login", "D1", "x", "new time"),
        ]
    )
    assert store.upsert_rows("events", more).inserted == 2
    got = _detail_by_key(store)
    assert got[("A", "2023-11-14T22:13:20", "D1", None)] == "first"
    assert got[("C", "2023-11-14T22:13:20", None, None)] == "new"
    assert store.counts()["events"] == 5


def test_empty_batch_inserts_nothing(store):
    assert store.upsert_rows("events", _events([])).inserted == 0
    assert store.counts()["events"] == 0


def test_upserts_leave_insertion_order_setting_as_it_was(store):
    store.upsert_rows("events", _events([("A", 0, "login", None, None, None)]))
    con = store._cur()
    assert con.execute("SELECT current_setting('preserve_insertion_order')").fetchall() == [(True,)]
