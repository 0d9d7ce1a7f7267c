"""Tag health over time: ``guanxi tags quality`` and ``GET /tags/quality``.

Reads the assignments of a run and of the complete run before it, and hands them to the
pure :func:`tagging.quality.tag_quality`.
"""

from __future__ import annotations

import pandas as pd

from api.usecases.runs import resolve_run
from graph.model import RunInfo
from graph.store import GraphStore
from tagging.quality import DEFAULT_MOVE_SHARE, tag_quality

__all__ = ["DEFAULT_MOVE_SHARE", "previous_run", "tag_quality_report"]


def previous_run(store: GraphStore, run: RunInfo) -> RunInfo | None:
    """The complete run published just before ``run`` (None for the first run)."""
    runs = store.list_runs()  # newest first
    ids = [r.run_id for r in runs]
    i = ids.index(run.run_id)
    return runs[i + 1] if i + 1 < len(runs) else None


def tag_quality_report(
    store: GraphStore, *, run_id: str | None = None, move_share: float = DEFAULT_MOVE_SHARE
) -> dict:
    """Coverage, overlap and stability of every tag of a run (the latest by default).

    Returns
    -------
    dict
        ``run_id``, ``previous_run_id`` (None for a first run), ``move_share`` and ``tags``:
        one record per catalog tag with the columns of
        :data:`tagging.quality.QUALITY_COLUMNS` (NaN as None).

    Raises
    ------
    RunNotFound
        No such run (or no run yet).
    ConfigError
        ``move_share`` not positive.
    """
    from graph.errors import ConfigError

    if not move_share > 0:
        raise ConfigError(f"move_share={move_share!r} must be a positive share, e.g. 0.2")
    run = resolve_run(store, run_id)
    prev = previous_run(store, run)
    q = tag_quality(
        store.read_tags(run.run_id)[["customer_id", "tag_id"]],
        store.read_catalog(run.run_id),
        customers=int(run.input_counts.get("customers", 0)),
        previous=None if prev is None else store.read_tags(prev.run_id)[["customer_id", "tag_id"]],
        move_share=move_share,
    )
    q = q.astype(object).where(pd.notna(q), None)
    return {
        "run_id": run.run_id,
        "previous_run_id": None if prev is None else prev.run_id,
        "move_share": move_share,
        "tags": q.to_dict(orient="records"),
    }
