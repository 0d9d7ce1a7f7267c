"""The metrics stage on Spark: GraphX measures, the single-machine ones, communities, influence.

Where each column comes from:

* GraphX (executors): ``degree``, ``pagerank``, triangles -> ``clustering``, ``coreness``,
  connected components (counted in the run's stats), label propagation, referral trees;
* Spark SQL (executors): in/out degree and strength, ``referrals_direct``, the credited
  referrer of each customer, ``neighbor_communities``, ``community_pagerank_pct``, the
  percentiles of ``influence`` and the community table;
* igraph on the driver, only when the collapsed graph fits ``driver_budget_mb``
  (:mod:`api.engines.spark.driver_stages`): Leiden communities, ``betweenness``,
  ``constraint``, ``reach_2hop``. Otherwise those columns are null, the run's stats say which
  and why, label propagation gives the communities and the influence score is renormalised
  over the metrics that were computed.
"""

from __future__ import annotations

import time
from typing import Any

from api.engines.base import MetricsResult, Progress
from api.engines.spark import graph_stages as gx
from api.engines.spark.driver_stages import DRIVER_METRICS, driver_metrics, fits_driver
from api.engines.spark.projection import SparkGraph, cut, ordered_sum
from graph.analysis import METRIC_COLUMNS
from graph.errors import ConfigError
from graph.influence import DEFAULT_INFLUENCE_WEIGHTS
from graph.params import AnalysisParams

__all__ = ["PAGERANK_MAX_ITER", "PAGERANK_TOL", "spark_metrics"]

#: L1 change of the PageRank vector at which the power iteration stops; far below what
#: moves any customer's score by a millionth of itself.
PAGERANK_TOL = 1e-10
PAGERANK_MAX_ITER = 500
#: Rounds of label propagation (synchronous; it may oscillate, so it is capped).
LABEL_PROPAGATION_STEPS = 10


