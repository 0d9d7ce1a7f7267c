"""The Bolt side of the store: one driver, registered statements in managed transactions.

Writes go through the driver's managed transactions (``session.execute_write``) in
client-side batches of ``batch_size`` rows, so the driver retries transient failures; we add
no retry loop. ``CALL {...} IN TRANSACTIONS`` needs an auto-commit transaction, which the
driver does not retry, so only statements marked ``autocommit`` run that way.
Every error leaves here as a `graph.errors` type with the driver's exception as its cause.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa

from graph.errors import StoreError, StoreUnavailable
from graph.store.neo4j.statements import Statement

__all__ = ["Bolt", "wrap_error"]


def wrap_error(exc: Exception, what: str) -> StoreError:
    """The `graph.errors` type for a driver error: unreachable or refused, else a failure."""
    from neo4j import exceptions as nx

    unavailable = (nx.ServiceUnavailable, nx.SessionExpired, nx.AuthError, OSError)
    if isinstance(exc, nx.ConfigurationError | ValueError):
        return StoreUnavailable(f"{what}: {exc}")
    if isinstance(exc, unavailable):
        return StoreUnavailable(f"{what}: {exc}")
    return StoreError(f"{what}: {exc}")


class Bolt:
    """A driver bound to one database, running registered statements only.

    Raises
    ------
    StoreUnavailable
        The server cannot be reached or refuses the credentials.
    """

    def __init__(
        self, uri: str, *, user: str, password: str, database: str | None, batch_size: int
    ) -> None:
        import neo4j

        self.database = database
        self.batch_size = batch_size
        try:
            # statements are linted in CI; the server's per-query hints would only flood the log
            self.driver = neo4j.GraphDatabase.driver(
                uri, auth=(user, password), notifications_min_severity="OFF"
            )
            self.driver.verify_connectivity()
        except Exception as exc:
            raise wrap_error(exc, f"cannot connect to Neo4j at {uri}") from exc

    def session(self):
        """A driver session on the store's database (tests use it for raw checks)."""
        return self.driver.session(database=self.database)

    def close(self) -> None:
        self.driver.close()

    def write(
        self, stmt: Statement, params: dict | None = None, *, sub: str | None = None
    ) -> tuple[list[tuple], Any]:
        """Run one statement in a managed write transaction: (records, summary counters)."""
        cypher = stmt.render(sub)

        def work(tx):
            res = tx.run(cypher, params or {})
            rows = [tuple(r) for r in res]
            return rows, res.consume().counters

        try:
            with self.session() as s:
                if stmt.autocommit:
                    res = s.run(cypher, params or {})
                    rows = [tuple(r) for r in res]
                    return rows, res.consume().counters
                return s.execute_write(work)
        except Exception as exc:
            if isinstance(exc, StoreError):
                raise
            raise wrap_error(exc, f"Neo4j statement {stmt.name} failed") from exc

    def read(
        self,
        stmt: Statement,
        params: dict | None = None,
        *,
        sub: str | None = None,
        consume: Callable[[Any], Any] | None = None,
    ) -> Any:
        """Run one statement in a managed read transaction; rows as tuples, or consume(result)."""
        cypher = stmt.render(sub)

        def work(tx):
            res = tx.run(cypher, params or {})
            if consume is not None:
                return consume(res)
            return [tuple(r) for r in res]

        try:
            with self.session() as s:
                return s.execute_read(work)
        except Exception as exc:
            if isinstance(exc, StoreError):
                raise
            raise wrap_error(exc, f"Neo4j statement {stmt.name} failed") from exc

    def count(self, stmt: Statement, sub: str | None = None) -> int:
        """The single number a ``RETURN count(...)`` statement returns."""
        rows = self.read(stmt, sub=sub)
        return int(rows[0][0]) if rows else 0

    def repeat_until_done(self, stmt: Statement, params: dict, *, sub: str | None = None) -> int:
        """Re-run a batched delete/clear (``... LIMIT $batch ... RETURN count(*)``) until done."""
        total = 0
        while True:
            rows, _ = self.write(stmt, {**params, "batch": self.batch_size}, sub=sub)
            n = rows[0][0] if rows else 0
            total += n
            if n < self.batch_size:
                return total

    def batches(self, table: pa.Table, rows: int | None = None) -> Iterator[pa.Table]:
        """`table` in slices of `rows` (default ``batch_size``): one write transaction each."""
        step = rows or self.batch_size
        for start in range(0, table.num_rows, step):
            yield table.slice(start, step)
