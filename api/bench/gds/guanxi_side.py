"""The timed guanxi side of the benchmark: projection from the store, then the same measures.

What it holds: the projection (customer ids, relations, interaction graph, undirected view)
and graph.centrality / graph.communities with the parameters ``analyze`` uses.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import numpy as np

from api.bench.gds.measure import timed
from api.bench.gds.params import RESOLUTION
from graph.model import PROJECTION_COLUMNS


def _guanxi_projection(store: Any, as_of: datetime | None):
    from graph.build import build_interaction_graph

    ids = store.customer_ids()
    rel = store.read_table("relations", list(PROJECTION_COLUMNS))
    return build_interaction_graph(ids, rel, as_of=as_of)


def guanxi_side(store: Any, *, as_of: datetime | None, seed: int) -> tuple[dict, dict, Any]:
    from graph.centrality import (
        betweenness_scores,
        clustering_coefficients,
        coreness_values,
        degree_columns,
        pagerank_scores,
    )
    from graph.communities import leiden_communities
    from graph.params import AnalysisParams

    params = AnalysisParams(seed=seed)
    times: dict[str, float] = {}
    out: dict[str, np.ndarray] = {}
    t = time.perf_counter()
    g = _guanxi_projection(store, as_of)
    und = g.undirected()
    times["projection"] = time.perf_counter() - t

    out["pagerank"] = timed(
        times, "pagerank", lambda: pagerank_scores(g.graph, damping=params.damping)
    )
    deg = timed(times, "weighted_degree", lambda: degree_columns(g.graph, undirected=und))
    out["weighted_degree"] = deg["in_strength"] + deg["out_strength"]
    comms = timed(
        times,
        "communities",
        lambda: leiden_communities(
            und, resolution=RESOLUTION, iterations=params.leiden_iterations, seed=seed
        ),
    )
    out["communities"] = comms.membership
    out["kcore"] = timed(times, "kcore", lambda: coreness_values(und))
    out["clustering"] = timed(times, "clustering", lambda: clustering_coefficients(und))
    out["betweenness"] = timed(
        times,
        "betweenness",
        # sampled whatever the size, as GDS is asked to do
        lambda: betweenness_scores(
            und, exact_max_vertices=0, samples=params.betweenness_samples, seed=seed
        ),
    )
    info = {"leiden_iterations": params.leiden_iterations, "modularity_reported": comms.modularity}
    return times, out, (g, info)
