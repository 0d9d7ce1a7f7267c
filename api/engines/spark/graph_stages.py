"""Python side of the GraphX stages: DataFrames to the JVM module and back, through py4j.

Each function hands the JVM DataFrames (``df._jdf``) to ``guanxi.graphx.Stages`` (the Scala
module in api/engines/spark/graphx) and wraps what comes back; nothing but counts and
iteration numbers reaches this process. The session must have been started with the module's
jar (:func:`api.engines.spark.session.start_session` ``jars=``).
"""

from __future__ import annotations

from typing import Any

from graph.errors import ConfigError

__all__ = [
    "components",
    "coreness",
    "degrees",
    "index_ids",
    "label_propagation",
    "pagerank",
    "positions",
    "referral_trees",
    "triangles",
]


def _stages(spark: Any) -> Any:
    """The Scala object, or a ConfigError saying the session lacks the GraphX jar."""
    from py4j.java_gateway import JavaPackage

    stages = spark._jvm.guanxi.graphx.Stages
    if isinstance(stages, JavaPackage):  # py4j's answer for a class it cannot find
        raise ConfigError(
            "the Spark session has no guanxi GraphX classes; start it with "
            "api.engines.spark.start_session(jars=[build_jar(...)]) (spark.jars)"
        )
    return stages


def _df(spark: Any, jdf: Any) -> Any:
    from pyspark.sql import DataFrame

    return DataFrame(jdf, spark)


def positions(spark: Any, df: Any, order_by: list[str]) -> Any:
    """``df`` plus ``idx``: each row's position in the order of ``order_by`` (distributed)."""
    return _df(spark, _stages(spark).positions(df._jdf, ",".join(order_by)))


def index_ids(spark: Any, customers: Any) -> Any:
    """``vid``, ``customer_id``: distinct ids numbered 0..n-1 in ascending order."""
    return _df(spark, _stages(spark).indexIds(customers._jdf))


def degrees(spark: Any, vertices: Any, undirected: Any) -> Any:
    """``vid``, ``degree``: distinct neighbours in either direction."""
    return _df(spark, _stages(spark).degrees(vertices._jdf, undirected._jdf))


def pagerank(
    spark: Any,
    vertices: Any,
    edges: Any,
    *,
    damping: float,
    tol: float,
    max_iter: int,
) -> tuple[Any, int]:
    """``vid``, ``pagerank`` (weighted, dangling rank spread uniformly) and the steps taken.

    Iterates until the L1 change is below ``tol``. Set a checkpoint folder on the context
    first (``spark.sparkContext.setCheckpointDir``): every 10 steps the graph is checkpointed
    there, or the lineage each step schedules keeps growing.
    """
    out = _stages(spark).pagerank(
        vertices._jdf, edges._jdf, float(damping), float(tol), int(max_iter)
    )
    return _df(spark, out._1()), int(out._2())


def components(spark: Any, vertices: Any, undirected: Any) -> Any:
    """``vid``, ``component``: the lowest vid of the vertex's connected component."""
    return _df(spark, _stages(spark).components(vertices._jdf, undirected._jdf))


def label_propagation(spark: Any, vertices: Any, undirected: Any, *, max_steps: int) -> Any:
    """``vid``, ``label``: label propagation communities after ``max_steps`` rounds (on GraphX,
    ties to the smallest label, so the same graph always gives the same labels)."""
    return _df(spark, _stages(spark).labelPropagation(vertices._jdf, undirected._jdf, max_steps))


def triangles(spark: Any, vertices: Any, undirected: Any) -> Any:
    """``vid``, ``triangles``: triangles through each vertex of the undirected view."""
    return _df(spark, _stages(spark).triangles(vertices._jdf, undirected._jdf))


def coreness(spark: Any, vertices: Any, undirected: Any) -> Any:
    """``vid``, ``coreness``: k-core number (Pregel h-index iteration)."""
    return _df(spark, _stages(spark).coreness(vertices._jdf, undirected._jdf))


def referral_trees(spark: Any, vertices: Any, parents: Any) -> Any:
    """``vid``, ``referral_downstream``, ``referral_depth`` of the credit forest ``parents``.

    ``parents``: ``child``, ``parent`` (one credited referrer per referred customer); cycles
    are cut in the JVM as :func:`graph.referral.referral_parents` cuts them.
    """
    return _df(spark, _stages(spark).referralTrees(vertices._jdf, parents._jdf))
