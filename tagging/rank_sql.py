"""Ranks over all customers in Spark SQL without a window that spans them.

Why: ``rank() OVER (ORDER BY v)`` over the whole table (a percentile, an RFM quintile) puts
every row in one partition, so Spark sorts them on one core whatever the cluster (the
README's "Scaling out" gives what that task cost). The same ranks come
from parts that all run in parallel: the rows are counted per distinct value (a grouped
aggregate); each value falls in a bucket, a function of the value alone that never
decreases as the value grows, so equal values share a bucket and a bucket's values all lie
below the next bucket's; the values of each bucket are ranked by a window over that bucket
only; and the rows in the buckets below are counted over the few thousand buckets. A value's
rank is then ``rows below its bucket + rows below it in the bucket + 1``, as ``rank()``
gives it, and its count is ``count(*) OVER (PARTITION BY v)``.

DuckDB runs its windows in parallel already, so only the Spark dialect spells ranks this way.
"""

from __future__ import annotations


def bucket(v: str) -> str:
    """A bucket of ``v`` (non-null DOUBLE): sixteen per power of two, never decreasing in ``v``.

    Why this spelling: Java's logarithm is semi-monotonic (its specification requires it) and
    a division by a positive constant, a product by 16 and ``floor`` keep that order, so no
    two values can swap across a bucket's edge; the buckets of a money amount follow its
    orders of magnitude (a few hundred over the range of real amounts), and zero and each
    small integer get one of their own.
    """
    return (
        f"CASE WHEN {v} > 0 THEN 40000 + CAST(floor(log2({v}) * 16) AS BIGINT) "
        f"WHEN {v} < 0 THEN -40000 - CAST(floor(log2(-({v})) * 16) AS BIGINT) "
        "ELSE CAST(0 AS BIGINT) END"
    )


def rank_ctes(name: str, source: str, value: str, part: str = "TRUE") -> list[str]:
    """CTEs ending in ``name(_p, _v, _n, _total, _rank)``: one row per distinct value.

    Parameters
    ----------
    name
        The last CTE's name (the others take it as a prefix).
    source
        The relation ranked.
    value
        A DOUBLE expression over ``source``; rows where it is NULL are not ranked.
    part
        A BOOLEAN expression over ``source`` (never NULL) ranking each side apart, as
        ``PARTITION BY part`` would.

    Notes
    -----
    ``_n`` is the rows holding the value, ``_total`` the ranked rows of its part and
    ``_rank`` the value's ``rank() OVER (PARTITION BY part ORDER BY value)``. A row finds its
    value's by ``LEFT JOIN name ON name._p = (part) AND name._v = (value)``.
    """
    before = "ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING"
    return [
        f"{name}_d AS (SELECT {part} AS _p, {value} AS _v, count(*) AS _n FROM {source} "
        f"WHERE {value} IS NOT NULL GROUP BY {part}, {value})",
        f"{name}_b AS (SELECT _p, _v, _n, {bucket('_v')} AS _b FROM {name}_d)",
        f"{name}_o AS (SELECT _p, _b, coalesce(sum(_m) OVER (PARTITION BY _p ORDER BY _b "
        f"{before}), 0) AS _below, sum(_m) OVER (PARTITION BY _p) AS _total FROM "
        f"(SELECT _p, _b, sum(_n) AS _m FROM {name}_b GROUP BY _p, _b) AS _g)",
        f"{name} AS (SELECT x._p, x._v, x._n, o._total, o._below + coalesce(sum(x._n) OVER "
        f"(PARTITION BY x._p, x._b ORDER BY x._v {before}), 0) + 1 AS _rank "
        f"FROM {name}_b AS x JOIN {name}_o AS o ON x._p = o._p AND x._b = o._b)",
    ]


def rank_join(name: str, value: str, part: str = "TRUE") -> str:
    """``LEFT JOIN`` of a row to its value's rank row in `rank_ctes` ``name``."""
    return f" LEFT JOIN {name} ON {name}._p = ({part}) AND {name}._v = ({value})"
