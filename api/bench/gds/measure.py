"""Small helpers both sides of the GDS benchmark share: a stopwatch and byte-to-MB rounding."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any


def mb(b: int | None) -> float | None:
    """Bytes as mebibytes rounded to one decimal, None kept (an RSS that was not known)."""
    return None if b is None else round(b / 2**20, 1)


def timed(times: dict[str, float], name: str, fn: Callable[[], Any]) -> Any:
    """Call ``fn``, record its wall time in ``times[name]`` and return what it returned."""
    t = time.perf_counter()
    out = fn()
    times[name] = time.perf_counter() - t
    return out
