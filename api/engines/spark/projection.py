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

from graph.build import DEFAULT_TYPE_WEIGHTS, UNLISTED_TYPE_WEIGHT
from graph.errors import ConfigError

__all__ = ["SparkGraph", "cut", "newest_timestamp", "project_tables"]

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
    a checkpoint makes the next stage start from the stored rows.
    """
    if df.sparkSession.sparkContext.getCheckpointDir():
        return df.checkpoint(eager=True)
    return df.cache()


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
        (
            type_w * F.col("n") * F.pow(F.lit(2.0), -F.col("age") / F.lit(float(half_life_days)))
        ).alias("w"),
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
        kept.groupBy("src", "dst").agg(F.sum("w").alias("weight"), F.sum("n").alias("interactions"))
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
