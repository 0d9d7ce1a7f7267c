"""The Neo4j store as a package: the store, its statement registry, the value codec.

Importing it opens no connection and builds no statement: the registry is built on first
use (`statements.registry`). The local dev server is apart from the store
(`graph.store.neo4j_local`).
"""

from __future__ import annotations

from graph.store.neo4j.runs import RunResultsUnavailable
from graph.store.neo4j.statements import REL_TYPES, TAG_LABELS, Statement, all_statements
from graph.store.neo4j.store import Neo4jStore

__all__ = [
    "REL_TYPES",
    "TAG_LABELS",
    "Neo4jStore",
    "RunResultsUnavailable",
    "Statement",
    "all_statements",
]
