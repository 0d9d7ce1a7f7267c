"""The influence ranking of the served run, filtered and rendered as cached pages.

The run's ranking (`graph.ranking`: strongest influence first, ties by customer id, the
stores' order too) is computed once per run in `RunCache`; a community or tag filter is a
boolean mask over it, cached per run. A page is rendered once as JSON bytes and kept in the
run's page LRU, so a repeated page is served on the event loop without touching the store or
re-encoding.
"""

from __future__ import annotations

import numpy as np

from api.http.readmodel.run_cache import RunCache, Served
from api.usecases.encoding import json_bytes, jsonable
from graph.store import GraphStore

INFLUENCER_COLUMNS = ("pagerank", "degree", "reach_2hop")


def holders(store: GraphStore, cache: RunCache, tag_id: str) -> np.ndarray:
    """Metrics rows holding `tag_id`: from the tag index, else read from the store."""
    if cache.tag_index is not None:
        return cache.tag_index.holders(tag_id)
    df = store.read_tags(cache.run.run_id, tag_id=tag_id)
    rows = cache.ids.get_indexer(df["customer_id"].astype(str))
    return rows[rows >= 0]


def ranked(
    store: GraphStore, cache: RunCache, community_id: str | None, tag_id: str | None
) -> np.ndarray:
    """Metrics rows of the (filtered) ranking, strongest first; filters cached per run."""
    if community_id is None and tag_id is None:
        return cache.ranking
    key = (community_id, tag_id)
    rows = cache.filters.get(key)
    if rows is not None:
        return rows
    rows = cache.ranking
    if community_id is not None:
        code = cache.community_names.get_indexer([community_id])[0]
        rows = rows[cache.community_codes[rows] == code] if code >= 0 else rows[:0]
    if tag_id is not None:
        held = np.zeros(len(cache.ids), dtype=bool)
        held[holders(store, cache, tag_id)] = True
        rows = rows[held[rows]]
    cache.filters.put(key, rows)
    return rows


def _tag_ids(store: GraphStore, cache: RunCache, row: int, customer_id: str) -> list[str]:
    """The customer's tags in the run, in catalog order (catalog tags only)."""
    if cache.tag_index is not None:
        return cache.tag_index.catalog_tags_of(row)
    held = set(store.read_tags(cache.run.run_id, customer_id=customer_id)["tag_id"])
    return [t for t in cache.catalog["tag_id"].astype(str) if t in held]


def influencer_rows(
    store: GraphStore, cache: RunCache, rows: np.ndarray, *, first_rank: int
) -> list[dict]:
    """Ranking rows as the API shows them: rank, id, score, community, tags, key metrics."""
    cols = [c for c in INFLUENCER_COLUMNS if c in cache.columns]
    influence = cache.columns.get("influence")
    out = []
    for rank, r in enumerate(rows.tolist(), start=first_rank):
        cid = str(cache.ids[r])
        com = cache.community_codes[r]
        row = {
            "rank": rank,
            "customer_id": cid,
            "score": (jsonable(influence[r]) if influence is not None else None) or 0.0,
            "community_id": None if com < 0 else str(cache.community_names[com]),
            "tags": _tag_ids(store, cache, r, cid),
        }
        row.update({c: jsonable(cache.columns[c][r]) for c in cols})
        out.append(row)
    return out


def page_key(
    *, limit: int, offset: int, community_id: str | None, tag_id: str | None
) -> tuple[str | None, str | None, int, int]:
    """The key a rendered page is cached under in `RunCache.pages`."""
    return (community_id, tag_id, limit, offset)


def influencer_page(
    store: GraphStore,
    serving: Served,
    *,
    limit: int,
    offset: int,
    community_id: str | None,
    tag_id: str | None,
) -> tuple[dict, bytes]:
    """One page of the ranking and its JSON bytes, rendered once per run and page.

    Raises
    ------
    CommunityNotFound, TagNotFound
    """
    cache = serving.cache
    key = page_key(limit=limit, offset=offset, community_id=community_id, tag_id=tag_id)
    hit = cache.pages.get(key)
    if hit is not None:
        return hit
    cache.check_filters(community_id, tag_id)
    rows = ranked(store, cache, community_id, tag_id)[offset : offset + limit]
    data = influencer_rows(store, cache, rows, first_rank=offset + 1)
    page = {
        "data": data,
        "count": len(data),
        "limit": limit,
        "offset": offset,
        "run_id": serving.run.run_id,
    }
    hit = (page, json_bytes(page))
    cache.pages.put(key, hit)
    return hit


__all__ = ["INFLUENCER_COLUMNS", "holders", "influencer_page", "influencer_rows", "page_key"]
