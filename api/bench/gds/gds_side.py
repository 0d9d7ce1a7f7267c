"""The timed GDS side of the benchmark: id map, two projections, one stream per measure.

What it holds: the calls to Neo4j Graph Data Science, each collected into a numpy array
aligned with guanxi's vertex order (customers by id).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from api.bench.gds.measure import mb, timed
from api.bench.gds.params import (
    BETWEENNESS_SAMPLES,
    DAMPING,
    G_NAT,
    G_UND,
    PAGERANK_MAX_ITERATIONS,
    PAGERANK_TOLERANCE,
    RESOLUTION,
)
from graph.store.neo4j.gds import Gds


def _aligned(
    node_ids: np.ndarray, values: np.ndarray, pos_of: dict[int, int], n: int
) -> np.ndarray:
    out = np.zeros(n, dtype=np.float64)
    idx = np.fromiter((pos_of.get(int(i), -1) for i in node_ids), np.int64, count=node_ids.size)
    ok = idx >= 0
    out[idx[ok]] = values[ok]
    return out


def gds_side(
    gds: Gds, *, n_expected: int, seed: int, concurrency: int | None
) -> tuple[dict[str, float], dict[str, np.ndarray], np.ndarray, dict]:
    """Run and time the GDS side. Returns times, per-vertex arrays, the id order, info."""
    times: dict[str, float] = {}
    conc = {} if concurrency is None else {"concurrency": int(concurrency)}
    info: dict[str, Any] = {}

    t0 = time.perf_counter()
    # the customer-id map: GDS streams internal node ids, a caller needs customer ids
    rows = gds.customer_nodes()
    cust = np.asarray([r[1] for r in rows], dtype=object)
    order = np.argsort(cust, kind="stable")  # vertex i = i-th smallest id, as in guanxi
    node_of_vertex = np.asarray([r[0] for r in rows], dtype=np.int64)[order]
    ids_sorted = cust[order]
    pos_of = {int(nid): i for i, nid in enumerate(node_of_vertex.tolist())}
    n = len(ids_sorted)
    times["id_map"] = time.perf_counter() - t0

    t = time.perf_counter()
    nat = gds.project(G_NAT, undirected=False)
    und = gds.project(G_UND, undirected=True)
    times["projection"] = time.perf_counter() - t
    info["natural"] = {"nodes": nat[0], "relationships": nat[1]}
    info["undirected"] = {"nodes": und[0], "relationships": und[1]}
    sizes = gds.graph_sizes([G_NAT, G_UND])
    info["graph_size_mb"] = {name: mb(size) for name, size in sizes.items()}
    if nat[0] != n_expected:
        info["warning"] = f"GDS projected {nat[0]} customers, guanxi has {n_expected}"

    def stream(measure: str, graph: str, config: dict) -> np.ndarray:
        def call() -> np.ndarray:
            nid, val = gds.stream(measure, graph, {**config, **conc})
            return _aligned(nid, val, pos_of, n)

        return timed(times, measure, call)

    pagerank = {
        "dampingFactor": DAMPING,
        "relationshipWeightProperty": "weight",
        "tolerance": PAGERANK_TOLERANCE,
        "maxIterations": PAGERANK_MAX_ITERATIONS,
    }
    leiden = {"relationshipWeightProperty": "weight", "gamma": RESOLUTION, "randomSeed": seed}
    betweenness = {"samplingSize": BETWEENNESS_SAMPLES, "samplingSeed": seed}
    out: dict[str, np.ndarray] = {}
    out["pagerank"] = stream("pagerank", G_NAT, pagerank)
    out["weighted_degree"] = stream(
        "weighted_degree", G_UND, {"relationshipWeightProperty": "weight"}
    )
    out["communities"] = stream("communities", G_UND, leiden)
    out["kcore"] = stream("kcore", G_UND, {})
    out["clustering"] = stream("clustering", G_UND, {})
    out["betweenness"] = stream("betweenness", G_UND, betweenness)
    return times, out, ids_sorted, info
