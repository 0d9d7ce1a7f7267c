"""One comparison on a loaded store: weighted edges for GDS, alternating runs, agreement.

What it holds: the untimed set-up (guanxi's weighted edges written as ``:GX_WEIGHTED``),
the repeated GDS and guanxi runs with their peak RSS, the optional full ``analyze``, and
the agreement and memory figures of the result.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import psutil

from api.bench.gds.agreement import spearman, top_k_overlap
from api.bench.gds.gds_side import gds_side
from api.bench.gds.guanxi_side import guanxi_side
from api.bench.gds.measure import mb
from api.bench.gds.params import (
    G_NAT,
    G_UND,
    MEASURES,
    RESOLUTION,
)
from api.bench.peak_rss import PeakRss
from graph.build import igraph_weights
from graph.model import PROJECTION_COLUMNS
from graph.store.neo4j.gds import Gds


def compare(
    gds: Gds,
    store: Any,
    *,
    server_pid: int | None,
    seed: int,
    concurrency: int | None,
    full_analyze: bool,
    repeats: int,
    say: Callable[[str], None],
) -> dict:
    from graph.build import build_interaction_graph, edge_arrays, newest_timestamp

    out: dict[str, Any] = {}
    me = psutil.Process().pid

    # --- untimed set-up: the weighted edges guanxi computes, written for GDS
    say("computing guanxi's weighted edges and writing them as :GX_WEIGHTED (untimed)")
    t = time.perf_counter()
    rel = store.read_table("relations", list(PROJECTION_COLUMNS))
    as_of = newest_timestamp(
        rel,
        store.read_table("transactions", ["occurred_at"]),
        store.read_table("events", ["occurred_at"]),
    )
    g0 = build_interaction_graph(store.customer_ids(), rel, as_of=as_of)
    del rel
    src, dst, w = edge_arrays(g0.graph)
    n = g0.n
    gds.drop_graphs([G_NAT, G_UND])
    gds.remove_weighted()
    node_of = {customer_id: node for node, customer_id in gds.customer_nodes()}
    node_ids = np.asarray([node_of[c] for c in g0.ids.tolist()], dtype=np.int64)
    gds.write_weighted(node_ids[src], node_ids[dst], w)
    out["setup_s"] = round(time.perf_counter() - t, 2)
    out["graph"] = {
        "customers": n,
        "edges_directed": int(g0.graph.ecount()),
        "edges_undirected": int(g0.undirected().ecount()),
        "relations": int(g0.stats["relations_used"]),
        "as_of": g0.stats["as_of"],
    }
    ids0 = g0.ids
    del g0, src, dst, w, node_of, node_ids
    gc.collect()

    # --- each side `repeats` times, alternating; the fastest run of each side counts
    gds_runs: list[dict[str, float]] = []
    gx_runs: list[dict[str, float]] = []
    before = after = py_before = None
    rss_gds_peak: int | None = None
    rss_gx_peak: dict[str, int] = {}
    for r in range(repeats):
        say(f"GDS side, run {r + 1}/{repeats} ({n:,} customers)")
        with PeakRss({"server": server_pid}) as rss_gds:
            before = before or rss_gds.now().get("server")
            gds_times, gds_out, gds_ids, gds_info = gds_side(
                gds, n_expected=n, seed=seed, concurrency=concurrency
            )
            gds.drop_graphs([G_NAT, G_UND])
        after = PeakRss({"server": server_pid}).now().get("server")
        if rss_gds.peak.get("server") is not None:
            rss_gds_peak = max(rss_gds_peak or 0, rss_gds.peak["server"])
        gds_runs.append(gds_times)
        if not np.array_equal(gds_ids, ids0):
            raise RuntimeError("GDS and guanxi see different customer sets")

        say(f"guanxi side, run {r + 1}/{repeats} ({n:,} customers)")
        g = gx_out = None
        gc.collect()
        with PeakRss({"python": me, "server": server_pid}) as rss_gx:
            py_before = py_before or rss_gx.now().get("python")
            gx_times, gx_out, (g, gx_info) = guanxi_side(store, as_of=as_of, seed=seed)
        for k, v in rss_gx.peak.items():
            rss_gx_peak[k] = max(rss_gx_peak.get(k, 0), v)
        gx_runs.append(gx_times)
    out["gds_info"] = gds_info
    gds_times = min(gds_runs, key=lambda t: sum(t.values()))
    gx_times = min(gx_runs, key=lambda t: sum(t[m] for m in MEASURES))
    out["runs"] = {
        "repeats": repeats,
        "gds_total_s": [round(sum(t.values()), 3) for t in gds_runs],
        "guanxi_total_s": [round(sum(t[m] for m in MEASURES), 3) for t in gx_runs],
        "gds_first_s": {k: round(v, 3) for k, v in gds_runs[0].items()},
        "guanxi_first_s": {k: round(v, 3) for k, v in gx_runs[0].items()},
    }

    # --- the full analyze, for reference
    if full_analyze:
        from api import usecases

        say("guanxi full analyze (all metrics, tags, write-back)")
        t = time.perf_counter()
        res = usecases.analyze(store, seed=seed)
        out["guanxi_full_analyze_s"] = round(time.perf_counter() - t, 3)
        out["guanxi_full_analyze_timings_s"] = {k: round(v, 3) for k, v in res.timings.items()}
        try:
            metrics = store.read_metrics(res.run.run_id)
            influence = metrics.set_index("customer_id")["influence"]
        except Exception:  # the written run is not readable: skip this extra figure only
            influence = None
    else:
        influence = None

    # --- agreement
    und = g.undirected()
    weights = igraph_weights(und)
    mod = lambda m: float(  # noqa: E731
        und.modularity(np.asarray(m, np.int64).tolist(), weights=weights, resolution=RESOLUTION)
    )
    # GDS community ids are arbitrary node ids: renumber densely before igraph sees them
    gds_comm = np.unique(gds_out["communities"], return_inverse=True)[1]
    agreement = {
        "pagerank_spearman": spearman(gx_out["pagerank"], gds_out["pagerank"]),
        "modularity_guanxi": mod(gx_out["communities"]),
        "modularity_gds": mod(gds_comm),
        "communities_guanxi": int(np.unique(gx_out["communities"]).size),
        "communities_gds": int(np.unique(gds_comm).size),
        "top100_overlap": top_k_overlap(gx_out["pagerank"], gds_out["pagerank"]),
        "weighted_degree_max_rel_diff": float(
            np.max(
                np.abs(gx_out["weighted_degree"] - gds_out["weighted_degree"])
                / np.maximum(np.abs(gx_out["weighted_degree"]), 1e-12)
            )
        ),
        "kcore_equal_share": float(np.mean(gx_out["kcore"] == gds_out["kcore"])),
        "clustering_max_abs_diff": float(
            np.max(np.abs(gx_out["clustering"] - gds_out["clustering"]))
        ),
        "betweenness_spearman": spearman(gx_out["betweenness"], gds_out["betweenness"]),
    }
    if influence is not None:
        infl = influence.reindex(ids0).to_numpy(dtype=np.float64)
        agreement["top100_overlap_gds_pagerank_vs_guanxi_influence"] = top_k_overlap(
            np.nan_to_num(infl, nan=-np.inf), gds_out["pagerank"]
        )

    gx_total = sum(gx_times[m] for m in MEASURES)
    gds_total = sum(gds_times.values())
    out.update(
        {
            "guanxi_total_s": round(gx_total, 3),
            "gds_total_s": round(gds_total, 3),
            "ratio": round(gx_total / gds_total, 3) if gds_total else None,
            "pagerank_spearman": round(agreement["pagerank_spearman"], 6),
            "modularity_guanxi": round(agreement["modularity_guanxi"], 6),
            "modularity_gds": round(agreement["modularity_gds"], 6),
            "top100_overlap": round(agreement["top100_overlap"], 3),
            "guanxi_s": {k: round(v, 3) for k, v in gx_times.items()},
            "gds_s": {k: round(v, 3) for k, v in gds_times.items()},
            "agreement": {
                k: (round(v, 6) if isinstance(v, float) else v) for k, v in agreement.items()
            },
            "guanxi_info": gx_info,
            "memory_mb": {
                "server_rss_before_gds": mb(before),
                "server_rss_peak_gds": mb(rss_gds_peak),
                "server_rss_after_gds": mb(after),
                "server_rss_peak_guanxi": mb(rss_gx_peak.get("server")),
                "python_rss_before_guanxi": mb(py_before),
                "python_rss_peak_guanxi": mb(rss_gx_peak.get("python")),
                "gds_graphs": gds_info.get("graph_size_mb"),
            },
        }
    )
    return out
