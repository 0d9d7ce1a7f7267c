"""The HTTP read model: the store behind per-run caches, shaped for the wire.

The routes call this module and nothing else, so no query lives in a route. Answers that do
not depend on the request's customer are cached per run, because one run never changes once
written: the current run is looked up at most once a second, and a newer run (or a different
run id) simply misses the cache. What is cached, per run:

- the metrics of every customer as columns with a hash index, so a profile needs no scan of
  the metrics table (a 1M-customer run is ~200 MB);
- the top 1000 influencers per (community, tag) filter and the rendered pages of them;
- the communities table and their tag composition;
- segment member lists (so paging through a segment does not re-evaluate it).

Customer attributes and tag assignments are read per request through the store's point
lookups. PII is masked here, once, for every endpoint and export.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from api import service
from api.masking import mask_frame, mask_record
from graph.errors import CommunityNotFound, RunNotFound, StoreError, StoreUnavailable
from graph.model import RunInfo
from graph.store import GraphStore

TOP_CACHE = 1000
PAGE_CACHE = 512
SEGMENT_CACHE = 32
EXPORT_CHUNK = 10_000
INFLUENCER_COLUMNS = ("pagerank", "degree", "reach_2hop")


class TagNotFound(StoreError):
    """A tag id that the run's catalog does not hold."""

    def __init__(self, tag_id: str) -> None:
        super().__init__(f"tag {tag_id!r} not found in the catalog of the current run")
        self.tag_id = tag_id


