"""Exact sums of amounts in SQL, spelled for DuckDB and Spark alike.

A floating-point sum depends on the order of its terms, and DuckDB and Spark add a group's
rows in whatever order their threads or partitions deliver them, so ``monetary`` could
differ by an ulp between runs and engines and split rank ties. Here every amount is taken
at its shortest decimal form (DuckDB's ``VARCHAR`` and Java's ``Double.toString`` both give
it; Spark's cast to DECIMAL reads it), rounded half up to :data:`AMOUNT_SCALE` decimals,
summed exactly as ``DECIMAL(38, AMOUNT_SCALE)`` and turned back into a double once through
its decimal text (a correctly rounded parse on both engines). Amounts with at most
:data:`AMOUNT_SCALE` decimals are summed exactly; validation quarantines NaN and infinite
ones (``non_finite_number``), which no decimal holds.

Pure string generation.
"""

from __future__ import annotations

from typing import Literal

__all__ = ["AMOUNT_SCALE", "amount_sum"]

#: Decimals an amount is summed at (micro-units: beyond any currency's minor unit).
AMOUNT_SCALE = 6


def amount_sum(expr: str, dialect: Literal["duckdb", "spark"]) -> str:
    """SQL summing ``expr`` (a DOUBLE) exactly over the group; a DOUBLE, NULL when no row is.

    Parameters
    ----------
    expr
        The amount expression (may be a ``CASE`` giving NULL for rows left out).
    dialect
        ``duckdb`` or ``spark``.
    """
    dec = f"DECIMAL(38, {AMOUNT_SCALE})"
    if dialect == "spark":
        return f"CAST(CAST(sum(CAST({expr} AS {dec})) AS STRING) AS DOUBLE)"
    return f"CAST(CAST(sum(CAST(CAST({expr} AS VARCHAR) AS {dec})) AS VARCHAR) AS DOUBLE)"