def spark_metrics(
    spark: Any,
    g: SparkGraph,
    params: AnalysisParams,
    *,
    driver_budget_mb: int,
    progress: Progress | None = None,
) -> MetricsResult:
    """Every metric column, the communities and the run's facts, as Spark DataFrames.

    Returns
    -------
    MetricsResult
        ``metrics`` (columns :data:`graph.analysis.METRIC_COLUMNS`) and ``communities`` are
        Spark DataFrames; ``stats`` is JSON-friendly and says which stages ran where.

    Raises
    ------
    ConfigError
        The influence weights name a metric that is not computed at all.
    """
    from pyspark.sql import functions as F

    timings: dict[str, float] = {}
    clock = [time.perf_counter()]
    stages = 9

    def finished(stage: str) -> None:
        now = time.perf_counter()
        timings[stage] = round(now - clock[0], 3)
        clock[0] = now
        if progress is not None:
            progress(stage, len(timings) / stages)

    v = g.vertices.select("vid")
    out_deg = g.edges.groupBy(F.col("src").alias("vid")).agg(
        F.count(F.lit(1)).alias("out_degree"), ordered_sum("weight", "dst").alias("out_strength")
    )
    in_deg = g.edges.groupBy(F.col("dst").alias("vid")).agg(
        F.count(F.lit(1)).alias("in_degree"), ordered_sum("weight", "src").alias("in_strength")
    )
    degree = gx.degrees(spark, v, g.undirected)
    base = cut(
        v.join(degree, "vid", "left")
        .join(in_deg, "vid", "left")
        .join(out_deg, "vid", "left")
        .fillna(0, ["degree", "in_degree", "out_degree"])
        .fillna(0.0, ["in_strength", "out_strength"])
    )
    finished("degree")

    pagerank, steps = gx.pagerank(
        spark, v, g.edges, damping=params.damping, tol=PAGERANK_TOL, max_iter=PAGERANK_MAX_ITER
    )
    pagerank = cut(pagerank)
    finished("pagerank")

    comp = gx.components(spark, v, g.undirected)
    comp_stats = (
        comp.groupBy("component")
        .count()
        .agg(F.count(F.lit(1)).alias("n"), F.max("count").alias("largest"))
        .first()
    )
    finished("components")

    tri = cut(gx.triangles(spark, v, g.undirected))
    core = cut(gx.coreness(spark, v, g.undirected))
    finished("clustering_coreness")

    parents = _credited_referrers(g.referral)
    trees = cut(gx.referral_trees(spark, v, parents))
    direct = cut(
        g.referral.groupBy(F.col("src").alias("vid")).agg(
            F.count(F.lit(1)).alias("referrals_direct")
        )
    )
    finished("referral")

    lp = cut(gx.label_propagation(spark, v, g.undirected, max_steps=LABEL_PROPAGATION_STEPS))
    finished("label_propagation")
    lp_modularity = modularity(g.undirected, lp.withColumnRenamed("label", "community"), params)

    left_out: dict[str, str] = {}
    fits, need_mb = fits_driver(g, driver_budget_mb)
    if fits:
        local = driver_metrics(spark, g, params)
        membership = local.select("vid", F.col("leiden").alias("community"))
        extra = local.drop("leiden")
        method = "leiden"
        leiden_modularity = modularity(g.undirected, membership, params)
    else:
        reason = (
            f"the collapsed graph needs about {need_mb} MB on the driver, over the budget of "
            f"{driver_budget_mb} MB (GUANXI_SPARK_DRIVER_BUDGET_MB)"
        )
        left_out = {name: reason for name in ("leiden", *DRIVER_METRICS)}
        membership = lp.select("vid", F.col("label").alias("community"))
        extra = v.select("vid", *[F.lit(None).cast("double").alias(c) for c in DRIVER_METRICS])
        method = "label_propagation"
        leiden_modularity = None
    extra, membership = cut(extra), cut(membership)
    finished("driver_stages")

    metrics, communities, n_comm = _assemble(
        g, params, base, pagerank, tri, core, trees, direct, extra, membership, left_out
    )
    metrics, communities = cut(metrics), cut(communities)
    finished("influence")

    stats: dict[str, Any] = {
        "n_vertices": g.vertices.count(),
        "n_edges": g.edges.count(),
        "n_edges_undirected": g.undirected.count(),
        "n_referral_edges": g.referral.count(),
        "n_components": int(comp_stats["n"] or 0),
        "largest_component": int(comp_stats["largest"] or 0),
        "n_communities": n_comm,
        "modularity": leiden_modularity if fits else lp_modularity,
        "label_propagation_modularity": lp_modularity,
        "method": method,
        "seed": params.seed,
        "pagerank_iterations": steps,
        "driver_stages": "igraph" if fits else "left out",
        "driver_estimate_mb": need_mb,
        "left_out": left_out,
        "relations_dropped": int(
            g.stats.get("relations_dropped_unknown_id", 0)
            + g.stats.get("relations_dropped_self_loop", 0)
        ),
        **g.stats,
        "params": params.to_dict(),
        "timings": timings,
    }
    return MetricsResult(metrics=metrics, communities=communities, stats=stats)


def modularity(undirected: Any, membership: Any, params: AnalysisParams) -> float:
    """Weighted modularity of a partition (``vid``, ``community``), igraph's definition.

    ``Q = sum_c (W_c / m - resolution * (S_c / 2m) ** 2)`` with ``W_c`` the weight inside
    community ``c``, ``S_c`` its members' summed strength and ``m`` the total weight: a few
    aggregates, so label propagation's partition is scored beside Leiden's on any size.
    """
    from pyspark.sql import functions as F

    lo = membership.select(F.col("vid").alias("lo"), F.col("community").alias("c_lo"))
    hi = membership.select(F.col("vid").alias("hi"), F.col("community").alias("c_hi"))
    e = undirected.join(lo, "lo").join(hi, "hi")
    total = e.agg(F.sum("weight")).first()[0] or 0.0
    if total <= 0:
        return 0.0
    inside = (
        e.where(F.col("c_lo") == F.col("c_hi"))
        .groupBy(F.col("c_lo").alias("c"))
        .agg(F.sum("weight").alias("w_in"))
    )
    ends = e.select(F.col("c_lo").alias("c"), "weight").unionByName(
        e.select(F.col("c_hi").alias("c"), "weight")
    )
    strength = ends.groupBy("c").agg(F.sum("weight").alias("s"))
    q = (
        strength.join(inside, "c", "left")
        .select(
            (
                F.coalesce(F.col("w_in"), F.lit(0.0)) / F.lit(total)
                - F.lit(params.resolution) * F.pow(F.col("s") / F.lit(2.0 * total), 2)
            ).alias("q")
        )
        .agg(F.sum("q"))
        .first()[0]
    )
    return float(q or 0.0)


