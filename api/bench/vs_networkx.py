"""networkx side by side: the same metric set on the same graph, timed on both sides.

networkx is the reference implementation in the tests; this benchmark shows what choosing
igraph buys at scale. Both sides get the identical projection (directed weighted graph for
PageRank, its undirected simple view for the rest) and the same parameters: damping 0.85,
betweenness from the same number of source pivots, Leiden (igraph) against Louvain
(networkx, which has no Leiden), both weighted, modularity resolution 1.
"""

from __future__ import annotations

import time

import numpy as np

from graph.build import build_interaction_graph, edge_arrays
from graph.centrality import (
    betweenness_scores,
    clustering_coefficients,
    coreness_values,
    pagerank_scores,
)
from graph.communities import leiden_communities
from graph.model import PROJECTION_COLUMNS
from graph.store.base import GraphStore

SAMPLES = 64


def _timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def side_by_side(store: GraphStore, *, seed: int = 42) -> dict:
    """Time PageRank, coreness, clustering, sampled betweenness and communities on both."""
    import networkx as nx

    rel = store.read_table("relations", list(PROJECTION_COLUMNS))
    g = build_interaction_graph(store.customer_ids(), rel)
    und = g.undirected()
    n = g.graph.vcount()

    ig_times: dict[str, float] = {}
    pr_ig, ig_times["pagerank"] = _timed(lambda: pagerank_scores(g.graph, damping=0.85))
    _, ig_times["coreness"] = _timed(lambda: coreness_values(und))
    cl_ig, ig_times["clustering"] = _timed(lambda: clustering_coefficients(und))
    _, ig_times["betweenness"] = _timed(
        lambda: betweenness_scores(und, exact_max_vertices=0, samples=SAMPLES, seed=seed)
    )
    comm_ig, ig_times["communities"] = _timed(
        lambda: leiden_communities(und, resolution=1.0, seed=seed)
    )

    t = time.perf_counter()
    dg = nx.DiGraph()
    dg.add_nodes_from(range(n))
    src, dst, w = edge_arrays(g.graph)
    dg.add_weighted_edges_from(zip(src.tolist(), dst.tolist(), w.tolist(), strict=True))
    ug = nx.Graph()
    ug.add_nodes_from(range(n))
    usrc, udst, uw = edge_arrays(und)
    ug.add_weighted_edges_from(zip(usrc.tolist(), udst.tolist(), uw.tolist(), strict=True))
    nx_build = time.perf_counter() - t

    nx_times: dict[str, float] = {}
    pr_nx, nx_times["pagerank"] = _timed(lambda: nx.pagerank(dg, alpha=0.85, weight="weight"))
    _, nx_times["coreness"] = _timed(lambda: nx.core_number(ug))
    cl_nx, nx_times["clustering"] = _timed(lambda: nx.clustering(ug))
    _, nx_times["betweenness"] = _timed(
        lambda: nx.betweenness_centrality(ug, k=SAMPLES, normalized=False, seed=seed)
    )
    comm_nx, nx_times["communities"] = _timed(
        lambda: nx.community.louvain_communities(ug, weight="weight", resolution=1.0, seed=seed)
    )

    pr_nx_arr = np.array([pr_nx[i] for i in range(n)])
    cl_nx_arr = np.array([cl_nx[i] for i in range(n)])
    ig_total = sum(ig_times.values())
    nx_total = sum(nx_times.values())
    return {
        "rows": int(g.graph.ecount()),
        "detail": {
            "customers": n,
            "edges_directed": int(g.graph.ecount()),
            "edges_undirected": int(und.ecount()),
            "betweenness_samples": SAMPLES,
            "igraph_s": {k: round(v, 3) for k, v in ig_times.items()},
            "networkx_s": {k: round(v, 3) for k, v in nx_times.items()},
            "networkx_graph_build_s": round(nx_build, 3),
            "igraph_total_s": round(ig_total, 3),
            "networkx_total_s": round(nx_total, 3),
            "speedup": round(nx_total / ig_total, 1) if ig_total else None,
            "pagerank_max_rel_diff_at_nx_default_tol": float(
                np.max(np.abs(pr_ig - pr_nx_arr) / pr_nx_arr)
            ),
            "clustering_max_abs_diff": float(np.max(np.abs(cl_ig - cl_nx_arr))),
            "modularity_igraph_leiden": round(float(comm_ig.modularity), 4),
            "modularity_networkx_louvain": round(
                float(nx.community.modularity(ug, comm_nx, weight="weight")), 4
            ),
        },
    }