class _LRU:
    """A small thread-safe LRU map."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._d: OrderedDict = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Any) -> Any:
        with self._lock:
            v = self._d.get(key)
            if v is not None:
                self._d.move_to_end(key)
            return v

    def put(self, key: Any, value: Any) -> None:
        with self._lock:
            self._d[key] = value
            self._d.move_to_end(key)
            while len(self._d) > self.size:
                self._d.popitem(last=False)


def _py(v: Any) -> Any:
    """A JSON-ready Python value: numpy scalars unwrapped, NaN/NaT as None."""
    if v is None:
        return None
    if hasattr(v, "item") and not isinstance(v, str | bytes):
        v = v.item()
    if isinstance(v, float) and v != v:
        return None
    if isinstance(v, pd.Timestamp):
        return None if pd.isna(v) else v.isoformat()
    if hasattr(v, "isoformat"):
        return v.isoformat()
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return v


def _str_or_none(v: Any) -> str | None:
    return None if v is None else str(v)


def _records(df: pd.DataFrame) -> list[dict]:
    cols = list(df.columns)
    return [
        {c: _py(v) for c, v in zip(cols, row, strict=True)}
        for row in df.itertuples(index=False, name=None)
    ]


def _redact(uri: str) -> str:
    """The store URI without user:password@."""
    scheme, sep, rest = uri.partition("://")
    if sep and "@" in rest.split("/", 1)[0]:
        rest = rest.split("@", 1)[1]
    return f"{scheme}{sep}{rest}"


@dataclass(frozen=True)
class _TagIndex:
    """Tag codes per customer position (CSR): customer i holds codes[offsets[i]:offsets[i+1]]."""

    names: list[str]
    offsets: np.ndarray
    codes: np.ndarray
    pos: np.ndarray


@dataclass
class _RunCache:
    """What one run lets us precompute; dropped when the run is no longer asked for."""

    run: RunInfo
    ids: pd.Index
    columns: dict[str, np.ndarray]
    communities: pd.DataFrame
    community_index: pd.Index
    catalog: pd.DataFrame
    tops: dict = field(default_factory=dict)
    pages: _LRU = field(default_factory=lambda: _LRU(PAGE_CACHE))
    tag_index: _TagIndex | None = None
    composition: pd.DataFrame | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def metrics_of(self, customer_id: str) -> dict | None:
        try:
            i = self.ids.get_loc(customer_id)
        except (KeyError, TypeError):
            return None
        if not isinstance(i, int | np.integer):
            return None
        return {c: _py(a[i]) for c, a in self.columns.items()}


class Reads:
    """Everything the routes read, over one store opened lazily.

    Parameters
    ----------
    store_uri
        The store to serve. DuckDB files are opened read-only, so `guanxi analyze` elsewhere
        cannot be corrupted by the server (DuckDB lets it wait for the lock instead).
    store
        An already-open store (tests, benchmarks); then `store_uri` is only reported.
    open_store
        How to open `store_uri` (default: `service.open_configured_store`, read-only).
    run_ttl
        Seconds between two checks for a newer run.
    """

    def __init__(
        self,
        store_uri: str,
        *,
        store: GraphStore | None = None,
        open_store: Callable[[str], GraphStore] | None = None,
        run_ttl: float = 1.0,
    ) -> None:
        self.store_uri = store_uri
        self._store = store
        self._owns_store = store is None
        self._open = open_store or (lambda uri: service.open_configured_store(uri, read_only=True))
        self._run_ttl = run_ttl
        self._lock = threading.Lock()
        self._latest: tuple[float, RunInfo | None] | None = None
        self._runs: dict[str, _RunCache] = {}
        self._segments = _LRU(SEGMENT_CACHE)

    # --- store and runs -------------------------------------------------------------------
    @property
    def store(self) -> GraphStore:
        """The store, opened on first use.

        Raises
        ------
        StoreUnavailable
            The store cannot be opened (missing file, locked, server down).
        """
        if self._store is None:
            with self._lock:
                if self._store is None:
                    self._store = self._open(self.store_uri)
        return self._store

    def close(self) -> None:
        if self._store is not None and self._owns_store:
            self._store.close()
        self._store = None
        self._runs.clear()

    def latest_run(self) -> RunInfo | None:
        """The newest run, re-read from the store at most once per `run_ttl` seconds."""
        now = time.monotonic()
        cached = self._latest
        if cached is not None and now - cached[0] < self._run_ttl:
            return cached[1]
        runs = self.store.list_runs()
        latest = runs[0] if runs else None
        self._latest = (now, latest)
        return latest

    def run(self, run_id: str | None = None) -> RunInfo:
        """The named run, or the current one.

        Raises
        ------
        RunNotFound
        """
        if run_id is None:
            latest = self.latest_run()
            if latest is None:
                raise RunNotFound(None)
            return latest
        cache = self._runs.get(run_id)
        if cache is not None:
            return cache.run
        return service.resolve_run(self.store, run_id)

    def _cache(self, run: RunInfo) -> _RunCache:
        cache = self._runs.get(run.run_id)
        if cache is not None:
            return cache
        with self._lock:
            cache = self._runs.get(run.run_id)
            if cache is not None:
                return cache
            store = self.store
            m = store.read_metrics(run.run_id)
            ids = pd.Index(m["customer_id"].astype(str))
            columns = {c: m[c].to_numpy() for c in m.columns if c not in ("customer_id", "run_id")}
            com = store.read_communities(run.run_id)
            com["community_id"] = com["community_id"].astype(str)
            catalog = store.read_catalog(run.run_id)
            cache = _RunCache(
                run=run,
                ids=ids,
                columns=columns,
                communities=com,
                community_index=pd.Index(com["community_id"]),
                catalog=catalog,
            )
            # keep the current run and at most one other (e.g. a diff's source)
            latest = self._latest[1].run_id if self._latest and self._latest[1] else None
            for rid in list(self._runs):
                if rid != latest:
                    del self._runs[rid]
            self._runs[run.run_id] = cache
            return cache

    def warm(self) -> None:
        """Fill the current run's caches (called in the background at start-up)."""
        try:
            run = self.latest_run()
            if run is not None:
                cache = self._cache(run)
                self._top(cache, None, None)
                self._tag_index(cache)
        except Exception:
            pass

    # --- health ---------------------------------------------------------------------------
    def health(self) -> dict:
        from importlib.metadata import version

        out: dict = {
            "status": "ok",
            "store": _redact(self.store_uri),
            "run_id": None,
            "run_created_at": None,
            "version": version("guanxi"),
        }
        try:
            run = self.latest_run()
        except StoreError as exc:
            out.update(status="unavailable", detail=str(exc))
            return out
        if run is not None:
            out.update(run_id=run.run_id, run_created_at=run.created_at)
        return out

    # --- influencers ----------------------------------------------------------------------
    def _check_filters(self, cache: _RunCache, community_id: str | None, tag_id: str | None):
        if community_id is not None and community_id not in cache.community_index:
            raise CommunityNotFound(community_id)
        if tag_id is not None and tag_id not in set(cache.catalog["tag_id"].astype(str)):
            raise TagNotFound(tag_id)

    def _top(self, cache: _RunCache, community_id: str | None, tag_id: str | None):
        key = (community_id, tag_id)
        df = cache.tops.get(key)
        if df is None:
            df = self.store.top_influencers(
                cache.run.run_id, limit=TOP_CACHE, community_id=community_id, tag_id=tag_id
            )
            cache.tops[key] = df
        return df

    def influencers(
        self,
        *,
        limit: int,
        offset: int = 0,
        community_id: str | None = None,
        tag_id: str | None = None,
    ) -> dict:
        """A page of the influence ranking, with each customer's tags.

        Raises
        ------
        RunNotFound, CommunityNotFound, TagNotFound
        """
        run = self.run()
        cache = self._cache(run)
        page_key = ("influencers", community_id, tag_id, limit, offset)
        page = cache.pages.get(page_key)
        if page is not None:
            return page
        self._check_filters(cache, community_id, tag_id)
        if offset + limit <= TOP_CACHE:
            df = self._top(cache, community_id, tag_id).iloc[offset : offset + limit]
        else:
            df = self.store.top_influencers(
                run.run_id, limit=limit, offset=offset, community_id=community_id, tag_id=tag_id
            )
        data = self._influencer_rows(cache, df, first_rank=offset + 1)
        page = {
            "data": data,
            "count": len(data),
            "limit": limit,
            "offset": offset,
            "run_id": run.run_id,
        }
        cache.pages.put(page_key, page)
        return page

    def _influencer_rows(
        self, cache: _RunCache, df: pd.DataFrame, *, first_rank: int
    ) -> list[dict]:
        cols = [c for c in INFLUENCER_COLUMNS if c in df.columns]
        rows = []
        for rank, rec in enumerate(_records(df), start=first_rank):
            cid = str(rec["customer_id"])
            row = {
                "rank": rank,
                "customer_id": cid,
                "score": rec.get("influence") or 0.0,
                "community_id": None
                if rec.get("community_id") is None
                else str(rec["community_id"]),
                "tags": self._tag_ids(cache, cid),
            }
            row.update({c: rec.get(c) for c in cols})
            rows.append(row)
        return rows

    # --- customers ------------------------------------------------------------------------
    def customer(self, customer_id: str, *, unmasked: bool) -> dict:
        """Attributes (PII masked unless `unmasked`), metrics and tags with reasons.

        Raises
        ------
        CustomerNotFound
        """
        import json

        store = self.store
        attrs = store.get_customer(customer_id)
        extra = attrs.pop("attributes", None)
        if extra:
            try:
                attrs.update({f"attr.{k}": v for k, v in json.loads(extra).items()})
            except (ValueError, AttributeError):
                attrs["attributes"] = extra
        profile: dict = {
            "customer_id": customer_id,
            "attributes": {k: _py(v) for k, v in mask_record(attrs, unmasked=unmasked).items()},
            "run_id": None,
            "community_id": None,
            "metrics": {},
            "tags": [],
        }
        run = self.latest_run()
        if run is None:
            return profile
        cache = self._cache(run)
        metrics = cache.metrics_of(customer_id) or {}
        tags = store.read_tags(run.run_id, customer_id=customer_id)
        profile.update(
            run_id=run.run_id,
            metrics=metrics,
            community_id=None
            if metrics.get("community_id") is None
            else str(metrics["community_id"]),
            tags=[
                {"tag_id": str(t), "score": float(s), "reason": str(r)}
                for t, s, r in zip(tags["tag_id"], tags["score"], tags["reason"], strict=True)
            ],
        )
        return profile

    def network(self, customer_id: str, *, hops: int, limit: int) -> dict:
        """The ego network as nodes and edges for a graph visualisation.

        Raises
        ------
        CustomerNotFound
        """
        ego = self.store.ego_network(customer_id, hops=hops, limit=limit)
        nodes = _records(ego.nodes)
        community = {
            n["customer_id"]: (None if n.get("community_id") is None else str(n["community_id"]))
            for n in nodes
        }
        run = self.latest_run()
        return {
            "customer_id": customer_id,
            "hops": hops,
            "run_id": run.run_id if run else None,
            "nodes": [
                {
                    "id": str(n["customer_id"]),
                    "hop": int(n["hop"]),
                    "community_id": community[n["customer_id"]],
                    "influence": n.get("influence"),
                }
                for n in nodes
            ],
            "edges": [
                {
                    "source": str(e["src_id"]),
                    "target": str(e["dst_id"]),
                    "type": str(e["type"]),
                    "weight": float(e["weight"] or 0.0),
                    "interactions": int(e["interactions"] or 0),
                    "source_community": community.get(e["src_id"]),
                    "target_community": community.get(e["dst_id"]),
                }
                for e in _records(ego.edges)
            ],
        }

    # --- communities ----------------------------------------------------------------------
    def communities(self, *, limit: int, offset: int) -> dict:
        run = self.run()
        com = self._cache(run).communities
        data = _records(com.iloc[offset : offset + limit])
        return {
            "data": data,
            "count": len(data),
            "limit": limit,
            "offset": offset,
            "total": len(com),
            "run_id": run.run_id,
        }

    def community(self, community_id: str, *, leaders: int = 10) -> dict:
        """Stats, leaders and tag composition of one community.

        Raises
        ------
        RunNotFound, CommunityNotFound
        """
        run = self.run()
        cache = self._cache(run)
        try:
            i = cache.community_index.get_loc(community_id)
        except KeyError:
            raise CommunityNotFound(community_id) from None
        stats = _records(cache.communities.iloc[[i]])[0]
        top = self._top(cache, community_id, None).iloc[:leaders]
        comp = self._composition(cache)
        mine = comp[comp["community_id"] == community_id]
        size = max(int(stats.get("size") or 0), 1)
        return {
            "community": stats,
            "run_id": run.run_id,
            "leaders": self._influencer_rows(cache, top, first_rank=1),
            "tag_composition": [
                {"tag_id": str(t), "customers": int(n), "share": round(int(n) / size, 6)}
                for t, n in zip(mine["tag_id"], mine["customers"], strict=True)
            ],
        }

    def _tag_index(self, cache: _RunCache) -> _TagIndex:
        """Which tags each customer holds, as codes, for the whole run; built once per run.

        Reads the holders of one tag at a time, so memory peaks at one tag's assignments;
        the result is ~2 bytes per assignment (tag codes sorted by customer position).
        """
        if cache.tag_index is not None:
            return cache.tag_index
        with cache.lock:
            if cache.tag_index is not None:
                return cache.tag_index
            names: list[str] = []
            pos_parts, code_parts = [], []
            for tag_id, n in zip(cache.catalog["tag_id"], cache.catalog["count"], strict=True):
                if not n:
                    continue
                holders = self.store.read_tags(cache.run.run_id, tag_id=str(tag_id))
                pos = cache.ids.get_indexer(holders["customer_id"].astype(str))
                pos = pos[pos >= 0]
                pos_parts.append(pos.astype(np.int64))
                code_parts.append(np.full(len(pos), len(names), dtype=np.int32))
                names.append(str(tag_id))
            pos = np.concatenate(pos_parts) if pos_parts else np.zeros(0, np.int64)
            codes = np.concatenate(code_parts) if code_parts else np.zeros(0, np.int32)
            order = np.lexsort((codes, pos))
            pos, codes = pos[order], codes[order]
            offsets = np.zeros(len(cache.ids) + 1, dtype=np.int64)
            np.cumsum(np.bincount(pos, minlength=len(cache.ids)), out=offsets[1:])
            cache.tag_index = _TagIndex(names=names, offsets=offsets, codes=codes, pos=pos)
            return cache.tag_index

    def _tag_ids(self, cache: _RunCache, customer_id: str) -> list[str]:
        idx = self._tag_index(cache)
        try:
            i = cache.ids.get_loc(customer_id)
        except KeyError:
            return []
        return [idx.names[c] for c in idx.codes[idx.offsets[i] : idx.offsets[i + 1]]]

    def _composition(self, cache: _RunCache) -> pd.DataFrame:
        """community_id, tag_id, customers for the whole run, computed once per run."""
        if cache.composition is not None:
            return cache.composition
        idx = self._tag_index(cache)
        com = cache.columns.get("community_id")
        if com is None or not len(idx.codes):
            comp = pd.DataFrame({"community_id": [], "tag_id": [], "customers": []})
        else:
            ccodes, uniques = pd.factorize(pd.Series(com, dtype="object"))
            c = ccodes[idx.pos]
            keep = c >= 0
            pair = c[keep].astype(np.int64) * len(idx.names) + idx.codes[keep]
            counts = np.bincount(pair, minlength=len(uniques) * len(idx.names))
            nz = np.nonzero(counts)[0]
            comp = pd.DataFrame(
                {
                    "community_id": np.asarray(uniques, dtype=object)[nz // len(idx.names)],
                    "tag_id": np.asarray(idx.names, dtype=object)[nz % len(idx.names)],
                    "customers": counts[nz],
                }
            )
        cache.composition = comp.sort_values(
            ["community_id", "customers", "tag_id"], ascending=[True, False, True]
        ).reset_index(drop=True)
        return cache.composition

    # --- tags -----------------------------------------------------------------------------
    def tags(self) -> dict:
        run = self.run()
        cache = self._cache(run)
        n = max(len(cache.ids), 1)
        data = []
        for rec in _records(cache.catalog):
            count = int(rec.pop("count", 0) or 0)
            data.append(
                {**rec, "tag_id": str(rec["tag_id"]), "customers": count, "coverage": count / n}
            )
        return {"data": data, "count": len(data), "run_id": run.run_id}

    def tag_members(self, tag_id: str, *, limit: int, offset: int) -> dict:
        """A page of a tag's holders, strongest score first.

        Raises
        ------
        RunNotFound, TagNotFound
        """
        run = self.run()
        cache = self._cache(run)
        self._check_filters(cache, None, tag_id)
        total = int(cache.catalog.loc[cache.catalog["tag_id"] == tag_id, "count"].iloc[0] or 0)
        df = self.store.read_tags(run.run_id, tag_id=tag_id, limit=limit, offset=offset)
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

    def tags_diff(self, run_a: str, run_b: str, *, limit: int, offset: int) -> dict:
        """Tags gained and lost between two runs.

        Raises
        ------
        RunNotFound
        """
        per, totals = service.tags_diff(self.store, run_a, run_b)
        page = per.iloc[offset : offset + limit]
        data = _records(page)
        return {
            "from_run": run_a,
            "to_run": run_b,
            "totals": _records(totals),
            "data": data,
            "count": len(data),
            "limit": limit,
            "offset": offset,
            "total": len(per),
        }

    def runs(self) -> dict:
        data = [
            {
                "run_id": r.run_id,
                "created_at": r.created_at,
                "params": r.params,
                "input_counts": r.input_counts,
                "stats": r.stats,
            }
            for r in self.store.list_runs()
        ]
        return {"data": data, "count": len(data)}

    # --- segments -------------------------------------------------------------------------
    def _segment_members(self, expression: str, run_id: str | None) -> tuple[RunInfo, list[str]]:
        from tagging import parse_segment

        parse_segment(expression)  # a malformed expression fails before any store access
        run = self.run(run_id)
        key = (run.run_id, expression)
        members = self._segments.get(key)
        if members is None:
            run, members = service.segment(self.store, expression, run_id=run.run_id)
            self._segments.put(key, members)
        return run, members

    def segment(self, expression: str, *, run_id: str | None, limit: int, offset: int) -> dict:
        """The size of a segment and one page of its members.

        Raises
        ------
        RuleError
            The expression does not parse (with the position).
        RunNotFound
        """
        run, members = self._segment_members(expression, run_id)
        cache = self._cache(run)
        data = []
        for cid in members[offset : offset + limit]:
            m = cache.metrics_of(cid) or {}
            com = m.get("community_id")
            data.append(
                {
                    "customer_id": cid,
                    "community_id": None if com is None else str(com),
                    "influence": m.get("influence"),
                }
            )
        return {
            "expression": expression,
            "run_id": run.run_id,
            "count": len(members),
            "limit": limit,
            "offset": offset,
            "data": data,
        }

    def segment_csv(
        self, expression: str, *, run_id: str | None, unmasked: bool
    ) -> tuple[RunInfo, Iterator[str]]:
        """The whole segment as CSV text chunks, PII masked unless `unmasked`.

        The expression is parsed and evaluated before the first chunk, so errors still become
        a proper status code instead of a broken stream.

        Raises
        ------
        RuleError, RunNotFound
        """
        run, members = self._segment_members(expression, run_id)
        cache = self._cache(run)
        customers = self.store.read_table(
            "customers", ["customer_id", "name", "phone", "id_number"]
        )
        wanted = pa.array(members, type=pa.string())
        customers = customers.filter(pc.is_in(customers["customer_id"], value_set=wanted))
        customers = customers.sort_by("customer_id")

        def chunks() -> Iterator[str]:
            yield "customer_id,name,phone,id_number,community_id,influence\n"
            for start in range(0, customers.num_rows, EXPORT_CHUNK):
                df = customers.slice(start, EXPORT_CHUNK).to_pandas()
                df = mask_frame(df, unmasked=unmasked)
                pos = cache.ids.get_indexer(df["customer_id"].astype(str))
                for col in ("community_id", "influence"):
                    arr = cache.columns.get(col)
                    df[col] = (
                        [None if p < 0 else _py(arr[p]) for p in pos] if arr is not None else None
                    )
                yield df.to_csv(index=False, header=False)

        return run, chunks()


__all__ = ["Reads", "StoreUnavailable", "TagNotFound"]
