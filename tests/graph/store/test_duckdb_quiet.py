"""DuckDB's progress bar stays off: it prints to stdout and would corrupt ``--json`` output."""

from __future__ import annotations

from graph.store.duckdb_store import DuckDBStore


def test_the_stores_connection_has_no_progress_bar(tmp_path):
    s = DuckDBStore(tmp_path / "q.duckdb")
    try:
        got = s._con.execute("SELECT current_setting('enable_progress_bar')").fetchone()[0]
        assert got is False
    finally:
        s.close()
