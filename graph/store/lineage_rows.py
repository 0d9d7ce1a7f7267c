"""Lineage rows as both stores hand them back: one column set, one set of types.

`graph.lineage` computes the rows; the stores may not import it (an algorithm module), so
the column names are restated here and checked against it by the store tests.
"""

from __future__ import annotations

import pandas as pd

__all__ = ["LINEAGE_FIELDS", "empty_lineage", "typed_lineage"]

#: Columns of a lineage frame, as `graph.lineage.LINEAGE_COLUMNS` lists them.
LINEAGE_FIELDS: tuple[str, ...] = (
    "event",
    "from_ids",
    "to_ids",
    "from_sizes",
    "to_sizes",
    "shared",
    "jaccard",
)


def empty_lineage() -> pd.DataFrame:
    """A lineage frame without rows, typed like a full one."""
    return typed_lineage(pd.DataFrame(columns=list(LINEAGE_FIELDS)))


def typed_lineage(df: pd.DataFrame) -> pd.DataFrame:
    """Lists of str / int in the list columns, int64 ``shared``, float64 ``jaccard``.

    Both stores return lineage through this, so the same run reads back identically.
    """
    out = pd.DataFrame(
        {
            "event": df["event"].astype(str),
            "from_ids": [[str(x) for x in v] for v in df["from_ids"]],
            "to_ids": [[str(x) for x in v] for v in df["to_ids"]],
            "from_sizes": [[int(x) for x in v] for v in df["from_sizes"]],
            "to_sizes": [[int(x) for x in v] for v in df["to_sizes"]],
            "shared": df["shared"].astype("int64"),
            "jaccard": df["jaccard"].astype("float64"),
        },
        columns=list(LINEAGE_FIELDS),
    )
    return out.reset_index(drop=True)
