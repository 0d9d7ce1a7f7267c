"""Declared PII columns are store metadata: kept across reopening, the same on every store.

Why: a column declared PII at load time (``guanxi load --pii-columns``) must stay masked for
every later reader of the store, which never sees the load's options; so the declaration
lives in the store itself, and both stores must answer alike.
"""

from __future__ import annotations

import pytest

from graph.errors import ConfigError, StoreError
from graph.model import PII_COLUMNS


def test_none_declared_on_a_new_store(store) -> None:
    assert store.declared_pii_columns() == ()


def test_declarations_accumulate_sorted_and_deduplicated(store) -> None:
    store.declare_pii_columns(["email", "attr.wechat"])
    assert store.declared_pii_columns() == ("attr.wechat", "email")
    store.declare_pii_columns(["email", " branch_note ", "email"])
    assert store.declared_pii_columns() == ("attr.wechat", "branch_note", "email")
    store.declare_pii_columns([])
    assert store.declared_pii_columns() == ("attr.wechat", "branch_note", "email")


def test_declaration_persists_across_reopening(make_store) -> None:
    first = make_store()
    first.declare_pii_columns(["客户备注", "email"])
    first.close()
    again = make_store()
    assert again.declared_pii_columns() == tuple(sorted(["客户备注", "email"]))


def test_declaration_is_independent_of_loaded_data(store) -> None:
    """The built-in PII columns are not stored: only what a load declared."""
    import pyarrow as pa

    from graph.model import SCHEMAS

    store.declare_pii_columns(["email"])
    customers = pa.table(
        {
            f.name: pa.array(["C1"] if f.name == "customer_id" else [None], f.type)
            for f in SCHEMAS["customers"]
        }
    )
    store.upsert_customers(customers)
    assert store.declared_pii_columns() == ("email",)
    assert not set(PII_COLUMNS) & set(store.declared_pii_columns())


@pytest.mark.parametrize("bad", [[""], ["a", "  "], [None], "email"])
def test_blank_or_malformed_names_are_refused(store, bad) -> None:
    with pytest.raises(ConfigError):
        store.declare_pii_columns(bad)
    assert store.declared_pii_columns() == ()


def test_read_only_duckdb_store(tmp_path) -> None:
    """A read-only store answers (also for a file made before the meta table) but refuses."""
    import duckdb

    from graph.store.duckdb_store import DuckDBStore

    old = tmp_path / "old.duckdb"
    duckdb.connect(str(old)).close()
    with DuckDBStore(old, read_only=True) as ro:
        assert ro.declared_pii_columns() == ()
    path = tmp_path / "s.duckdb"
    with DuckDBStore(path) as rw:
        rw.declare_pii_columns(["email"])
    with DuckDBStore(path, read_only=True) as ro:
        assert ro.declared_pii_columns() == ("email",)
        with pytest.raises(StoreError):
            ro.declare_pii_columns(["phone2"])
