"""One analysis run: every metric, the communities and the influence score (pure).

This module only orchestrates: it calls the metric functions in an order that builds
each shared input once (the undirected view, PageRank, the communities), times every
stage, and translates vertex indices into customer ids, so nothing outside ``graph``
ever sees an igraph index.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from graph.build import InteractionGraph
from graph.centrality import (
    betweenness_chunks,
    betweenness_mode,
    betweenness_partial,
    betweenness_precision,
    clustering_coefficients,
    combine_betweenness,
    constraint_scores,
    coreness_values,
    degree_columns,
    exact_reach_mask,
    neighbor_community_counts,
    neighbour_csr,
    pagerank_scores,
    reach_2hop,
    two_step_walks,
)
from graph.communities import (
    community_input_fingerprint,
    community_labels,
    community_stats,
    leiden_communities,
)
from graph.influence import grouped_percentile_ranks, influence_scores
from graph.lineage import (
    EVENTS,
    PreviousPartition,
    initial_membership,
    lineage_events,
    match_communities,
    previous_labels,
)
from graph.model import METRIC_COLUMNS as METRIC_NAMES
from graph.parallel import (
    StagePeaks,
    available_memory_mb,
    peak_rss_mb,
    release_memory,
    reset_peak_rss,
    run_tasks,
)
from graph.params import AnalysisParams
from graph.referral import referral_columns

__all__ = ["COMMUNITY_COLUMNS", "METRIC_COLUMNS", "AnalysisResult", "analyze_graph"]

#: Columns of :attr:`AnalysisResult.metrics`, in order.
METRIC_COLUMNS: tuple[str, ...] = ("customer_id", "community_id", *METRIC_NAMES)

#: Columns of :attr:`AnalysisResult.communities`, in order.
COMMUNITY_COLUMNS: tuple[str, ...] = (
    "community_id",
    "size",
    "density",
    "internal_weight",
    "external_weight",
    "leader_id",
    "leader_pagerank",
)

#: The metric families whose own arrays grow with the ties and are large beside the shared
#: graph; when two of them would not fit the memory available, they run one at a time.
HEAVY_FAMILIES: tuple[str, ...] = ("communities", "constraint", "reach_2hop")

#: Bytes per undirected tie a heavy family may allocate beyond the shared graph (Burt's
#: constraint, the largest: its per-tie shares, triangle terms and sorted index arrays).
HEAVY_BYTES_PER_TIE = 160

_STAGES: tuple[str, ...] = (
    "undirected",
    "degree",
    "pagerank",
    "communities",
    "coreness",
    "clustering",
    "constraint",
    "reach_2hop",
    "betweenness",
    "referral",
    "influence",
)


@dataclass
class AnalysisResult:
    """Metrics per customer, statistics per community, and how the run went.

    Attributes
    ----------
    metrics
        One row per customer, columns :data:`METRIC_COLUMNS`, ordered by customer id.
    communities
        One row per community, columns :data:`COMMUNITY_COLUMNS`, largest first.
    stats
        JSON-friendly run facts: sizes, modularity, methods and seeds, the build's
        row counts (``relations_*``) and ``timings`` (seconds per stage).
    lineage
        What happened to the previous run's communities
        (:data:`graph.lineage.LINEAGE_COLUMNS`); all births on a first run.
    peak_rss_mb
        Each stage's peak resident memory in MB (:mod:`graph.parallel`): a metric
        family's is that of the process it ran in, ``families`` this process's while
        they ran. Not in ``stats``, which describe the run and repeat exactly.
    """

    metrics: pd.DataFrame
    communities: pd.DataFrame
    stats: dict[str, Any] = field(default_factory=dict)
    lineage: pd.DataFrame | None = None
    peak_rss_mb: dict[str, float | None] = field(default_factory=dict)


def analyze_graph(
    g: InteractionGraph,
    params: AnalysisParams,
    *,
    progress: Callable[[str, float], None] | None = None,
    previous: PreviousPartition | None = None,
    workers: int = 1,
) -> AnalysisResult:
    """Compute every customer metric, the communities and the influence score.

    Parameters
    ----------
    g
        The graph from :func:`graph.build.build_interaction_graph`. Its build-time
        parameters (type weights, half-life, as-of) are those the caller passed
        there; ``params`` should hold the same so the stored run describes itself.
    params
        Algorithm parameters; ``params.seed`` drives every randomised step, so the
        same graph and parameters give identical results.
    progress
        Called as ``progress(stage, fraction_done)`` after each stage, for progress
        bars; fraction is in (0, 1] and reaches 1 at the end.
    previous
        The previous complete run's communities: Leiden starts from them and the new
        communities are matched to them, so a matched community keeps its id
        (:mod:`graph.lineage`). ``None`` (a first run) numbers them by size.
    workers
        Processes the independent metric families run on (:mod:`graph.parallel`); the
        numbers are the same for every value, 1 runs them one after another here.

    Returns
    -------
    AnalysisResult

    Raises
    ------
    ConfigError
        If the influence weights name a metric that is not computed.

    Notes
    -----
    Metrics on the undirected view, the betweenness mode and the reach estimate are
    described in :mod:`graph.centrality`. At 1M customers / 10M ties on two cores the
    run takes minutes, dominated by Leiden and the sampled betweenness.
    """
    timings: dict[str, float] = {}
    peaks = StagePeaks()
    clock = time.perf_counter()
    done = 0
    reset_peak_rss()

    def finished(stage: str) -> None:
        nonlocal clock, done
        now = time.perf_counter()
        timings[stage] = round(now - clock, 3)
        peaks.add(stage, peak_rss_mb())
        reset_peak_rss()
        clock = now
        done += 1
        if progress is not None:
            progress(stage, done / len(_STAGES))

    seed = params.seed
    und = g.undirected()
    finished("undirected")
    cols: dict[str, np.ndarray] = degree_columns(g.graph, undirected=und)
    finished("degree")
    # here, not in a worker: igraph's PageRank uses OpenMP, which a forked child must not
    pagerank = pagerank_scores(g.graph, damping=params.damping)
    g.release_graph()  # the families read the undirected view only
    finished("pagerank")
    neighbour_csr(und)  # built once here, shared by betweenness and reach in the workers
    chunks = betweenness_chunks(
        g.n,
        exact_max_vertices=params.exact_betweenness_max_vertices,
        samples=params.betweenness_samples,
        seed=seed,
    )
    fingerprint = community_input_fingerprint(
        und,
        g.ids,
        {
            "resolution": params.resolution,
            "objective": params.community_objective,
            "iterations": params.leiden_iterations,
            "seed": seed,
        },
    )
    # the same graph and parameters as the previous run: keep its partition (zero passes)
    unchanged = previous is not None and previous.fingerprint == fingerprint
    tasks: dict[str, Callable[[], Any]] = {
        **{
            f"betweenness:{i}": (lambda c=c: betweenness_partial(und, c))
            for i, c in enumerate(chunks)
        },
        "communities": lambda: leiden_communities(
            und,
            resolution=params.resolution,
            iterations=0 if unchanged else params.leiden_iterations,
            seed=seed,
            initial=None if previous is None else initial_membership(g.ids, previous),
            objective=params.community_objective,
        ),
        "reach_2hop": lambda: reach_2hop(
            und,
            exact_walk_budget=params.reach_exact_walk_budget,
            sketch_size=params.reach_sketch_size,
            seed=seed,
        ),
        "constraint": lambda: constraint_scores(und),
        "referral": lambda: referral_columns(g.referral),
        "clustering": lambda: clustering_coefficients(und),
        "coreness": lambda: coreness_values(und),
    }
    wall = time.perf_counter()
    chunks_done = 0

    def task_done(name: str, seconds: float) -> None:
        nonlocal done, chunks_done
        stage = name.split(":")[0]
        timings[stage] = round(timings.get(stage, 0.0) + seconds, 3)
        if stage == "betweenness":
            chunks_done += 1
            if chunks_done < len(chunks):
                return
        done += 1
        if progress is not None:
            progress(stage, done / len(_STAGES))

    task_peaks: dict[str, float | None] = {}
    release_memory()  # before the fork: the workers start from what this process holds
    with peaks.stage("families"):
        got = run_tasks(
            tasks,
            workers=max(1, workers),
            done=task_done,
            peaks=task_peaks,
            exclusive=_exclusive_families(und.ecount(), workers),
        )
    timings["families_wall"] = round(time.perf_counter() - wall, 3)
    for name, mb in task_peaks.items():
        peaks.add(name.split(":")[0], mb)
    reset_peak_rss()
    clock = time.perf_counter()
    comms = got["communities"]
    for name in ("coreness", "clustering", "constraint", "reach_2hop"):
        cols[name] = got[name]
    partials = [got[f"betweenness:{i}"] for i in range(len(chunks))]
    cols["betweenness"] = combine_betweenness(g.n, chunks, partials)
    betweenness_rse = betweenness_precision(chunks, partials, cols["betweenness"])
    del partials
    cols.update(got["referral"])

    membership = comms.membership
    cols["pagerank"] = pagerank
    cols["neighbor_communities"] = neighbor_community_counts(und, membership)
    cols["community_pagerank_pct"] = grouped_percentile_ranks(pagerank, membership)
    cols["influence"] = influence_scores(cols, weights=params.influence_weights)
    names, lineage, next_number = _stable_names(g, membership, previous, params)
    labels = names[membership] if membership.size else np.empty(0, dtype=object)
    metrics = pd.DataFrame(
        {"customer_id": pd.array(g.ids, dtype="str"), "community_id": pd.array(labels, dtype="str")}
        | {name: cols[name] for name in METRIC_COLUMNS[2:]}
    )
    per_comm = community_stats(und, membership, pagerank=pagerank)
    communities = pd.DataFrame(
        {
            "community_id": pd.array(names[per_comm["community"].to_numpy()], dtype="str"),
            "size": per_comm["size"],
            "density": per_comm["density"],
            "internal_weight": per_comm["internal_weight"],
            "external_weight": per_comm["external_weight"],
            "leader_id": pd.array(g.ids[per_comm["leader_vertex"].to_numpy()], dtype="str"),
            "leader_pagerank": per_comm["leader_pagerank"],
        }
    )
    finished("influence")

    walks, deg = two_step_walks(und)
    exact_reach = exact_reach_mask(walks, deg, exact_walk_budget=params.reach_exact_walk_budget)
    n_sketched = int(np.sum(~exact_reach & (deg > 0)))
    bmode = betweenness_mode(und, exact_max_vertices=params.exact_betweenness_max_vertices)
    stats: dict[str, Any] = {
        "n_vertices": g.n,
        "n_edges": g.edge_count,
        "n_edges_undirected": int(und.ecount()),
        "n_referral_edges": int(g.referral.ecount()),
        "n_communities": comms.count,
        "modularity": comms.modularity,
        "method": comms.method,
        "community_params": dict(comms.params),
        "community_previous_run": None if previous is None else previous.run_id,
        "community_next_number": next_number,
        "community_fingerprint": fingerprint,
        "community_lineage": lineage["event"]
        .value_counts()
        .reindex(EVENTS, fill_value=0)
        .astype(int)
        .to_dict(),
        "seed": seed,
        "betweenness_mode": bmode,
        "betweenness_samples": min(params.betweenness_samples, g.n) if bmode == "sampled" else None,
        "betweenness_seed": seed if bmode == "sampled" else None,
        # median relative standard error of the estimate over its top 1% of customers
        "betweenness_relative_se": betweenness_rse,
        "reach_sketched": n_sketched,
        "relations_dropped": int(
            g.stats.get("relations_dropped_unknown_id", 0)
            + g.stats.get("relations_dropped_self_loop", 0)
        ),
        **{k: v for k, v in g.stats.items()},
        "params": params.to_dict(),
        "timings": timings,
    }
    return AnalysisResult(
        metrics=metrics,
        communities=communities,
        stats=stats,
        lineage=lineage,
        peak_rss_mb=peaks.mb,
    )


def _exclusive_families(ties: int, workers: int) -> tuple[str, ...]:
    """:data:`HEAVY_FAMILIES` when two of them would not fit what memory is available."""
    available = available_memory_mb()
    need = 2 * HEAVY_BYTES_PER_TIE * ties / 2**20
    if workers > 1 and available is not None and need > available:
        return HEAVY_FAMILIES
    return ()


def _stable_names(
    g: InteractionGraph,
    membership: np.ndarray,
    previous: PreviousPartition | None,
    params: AnalysisParams,
) -> tuple[np.ndarray, pd.DataFrame, int]:
    """Community id per community index, the lineage, and the next unused number."""
    threshold = params.community_match_threshold
    if previous is None:
        k = int(membership.max() + 1) if membership.size else 0
        names = community_labels(np.arange(k))
        none = np.full(membership.size, None, dtype=object)
        labels = names[membership] if membership.size else none
        return names, lineage_events(none, labels, threshold=threshold), k
    m = match_communities(
        previous_labels(g.ids, previous),
        membership,
        threshold=threshold,
        next_number=previous.next_number,
    )
    return m.labels, m.lineage, m.next_number
