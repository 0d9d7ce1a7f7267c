"""Analysis runs: ids, the latest complete run, a run by id."""

from __future__ import annotations

import hashlib
from datetime import datetime

from graph.errors import RunNotFound
from graph.model import RunInfo
from graph.store import GraphStore


def new_run_id(now: datetime) -> str:
    """Sortable by time to the microsecond, so two runs in one second keep their order."""
    stamp = now.strftime("%Y%m%dT%H%M%S%f")
    suffix = hashlib.sha1(now.isoformat().encode()).hexdigest()[:6]
    return f"r{stamp}-{suffix}"


def latest_run(store: GraphStore) -> RunInfo:
    """The newest run.

    Raises
    ------
    RunNotFound
        No analysis has been run on this store yet.
    """
    runs = store.list_runs()
    if not runs:
        raise RunNotFound(None)
    return runs[0]


def resolve_run(store: GraphStore, run_id: str | None) -> RunInfo:
    if run_id is None:
        return latest_run(store)
    for r in store.list_runs():
        if r.run_id == run_id:
            return r
    raise RunNotFound(run_id)
