"""Communities across runs: how many customers kept their community id, and what changed.

Both front ends (``guanxi communities diff`` and ``GET /communities/diff``) call
:func:`communities_diff`, so the two answer with the same object.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from api.usecases.runs import resolve_run
from graph.errors import ConfigError
from graph.lineage import (
    EVENTS,
    kept_share,
    lineage_events,
    normalized_mutual_information,
)
from graph.params import AnalysisParams
from graph.store import GraphStore

__all__ = ["DIFF_MOVED_LIMIT", "communities_diff"]

#: Moved customers listed by default (the count is always complete).
DIFF_MOVED_LIMIT = 100


def communities_diff(
    store: GraphStore, run_a: str, run_b: str, *, limit: int = DIFF_MOVED_LIMIT
) -> dict[str, Any]:
    """Community ids kept, the partitions' agreement and the lineage from ``run_a`` to ``run_b``.

    Parameters
    ----------
    store
        The store holding both runs.
    run_a, run_b
        The earlier and the later run.
    limit
        How many moved customers to list (by customer id); ``moved_count`` counts them all.

    Returns
    -------
    dict
        ``kept_share`` (share of the customers in both runs whose community id is the same),
        ``customers_compared`` / ``customers_kept`` / ``customers_added`` /
        ``customers_removed``, ``nmi`` (normalised mutual information of the two
        partitions over the customers in both), ``communities_from`` / ``communities_to``,
        ``lineage`` (one ``{"event", "from_ids", "to_ids", "from_sizes", "to_sizes",
        "shared", "jaccard"}`` per event), ``lineage_counts``, ``lineage_source``
        (``"stored"``: the rows written when ``run_b`` was matched to ``run_a``;
        ``"computed"``: derived from the two memberships for runs further apart),
        ``moved`` (``{"customer_id", "from_community", "to_community"}``, ids only) and
        ``moved_count``.

    Raises
    ------
    RunNotFound
        Either run is unknown, or the store no longer keeps its memberships (Neo4j keeps
        the latest run's and the one before it).
    ConfigError
        ``limit`` is negative.
    """
    if limit < 0:
        raise ConfigError(f"limit {limit!r}: give a number of moved customers >= 0")
    a = resolve_run(store, run_a)
    b = resolve_run(store, run_b)
    both = store.read_membership(a.run_id).merge(
        store.read_membership(b.run_id),
        on="customer_id",
        how="outer",
        suffixes=("_a", "_b"),
        sort=True,
    )
    prev = _labels(both["community_id_a"])
    new = _labels(both["community_id_b"])
    share, kept, compared = kept_share(prev, new)
    common = pd.notna(prev) & pd.notna(new)
    nmi = normalized_mutual_information(prev[common], new[common]) if compared else 0.0
    if b.stats.get("community_previous_run") == a.run_id:
        lineage, source = store.read_lineage(b.run_id), "stored"
    else:
        threshold = b.params.get(
            "community_match_threshold", AnalysisParams().community_match_threshold
        )
        lineage, source = lineage_events(prev, new, threshold=float(threshold)), "computed"
    moved = common & (prev != new)
    moved_rows = pd.DataFrame(
        {
            "customer_id": both["customer_id"].to_numpy()[moved],
            "from_community": prev[moved],
            "to_community": new[moved],
        }
    ).head(limit)
    counts = lineage["event"].value_counts()
    return {
        "from_run": a.run_id,
        "to_run": b.run_id,
        "customers_compared": compared,
        "customers_kept": kept,
        "customers_added": int((pd.isna(prev) & pd.notna(new)).sum()),
        "customers_removed": int((pd.notna(prev) & pd.isna(new)).sum()),
        "kept_share": share,
        "nmi": nmi,
        "communities_from": int(pd.Series(prev[pd.notna(prev)]).nunique()),
        "communities_to": int(pd.Series(new[pd.notna(new)]).nunique()),
        "lineage_source": source,
        "lineage_counts": {e: int(counts.get(e, 0)) for e in EVENTS},
        "lineage": [_event(r) for r in lineage.to_dict("records")],
        "moved": moved_rows.to_dict("records"),
        "moved_count": int(moved.sum()),
    }


def _labels(col: pd.Series) -> np.ndarray:
    """Community ids as an object array with None for a customer absent from the run."""
    arr = col.to_numpy(dtype=object)
    arr[pd.isna(arr)] = None
    return arr


def _event(row: dict) -> dict:
    return {
        "event": str(row["event"]),
        "from_ids": [str(x) for x in row["from_ids"]],
        "to_ids": [str(x) for x in row["to_ids"]],
        "from_sizes": [int(x) for x in row["from_sizes"]],
        "to_sizes": [int(x) for x in row["to_sizes"]],
        "shared": int(row["shared"]),
        "jaccard": float(row["jaccard"]),
    }
