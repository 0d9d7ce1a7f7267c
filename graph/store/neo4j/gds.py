"""Graph Data Science calls over a Neo4j store's own connection, registered statements only.

The GDS benchmark (`api.bench.gds`) times GDS against guanxi on the same server; it sends
nothing but the statements of `gds_statements`, through the store's `Bolt` session, so they
are linted and listed like the store's own.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from graph.store.neo4j.gds_statements import STREAMS
from graph.store.neo4j.statements import stmt
from graph.store.neo4j.store import Neo4jStore

__all__ = ["Gds"]

_WRITE_BATCH = 50_000


class Gds:
    """The GDS procedures the benchmark uses, on `store`'s connection."""

    def __init__(self, store: Neo4jStore) -> None:
        self._bolt = store.bolt

    def version(self) -> str:
        """The server's GDS version (raises `StoreError` when GDS is not installed)."""
        return str(self._bolt.read(stmt("gds.version"))[0][0])

    def customer_nodes(self) -> list[tuple[int, str]]:
        """(internal node id, customer_id) of every customer: GDS streams node ids."""
        return [(int(r[0]), r[1]) for r in self._bolt.read(stmt("gds.customer_nodes"))]

    def project(self, name: str, *, undirected: bool) -> tuple[int, int]:
        """Project Customer + the weighted edges as graph `name`: (nodes, relationships)."""
        s = stmt("gds.project_undirected" if undirected else "gds.project_natural")
        rows, _ = self._bolt.write(s, {"name": name})
        return int(rows[0][0]), int(rows[0][1])

    def graph_sizes(self, names: list[str]) -> dict[str, int]:
        """Bytes held by each named projection."""
        return dict(self._bolt.read(stmt("gds.graph_sizes"), {"names": names}))

    def drop_graphs(self, names: list[str]) -> None:
        for name in names:
            self._bolt.write(stmt("gds.drop_graph"), {"name": name})

    def stream(
        self, measure: str, graph: str, config: dict[str, Any]
    ) -> tuple[np.ndarray, np.ndarray]:
        """One measure of :data:`gds_statements.STREAMS` on `graph`: (node ids, values)."""
        if measure not in STREAMS:
            raise ValueError(f"unknown GDS measure {measure!r}; known: {sorted(STREAMS)}")
        rows = self._bolt.read(stmt(f"gds.stream.{measure}"), {"graph": graph, "config": config})
        if not rows:
            return np.zeros(0, np.int64), np.zeros(0)
        arr = np.asarray(rows, dtype=np.float64)
        return arr[:, 0].astype(np.int64), arr[:, 1]

    def write_weighted(self, src: np.ndarray, dst: np.ndarray, w: np.ndarray) -> None:
        """Write ``:GX_WEIGHTED {weight}`` from node `src[i]` to `dst[i]`, in batches."""
        for start in range(0, src.size, _WRITE_BATCH):
            sl = slice(start, start + _WRITE_BATCH)
            params = {"s": src[sl].tolist(), "d": dst[sl].tolist(), "w": w[sl].tolist()}
            self._bolt.write(stmt("gds.write_weighted"), params)

    def remove_weighted(self) -> None:
        self._bolt.write(stmt("gds.remove_weighted"))
