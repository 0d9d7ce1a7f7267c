"""Connection and tuning options of the Neo4j store, as plain values.

The store never reads the environment: `api.settings` builds these from the one Settings
object and passes them to `graph.store.open_store`.
"""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_BATCH_SIZE = 20_000
DEFAULT_HISTORY_RUNS = 3
DEFAULT_READ_CHUNK = 10_000
#: Tag categories the Neo4j store writes as ``HAS_TAG`` relationships (all tags: ``c.tags``).
DEFAULT_GRAPH_TAGS = ("social", "risk")


@dataclass(frozen=True)
class Neo4jOptions:
    """How to reach a Neo4j server and how big its write and read batches are.

    Attributes
    ----------
    user, password
        Credentials; a missing password is refused when the store opens.
    database
        A named database (None: the server's default).
    batch_size
        Rows per write transaction.
    history_runs
        Complete runs whose tags are kept in the graph (older ones are pruned).
    read_chunk
        Customers per chunk of a table read (about ten times as many relations).
    facts
        The facts file beside the graph (None: inside the server's data directory).
    graph_tags
        Tag categories written as ``HAS_TAG`` with score and reason.
    """

    user: str = "neo4j"
    password: str | None = None
    database: str | None = None
    batch_size: int = DEFAULT_BATCH_SIZE
    history_runs: int = DEFAULT_HISTORY_RUNS
    read_chunk: int = DEFAULT_READ_CHUNK
    facts: str | None = None
    graph_tags: tuple[str, ...] = DEFAULT_GRAPH_TAGS
