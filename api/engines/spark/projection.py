"""The weighted projection in Spark SQL: the local engine's graph build, as DataFrames.

Same rule as :func:`graph.build.build_interaction_graph`: one relation row weighs
``type_weight * count * 0.5 ** (age_days / half_life_days)`` with the age measured from the
run's reference time and clipped at 0 (undated rows count as fresh), rows whose src or dst is
not a customer and self-loops are dropped and counted, and rows are summed per ordered pair.
Customers are numbered 0..n-1 in ascending id order, as the local engine numbers its
vertices, so ties broken "by the lower vertex" agree between the engines.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from graph.build import (
    _LN2,
    DECAY_FLOOR,
    DECAY_TERMS,
    DEFAULT_TYPE_WEIGHTS,
    UNLISTED_TYPE_WEIGHT,
)
from graph.errors import ConfigError

__all__ = ["SparkGraph", "cut", "newest_timestamp", "ordered_sum", "project_tables"]

_US_PER_DAY = 86_400_000_000


@dataclass(frozen=True)
class SparkGraph:
    """The run's graph as DataFrames (the Spark engine's :attr:`Projection.graph`).

    Attributes
    ----------
    vertices
        ``vid`` (long), ``customer_id``: every customer, numbered by ascending id.
    edges
        Directed collapsed ties: ``src``, ``dst`` (vids), ``weight`` (summed decayed type
        weights), ``interactions`` (summed counts); one row per ordered pair.
    undirected
        The undirected simple view: ``lo`` < ``hi``, ``weight`` and ``interactions`` summed
        over both directions.
    referral
        Referral ties: ``src`` (referrer), ``dst`` (referred), ``weight`` (referral
        interactions, undecayed: a referral is a fact, not a fading tie).
    stats
        The build's row counts, ``as_of`` (ISO) and ``half_life_days``, as the local build.
    """

    vertices: Any
    edges: Any
    undirected: Any
    referral: Any
    stats: dict[str, Any] = field(default_factory=dict)


def cut(df: Any) -> Any:
    """``df`` computed once and its plan cut (a checkpoint, or a cache without a folder).

    Why: every stage joins the outputs of earlier ones, and a plan that carries validation,
    projection and each stage's own plan grows until the driver spends its heap printing it;
    a checkpoint makes the next stage start from the stored rows. In local mode the
    executors are threads of the driver's JVM, so a local checkpoint (rows kept by the block
    manager, spilled to its disk) loses nothing a reliable one would keep and spares writing
    and reading every cut through the file system.
    """
    sc = df.sparkSession.sparkContext
    if sc.master.startswith("local"):
        return df.localCheckpoint(eager=True)
    if sc.getCheckpointDir():
        return df.checkpoint(eager=True)
    return df.cache()


def ordered_sum(value: str, by: str | None = None) -> Any:
    """An aggregate adding a group's ``value`` one by one, ordered by ``by`` (None: by value).

    Why: a floating-point sum depends on its order and Spark's ``sum`` adds in whatever
    order the partitions arrive; the local engine adds a pair's weights left to right in
    ascending order (:func:`graph.build._collapse`) and a vertex's strengths in edge order
    (``np.bincount`` over edges sorted by (src, dst)), and this fold does the same, so the
    engines agree to the bit. A group holds one pair's rows or one vertex's edges: small.
    """
    from pyspark.sql import functions as F

    if by is None:
        items = F.array_sort(F.collect_list(F.col(value)))
        return F.aggregate(items, F.lit(0.0), lambda acc, x: acc + x)
    items = F.array_sort(F.collect_list(F.struct(F.col(by).alias("k"), F.col(value).alias("v"))))
    return F.aggregate(items, F.lit(0.0), lambda acc, x: acc + x["v"])


def decay_column(x: Any) -> Any:
    """:func:`graph.build.decay` (``2 ** x``, ``x <= 0``) as a Column: the same operations.

    ``pow(2, k)`` of an integer ``k`` is exact (Java's ``Math.pow`` contract), so the
    product rounds once, as ``np.ldexp`` does.
    """
    from pyspark.sql import functions as F

    k = F.floor(x).cast("double")
    y = (x - k) * F.lit(_LN2)
    p = F.lit(1.0)
    for i in range(DECAY_TERMS, 0, -1):
        p = F.lit(1.0) + y * p / F.lit(float(i))
    scaled = p * F.pow(F.lit(2.0), F.greatest(k, F.lit(DECAY_FLOOR - 1)))
    return F.when(x < F.lit(DECAY_FLOOR), F.lit(0.0)).otherwise(scaled)


def newest_timestamp(*frames: Any) -> datetime | None:
    """The newest ``occurred_at`` over DataFrames (one aggregate each), None when all are empty.

    The run's reference time when none is given, as :func:`graph.build.newest_timestamp`.
    """
    from pyspark.sql import functions as F

    stamps = []
    for df in frames:
        value = df.select(F.max(F.col("occurred_at").cast("timestamp")).alias("m")).first()["m"]
        if value is not None:
            stamps.append(value.replace(tzinfo=None) if value.tzinfo else value)
    return max(stamps) if stamps else None


def _as_of_us(as_of: datetime) -> int:
    stamp = as_of.astimezone(UTC).replace(tzinfo=None) if as_of.tzinfo else as_of
    return (stamp - datetime(1970, 1, 1)) // _microsecond


_microsecond = datetime(1970, 1, 1, 0, 0, 0, 1) - datetime(1970, 1, 1)


def project_tables(
    spark: Any,
    customers: Any,
    relations: Any,
    *,
    type_weights: Mapping[str, float] | None = None,
    half_life_days: float = 180.0,
    as_of: datetime,
) -> SparkGraph:
    """Project customers and relations into a :class:`SparkGraph` (distributed; lazy).

    Parameters
    ----------
    spark
        The session.
    customers
        DataFrame with ``customer_id``.
    relations
        DataFrame with ``src_id``, ``dst_id``, ``type``, ``occurred_at`` and optionally
        ``count`` (null or absent: 1).
    type_weights
        Merged over :data:`graph.build.DEFAULT_TYPE_WEIGHTS`; unlisted types weigh
        :data:`graph.build.UNLISTED_TYPE_WEIGHT`.
    half_life_days
        Age at which an interaction counts half.
    as_of
        The run's reference time (naive: UTC).

    Returns
    -------
    SparkGraph
        Its DataFrames are computed and cut (:func:`cut`); ``stats`` costs one aggregate.

    Raises
    ------
    ConfigError
        A parameter is invalid or ``relations`` lacks a required column.
    """
    import math

    from pyspark.sql import functions as F

    from api.engines.spark.graph_stages import index_ids

    if not (half_life_days > 0 and math.isfinite(half_life_days)):
        raise ConfigError(f"half_life_days {half_life_days!r} must be a positive number")
    weights = {**DEFAULT_TYPE_WEIGHTS, **(type_weights or {})}
    bad = {k: v for k, v in weights.items() if not (math.isfinite(v) and v >= 0)}
    if bad:
        raise ConfigError(f"type_weights {bad!r} must be finite and >= 0")
    missing = [c for c in ("src_id", "dst_id", "type", "occurred_at") if c not in relations.columns]
    if missing:
        raise ConfigError(f"relations table lacks column(s) {missing!r}")

    vertices = cut(index_ids(spark, customers))
    weight_map = F.create_map(*[x for k, v in weights.items() for x in (F.lit(k), F.lit(float(v)))])
    count = F.col("count") if "count" in relations.columns else F.lit(None)
    ts = F.col("occurred_at").cast("timestamp")
    age_days = F.greatest(
        (F.lit(_as_of_us(as_of)) - F.unix_micros(ts)) / F.lit(_US_PER_DAY), F.lit(0.0)
    )
    rows = relations.select(
        F.col("src_id").cast("string").alias("src_id"),
        F.col("dst_id").cast("string").alias("dst_id"),
        F.col("type").cast("string").alias("type"),
        F.coalesce(count.cast("long"), F.lit(1)).alias("n"),
        F.coalesce(age_days, F.lit(0.0)).alias("age"),
        ts.isNull().alias("undated"),
    )
    ids_src = vertices.select(F.col("vid").alias("src"), F.col("customer_id").alias("src_id"))
    ids_dst = vertices.select(F.col("vid").alias("dst"), F.col("customer_id").alias("dst_id"))
    joined = rows.join(ids_src, "src_id", "left").join(ids_dst, "dst_id", "left")
    type_w = F.coalesce(weight_map[F.col("type")], F.lit(UNLISTED_TYPE_WEIGHT))
    joined = joined.select(
        "src",
        "dst",
        "type",
        "n",
        "undated",
        (type_w * F.col("n") * decay_column(-F.col("age") / F.lit(float(half_life_days)))).alias(
            "w"
        ),
        (F.col("src").isNotNull() & F.col("dst").isNotNull()).alias("known"),
        weight_map[F.col("type")].isNull().alias("unlisted"),
    )
    agg = joined.select(
        F.count(F.lit(1)).alias("total"),
        F.sum((F.col("known") & (F.col("src") != F.col("dst"))).cast("long")).alias("used"),
        F.sum((~F.col("known")).cast("long")).alias("unknown"),
        F.sum((F.col("known") & (F.col("src") == F.col("dst"))).cast("long")).alias("loop"),
        F.sum(F.col("unlisted").cast("long")).alias("unlisted"),
        F.sum(F.col("undated").cast("long")).alias("undated"),
    ).first()
    kept = joined.where(F.col("known") & (F.col("src") != F.col("dst")))
    edges = cut(
        kept.groupBy("src", "dst").agg(
            ordered_sum("w").alias("weight"), F.sum("n").alias("interactions")
        )
    )
    undirected = (
        edges.select(
            F.least("src", "dst").alias("lo"),
            F.greatest("src", "dst").alias("hi"),
            "weight",
            "interactions",
        )
        .groupBy("lo", "hi")
        .agg(F.sum("weight").alias("weight"), F.sum("interactions").alias("interactions"))
    )
    undirected = cut(undirected)
    referral = (
        kept.where(F.col("type") == "referral")
        .groupBy("src", "dst")
        .agg(F.sum("n").cast("double").alias("weight"))
    )
    referral = cut(referral)
    stats = {
        "relations_total": int(agg["total"] or 0),
        "relations_used": int(agg["used"] or 0),
        "relations_dropped_unknown_id": int(agg["unknown"] or 0),
        "relations_dropped_self_loop": int(agg["loop"] or 0),
        "relations_unlisted_type": int(agg["unlisted"] or 0),
        "relations_undated": int(agg["undated"] or 0),
        "as_of": (
            as_of.astimezone(UTC).replace(tzinfo=None) if as_of.tzinfo else as_of
        ).isoformat(),
        "half_life_days": float(half_life_days),
    }
    return SparkGraph(vertices, edges, undirected, referral, stats)