def _credited_referrers(referral: Any) -> Any:
    """``child``, ``parent``: per referred customer the referrer with the most referral
    interactions, ties to the lower vertex, as :func:`graph.referral.referral_parents`."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    w = Window.partitionBy("dst").orderBy(F.col("weight").desc(), F.col("src").asc())
    return (
        referral.withColumn("r", F.row_number().over(w))
        .where(F.col("r") == 1)
        .select(F.col("dst").alias("child"), F.col("src").alias("parent"))
    )


def _assemble(
    g: SparkGraph,
    params: AnalysisParams,
    base: Any,
    pagerank: Any,
    tri: Any,
    core: Any,
    trees: Any,
    direct: Any,
    extra: Any,
    membership: Any,
    left_out: dict[str, str],
) -> tuple[Any, Any, int]:
    """The metrics and community tables from the stage outputs (all joins on ``vid``)."""
    from pyspark.sql import functions as F

    spark = g.vertices.sparkSession
    labelled, n_comm = _community_labels(spark, membership)
    labelled = cut(labelled)
    m = (
        g.vertices.join(base, "vid")
        .join(pagerank, "vid")
        .join(tri, "vid", "left")
        .join(core, "vid", "left")
        .join(trees, "vid", "left")
        .join(direct, "vid", "left")
        .join(extra, "vid", "left")
        .join(labelled, "vid")
        .fillna(0, ["triangles", "coreness", "referral_downstream", "referral_depth"])
        .fillna(0, ["referrals_direct"])
    )
    d = F.col("degree").cast("double")
    m = m.withColumn(
        "clustering",
        F.when(F.col("degree") >= 2, F.col("triangles") / d / (d - 1) * 2).otherwise(0.0),
    )
    m = cut(m)
    m = m.join(_neighbor_communities(g.undirected, labelled), "vid", "left").fillna(
        0, ["neighbor_communities"]
    )
    m = cut(m.join(_grouped_pct(m), "vid"))
    weights = dict(params.influence_weights or DEFAULT_INFLUENCE_WEIGHTS)
    used = {k: w for k, w in weights.items() if w > 0 and k not in left_out}
    missing = sorted(k for k in used if k not in m.columns)
    if missing or not used:
        raise ConfigError(f"influence weights name metric(s) {missing!r} that were not computed")
    total = sum(used.values())
    score = F.lit(0.0)
    for name, w in used.items():
        m = cut(m.join(_percentile(spark, m, name), "vid"))
        score = score + F.lit(w / total) * F.col(f"_pct_{name}")
    m = m.withColumn("influence", score)
    metrics = m.select(
        "customer_id",
        "community_id",
        *[F.col(c).cast("double" if c in _FLOATS else "long").alias(c) for c in METRIC_COLUMNS[2:]],
    )
    return metrics, _community_table(g, m), n_comm


_FLOATS = {
    "in_strength",
    "out_strength",
    "pagerank",
    "betweenness",
    "clustering",
    "constraint",
    "reach_2hop",
    "community_pagerank_pct",
    "influence",
}


def _community_labels(spark: Any, membership: Any) -> tuple[Any, int]:
    """``vid``, ``community``, ``community_id``: communities numbered by size, then lowest vid."""
    from pyspark.sql import functions as F

    per = membership.groupBy("community").agg(
        (-F.count(F.lit(1))).alias("neg_size"), F.min("vid").alias("first")
    )
    ranked = gx.positions(spark, per, ["neg_size", "first"])
    n = ranked.count()
    width = max(4, len(str(max(n - 1, 0))))
    names = ranked.select(
        "community",
        F.concat(F.lit("c"), F.lpad(F.col("idx").cast("string"), width, "0")).alias("community_id"),
    )
    return membership.join(names, "community"), int(n)


def _neighbor_communities(undirected: Any, labelled: Any) -> Any:
    """``vid``, ``neighbor_communities``: distinct other communities among the contacts."""
    from pyspark.sql import functions as F

    pairs = undirected.select(F.col("lo").alias("a"), F.col("hi").alias("b")).unionByName(
        undirected.select(F.col("hi").alias("a"), F.col("lo").alias("b"))
    )
    c = labelled.select("vid", "community")
    j = pairs.join(c.withColumnRenamed("vid", "a").withColumnRenamed("community", "ca"), "a").join(
        c.withColumnRenamed("vid", "b").withColumnRenamed("community", "cb"), "b"
    )
    return (
        j.where(F.col("ca") != F.col("cb"))
        .groupBy(F.col("a").alias("vid"))
        .agg(F.countDistinct("cb").alias("neighbor_communities"))
    )


def _grouped_pct(m: Any) -> Any:
    """``vid``, ``community_pagerank_pct``: share of the community's others with lower PageRank.

    A window partitioned by community (distributed), ties sharing the lower rank and a
    customer alone in their community getting 0, as
    :func:`graph.influence.grouped_percentile_ranks`.
    """
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    w = Window.partitionBy("community").orderBy("pagerank")
    size = F.count(F.lit(1)).over(Window.partitionBy("community"))
    pct = F.when(size > 1, 100.0 * (F.rank().over(w) - 1) / (size - 1)).otherwise(0.0)
    return m.select("vid", pct.alias("community_pagerank_pct"))


def _percentile(spark: Any, m: Any, name: str) -> Any:
    """``vid``, ``_pct_<name>``: share of the other customers strictly below, in percent.

    A distributed sort gives each row a position; the first position of each value is the
    number of customers strictly below it (ties share the lower rank, null counts as the
    lowest), as :func:`graph.influence.percentile_ranks`.
    """
    from pyspark.sql import functions as F

    n = m.count()
    vals = m.select("vid", F.coalesce(F.col(name).cast("double"), F.lit(float("-inf"))).alias("v"))
    pos = gx.positions(spark, vals, ["v"])
    below = pos.groupBy("v").agg(F.min("idx").alias("below"))
    pct = (100.0 * F.col("below") / F.lit(max(n - 1, 1))) if n > 1 else F.lit(0.0)
    return pos.join(below, "v").select("vid", pct.alias(f"_pct_{name}"))


def _community_table(g: SparkGraph, m: Any) -> Any:
    """Size, density, internal and external weight and leader of each community."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    c = m.select("vid", "community_id", "customer_id", "pagerank")
    lo = c.select(F.col("vid").alias("lo"), F.col("community_id").alias("c_lo"))
    hi = c.select(F.col("vid").alias("hi"), F.col("community_id").alias("c_hi"))
    e = g.undirected.join(lo, "lo").join(hi, "hi")
    inside = (
        e.where(F.col("c_lo") == F.col("c_hi"))
        .groupBy(F.col("c_lo").alias("community_id"))
        .agg(F.count(F.lit(1)).alias("internal_edges"), F.sum("weight").alias("internal_weight"))
    )
    cross = e.where(F.col("c_lo") != F.col("c_hi"))
    external = (
        cross.select(F.col("c_lo").alias("community_id"), "weight")
        .unionByName(cross.select(F.col("c_hi").alias("community_id"), "weight"))
        .groupBy("community_id")
        .agg(F.sum("weight").alias("external_weight"))
    )
    w = Window.partitionBy("community_id").orderBy(F.col("pagerank").desc(), F.col("vid").asc())
    leaders = (
        c.withColumn("r", F.row_number().over(w))
        .where(F.col("r") == 1)
        .select(
            "community_id",
            F.col("customer_id").alias("leader_id"),
            F.col("pagerank").alias("leader_pagerank"),
        )
    )
    size = c.groupBy("community_id").agg(F.count(F.lit(1)).alias("size"))
    t = (
        size.join(inside, "community_id", "left")
        .join(external, "community_id", "left")
        .join(leaders, "community_id")
        .fillna(0, ["internal_edges"])
        .fillna(0.0, ["internal_weight", "external_weight"])
    )
    pairs = F.col("size") * (F.col("size") - 1) / 2
    return t.select(
        "community_id",
        F.col("size").cast("long"),
        F.when(pairs > 0, F.col("internal_edges") / pairs).otherwise(0.0).alias("density"),
        F.col("internal_weight").cast("double"),
        F.col("external_weight").cast("double"),
        "leader_id",
        "leader_pagerank",
    )
