"""Opening the store the settings name: the one door the CLI, HTTP app and benchmarks use."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from graph.store import GraphStore, open_store

if TYPE_CHECKING:
    from api.settings import Settings


def open_configured_store(
    uri: str, *, read_only: bool = False, settings: Settings | None = None
) -> GraphStore:
    """Open the store `uri` names with the Neo4j section of `settings` (credentials, batches).

    Parameters
    ----------
    uri
        The store URI; a DuckDB store ignores the Neo4j section.
    read_only
        Open DuckDB read-only (readers next to a writer).
    settings
        Default: `api.settings.get_settings()`, the process's settings.

    Raises
    ------
    ConfigError
        The URI names no known store, or a setting holds a value it refuses.
    StoreUnavailable
        The store cannot be opened or reached.
    """
    s = settings or _process_settings()
    return open_store(uri, read_only=read_only, neo4j=s.neo4j.store_options())


def open_default(uri: str | None, *, settings: Settings | None = None) -> GraphStore:
    """Open `uri`, or the store the settings name when it is None (``GUANXI_STORE``)."""
    s = settings or _process_settings()
    return open_configured_store(uri or s.store, settings=s)


def _process_settings() -> Settings:
    from api.settings import get_settings

    return get_settings()


@contextmanager
def memory_budget(store: GraphStore, limit: str) -> Iterator[None]:
    """DuckDB's own memory budget (e.g. ``"4GB"``) for the block, where the store has one
    (``limit_memory``); the previous budget is put back afterwards."""
    set_limit = getattr(store, "limit_memory", None)
    before = set_limit(limit) if set_limit else None
    try:
        yield
    finally:
        if set_limit and before:
            set_limit(before)
