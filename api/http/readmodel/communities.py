"""Communities of the served run: the list, one community's leaders and tag composition,
and the tag catalog with coverage and a tag's holders.

The tag composition (how many members of each community hold each tag) is counted once per
run over every assignment, from the tag index when there is one, else from the store one
tag at a time so memory peaks at one tag's holders.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from api.http.readmodel.ranking import influencer_rows, ranked
from api.http.readmodel.run_cache import RunCache, Served
from api.usecases.encoding import records
from graph.errors import CommunityNotFound
from graph.store import GraphStore


def _tag_pairs(store: GraphStore, cache: RunCache) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(tag names, metrics row, tag code) of every assignment of the run."""
    if cache.tag_index is not None:
        idx = cache.tag_index
        return idx.names, idx.rows_of(), idx.codes
    if cache.tag_codes is not None:
        return cache.tag_codes
    with cache.lock:
        if cache.tag_codes is None:
            names: list[str] = []
            row_parts, code_parts = [], []
            for tag_id, n in zip(cache.catalog["tag_id"], cache.catalog["count"], strict=True):
                if not n:
                    continue
                holders = store.read_tags(cache.run.run_id, tag_id=str(tag_id))
                rows = cache.ids.get_indexer(holders["customer_id"].astype(str))
                rows = rows[rows >= 0]
                row_parts.append(rows.astype(np.int64))
                code_parts.append(np.full(len(rows), len(names), dtype=np.int32))
                names.append(str(tag_id))
            rows = np.concatenate(row_parts) if row_parts else np.zeros(0, np.int64)
            codes = np.concatenate(code_parts) if code_parts else np.zeros(0, np.int32)
            cache.tag_codes = (names, rows, codes)
    return cache.tag_codes


def composition(store: GraphStore, cache: RunCache) -> pd.DataFrame:
    """community_id, tag_id, customers for the whole run, computed once per run."""
    if cache.composition is not None:
        return cache.composition
    names, rows, codes = _tag_pairs(store, cache)
    if not len(cache.community_names) or not len(codes):
        comp = pd.DataFrame({"community_id": [], "tag_id": [], "customers": []})
    else:
        c = cache.community_codes[rows]
        keep = c >= 0
        pair = c[keep] * len(names) + codes[keep]
        counts = np.bincount(pair, minlength=len(cache.community_names) * len(names))
        nz = np.nonzero(counts)[0]
        comp = pd.DataFrame(
            {
                "community_id": np.asarray(cache.community_names, dtype=object)[nz // len(names)],
                "tag_id": np.asarray(names, dtype=object)[nz % len(names)],
                "customers": counts[nz],
            }
        )
    cache.composition = comp.sort_values(
        ["community_id", "customers", "tag_id"], ascending=[True, False, True]
    ).reset_index(drop=True)
    return cache.composition


def community_list(serving: Served, *, limit: int, offset: int) -> dict:
    """A page of the run's communities, in the store's order (largest first)."""
    com = serving.cache.communities
    data = records(com.iloc[offset : offset + limit])
    return {
        "data": data,
        "count": len(data),
        "limit": limit,
        "offset": offset,
        "total": len(com),
        "run_id": serving.run.run_id,
    }


def community_detail(
    store: GraphStore, serving: Served, community_id: str, *, leaders: int
) -> dict:
    """Stats, leaders and tag composition of one community.

    Raises
    ------
    CommunityNotFound
    """
    cache = serving.cache
    try:
        i = cache.community_index.get_loc(community_id)
    except KeyError:
        raise CommunityNotFound(community_id) from None
    stats = records(cache.communities.iloc[[i]])[0]
    top = ranked(store, cache, community_id, None)[:leaders]
    comp = composition(store, cache)
    mine = comp[comp["community_id"] == community_id]
    size = max(int(stats.get("size") or 0), 1)
    return {
        "community": stats,
        "run_id": serving.run.run_id,
        "leaders": influencer_rows(store, cache, top, first_rank=1),
        "tag_composition": [
            {"tag_id": str(t), "customers": int(n), "share": round(int(n) / size, 6)}
            for t, n in zip(mine["tag_id"], mine["customers"], strict=True)
        ],
    }


def tag_catalog(serving: Served) -> dict:
    """The run's catalog with each tag's holder count and share of the run's customers."""
    cache = serving.cache
    n = max(len(cache.ids), 1)
    data = []
    for rec in records(cache.catalog):
        count = int(rec.pop("count", 0) or 0)
        data.append(
            {**rec, "tag_id": str(rec["tag_id"]), "customers": count, "coverage": count / n}
        )
    return {"data": data, "count": len(data), "run_id": serving.run.run_id}


def tag_members(
    store: GraphStore, serving: Served, tag_id: str, *, limit: int, offset: int
) -> dict:
    """A page of a tag's holders, strongest score first (read from the store).

    Raises
    ------
    TagNotFound
    """
    run, cache = serving.run, serving.cache
    cache.check_filters(None, tag_id)
    total = int(cache.catalog.loc[cache.catalog["tag_id"] == tag_id, "count"].iloc[0] or 0)
    df = store.read_tags(run.run_id, tag_id=tag_id, limit=limit, offset=offset)
    data = [
        {"customer_id": str(c), "score": float(s), "reason": str(r)}
        for c, s, r in zip(df["customer_id"], df["score"], df["reason"], strict=True)
    ]
    return {
        "data": data,
        "count": len(data),
        "limit": limit,
        "offset": offset,
        "total": total,
        "tag_id": tag_id,
        "run_id": run.run_id,
    }


__all__ = ["community_detail", "community_list", "composition", "tag_catalog", "tag_members"]
