"""Opening the store the settings name: the one door the CLI, HTTP app and benchmarks use."""

from __future__ import annotations

from graph.store import GraphStore, Neo4jOptions, open_store


def open_configured_store(uri: str, *, read_only: bool = False) -> GraphStore:
    """Open a store with credentials from settings (Neo4j) — the one door the edges use."""
    from api.settings import get_settings

    s = get_settings()
    pw = s.neo4j_password.get_secret_value() if s.neo4j_password else None
    return open_store(
        uri,
        read_only=read_only,
        neo4j=Neo4jOptions(user=s.neo4j_user, password=pw),
    )


def open_default(uri: str | None) -> GraphStore:
    from api.settings import get_settings

    return open_configured_store(uri or get_settings().store)
