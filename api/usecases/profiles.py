"""The one customer profile builder, shared by the CLI (fed from the store) and the HTTP read
model (fed from memory).

A profile is a customer's attributes (PII masked below admin), the run's metrics and
community, and every tag with its score and reason. Both surfaces show the same document, so
it is assembled here from plain values: the caller gathers the record, the metrics row and
the tags however it can afford to (the read model from columns already in memory, the CLI
with three store reads), and this function decides masking, value conversion and the shape.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from api.usecases.encoding import jsonable
from api.usecases.masking import public_attributes

#: Metrics-table columns that identify the row rather than measure the customer; the profile
#: names the customer and the run once, at the top.
ROW_KEYS = ("customer_id", "run_id")


def community_of(value: Any) -> str | None:
    """A community id as shown: a string, or None for a customer without one (None or NaN)."""
    return None if value is None or (isinstance(value, float) and value != value) else str(value)


def tags_from_frame(df: pd.DataFrame) -> list[dict]:
    """Tag rows (``tag_id``, ``score``, ``reason``) of `GraphStore.read_tags` as profile tags,
    in the frame's order (the store's: score descending, then tag id)."""
    return [
        {"tag_id": str(t), "score": float(s), "reason": str(r)}
        for t, s, r in zip(df["tag_id"], df["score"], df["reason"], strict=True)
    ]


def build_profile(
    customer_id: str,
    record: Mapping[str, Any],
    *,
    unmasked: bool,
    pii_columns: tuple[str, ...],
    run_id: str | None = None,
    metrics: Mapping[str, Any] | None = None,
    tags: Iterable[dict] = (),
) -> dict:
    """One customer's profile document, ready for either JSON rendering.

    Parameters
    ----------
    customer_id
        The customer shown.
    record
        The stored customer row (`GraphStore.get_customer` or the read model's copy).
    run_id
        The run the metrics and tags come from; None (the default) when no analysis has
        run, and then `metrics` and `tags` are left empty.
    metrics
        The customer's metrics row in that run (empty when the customer joined after it);
        `ROW_KEYS` are dropped, values are made `jsonable`.
    tags
        ``{"tag_id", "score", "reason"}`` dicts in display order (`tags_from_frame`).
    unmasked
        The caller may see PII in clear (admin).
    pii_columns
        The columns masked below admin (`api.usecases.masking.served_pii_columns`).

    Examples
    --------
    >>> p = build_profile("C1", {"customer_id": "C1", "name": "王小明"}, run_id="r1",
    ...                   metrics={"customer_id": "C1", "community_id": "c7"}, tags=[],
    ...                   unmasked=False, pii_columns=("name",))
    >>> p["attributes"]["name"], p["community_id"], p["metrics"]
    ('王**', 'c7', {'community_id': 'c7'})
    """
    shown = public_attributes(record, unmasked=unmasked, columns=pii_columns)
    values = {k: jsonable(v) for k, v in (metrics or {}).items() if k not in ROW_KEYS}
    return {
        "customer_id": customer_id,
        "attributes": {k: jsonable(v) for k, v in shown.items()},
        "run_id": run_id,
        "community_id": community_of(values.get("community_id")),
        "metrics": values,
        "tags": list(tags),
    }


__all__ = ["ROW_KEYS", "build_profile", "community_of", "tags_from_frame"]
