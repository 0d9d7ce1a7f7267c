"""The measures only one machine computes well, on the driver, when the graph fits a budget.

Leiden, sampled betweenness, Burt's constraint and 2-hop reach have no good distributed
form. When the collapsed undirected edge list fits ``driver_budget_mb`` it is brought to the
driver as Arrow and the local engine's own functions (graph.centrality, graph.communities)
run on it with the run's seed; the few columns they produce go back as a DataFrame. The
graph is rebuilt with the local build's vertex numbering and edge order (ascending pairs),
so the results are those the local engine computes on the same data.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from api.engines.spark.projection import SparkGraph
from graph.params import AnalysisParams

__all__ = ["DRIVER_METRICS", "driver_metrics", "fits_driver"]

#: The metric columns the driver computes (Leiden's membership comes beside them).
DRIVER_METRICS: tuple[str, ...] = ("betweenness", "constraint", "reach_2hop")

# Driver memory per undirected edge and per customer that igraph, its Python-level edge
# attributes and the algorithms' working arrays take: a deliberately generous estimate, so
# a graph that passes the check does not push the driver out of memory.
_BYTES_PER_EDGE = 600
_BYTES_PER_VERTEX = 400


def fits_driver(g: SparkGraph, budget_mb: int) -> tuple[bool, int]:
    """Whether the driver stages fit ``budget_mb``, and the estimate in MB (two counts)."""
    need = g.undirected.count() * _BYTES_PER_EDGE + g.vertices.count() * _BYTES_PER_VERTEX
    need_mb = math.ceil(need / 2**20)
    return need_mb <= budget_mb, need_mb


def driver_metrics(spark: Any, g: SparkGraph, params: AnalysisParams) -> Any:
    """``vid``, ``leiden`` (community index), ``betweenness``, ``constraint``, ``reach_2hop``.

    Call only after :func:`fits_driver` said yes: this collects the undirected edge list.
    """
    import igraph as ig

    from graph.centrality import betweenness_scores, constraint_scores, reach_2hop
    from graph.communities import leiden_communities

    n = g.vertices.count()
    edges = g.undirected.select("lo", "hi", "weight").orderBy("lo", "hi").toArrow()
    lo = edges.column("lo").to_numpy()
    hi = edges.column("hi").to_numpy()
    w = edges.column("weight").to_numpy()
    und = ig.Graph(n=n, edges=zip(lo.tolist(), hi.tolist(), strict=True), directed=False)
    und.es["weight"] = w.tolist()
    comms = leiden_communities(
        und, resolution=params.resolution, iterations=params.leiden_iterations, seed=params.seed
    )
    frame = pd.DataFrame(
        {
            "vid": np.arange(n, dtype=np.int64),
            "leiden": comms.membership.astype(np.int64),
            "betweenness": betweenness_scores(
                und,
                exact_max_vertices=params.exact_betweenness_max_vertices,
                samples=params.betweenness_samples,
                seed=params.seed,
            ),
            "constraint": constraint_scores(und),
            "reach_2hop": np.asarray(
                reach_2hop(
                    und,
                    exact_walk_budget=params.reach_exact_walk_budget,
                    sketch_size=params.reach_sketch_size,
                    seed=params.seed,
                ),
                dtype=np.float64,
            ),
        }
    )
    return spark.createDataFrame(frame)
