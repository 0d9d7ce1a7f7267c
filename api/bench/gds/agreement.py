"""How far guanxi and GDS agree: Spearman rank correlation and top-k overlap.

What it holds: the rank-agreement measures the benchmark reports; pure numpy, so they are
tested with literals and need no server.
"""

from __future__ import annotations

import numpy as np

from api.bench.gds.params import TOP_K


def _ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n of ``x``, ties sharing their average rank (scipy's ``rankdata``)."""
    x = np.asarray(x, dtype=np.float64)
    _, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    first = np.concatenate(([0], np.cumsum(counts)[:-1]))
    avg = first + (counts + 1) / 2.0
    return avg[inverse]


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman rank correlation of two equally long arrays (ties get average ranks).

    Returns NaN when either side is constant.
    """
    ra, rb = _ranks(a), _ranks(b)
    ra -= ra.mean()
    rb -= rb.mean()
    den = float(np.sqrt((ra * ra).sum() * (rb * rb).sum()))
    return float((ra * rb).sum() / den) if den > 0 else float("nan")


def top_k_overlap(a: np.ndarray, b: np.ndarray, k: int = TOP_K) -> float:
    """Share of the ``k`` highest of ``a`` that are also among the ``k`` highest of ``b``.

    Ties at the cut are broken by vertex index (the lowest index first) on both sides.
    """
    k = min(k, len(a))
    if k == 0:
        return float("nan")
    top = lambda v: set(np.lexsort((np.arange(len(v)), -np.asarray(v)))[:k].tolist())  # noqa: E731
    return len(top(a) & top(b)) / k
