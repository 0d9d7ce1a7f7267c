"""The one JSON encoder: values made JSON-ready, and the two renderings the edges print.

Store and in-memory values arrive as numpy scalars, pandas timestamps, dates, NaN and bytes.
`jsonable` turns one such value into what JSON can carry (NaN, infinities and NaT become
null, so a missing metric reads as missing and never as a number), `records` does it for a
frame. The HTTP API sends `json_bytes` (compact, strict: a NaN that slipped through fails
loudly instead of producing invalid JSON) and the CLI's ``--json`` prints `json_text` (one
line, ``default=str`` so any command's result prints, whatever it holds).
"""

from __future__ import annotations

import json
import math
from typing import Any

import pandas as pd


def jsonable(v: Any) -> Any:
    """A JSON-ready Python value: numpy scalars unwrapped, NaN/inf/NaT as None.

    Examples
    --------
    >>> import numpy as np
    >>> jsonable(np.int64(3)), jsonable(float("nan")), jsonable(pd.NaT), jsonable(b"ab")
    (3, None, None, 'ab')
    """
    if v is None or v is pd.NaT:
        return None
    if hasattr(v, "item") and not isinstance(v, str | bytes):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, pd.Timestamp):
        return None if pd.isna(v) else v.isoformat()
    if hasattr(v, "isoformat"):
        return v.isoformat()
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return v


def records(df: pd.DataFrame) -> list[dict]:
    """The rows of `df` as dicts of `jsonable` values, in column order."""
    cols = list(df.columns)
    return [
        {c: jsonable(v) for c, v in zip(cols, row, strict=True)}
        for row in df.itertuples(index=False, name=None)
    ]


def json_bytes(body: Any) -> bytes:
    """`body` as JSON exactly as FastAPI's JSONResponse would render it (the HTTP wire form)."""
    return json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


def json_text(body: Any) -> str:
    """`body` as the one JSON document the CLI's ``--json`` prints (no trailing newline)."""
    return json.dumps(body, ensure_ascii=False, default=str)


__all__ = ["json_bytes", "json_text", "jsonable", "records"]
