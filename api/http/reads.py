"""The HTTP read model: the current run's serving data held in memory, shaped for the wire.

The routes call this module and nothing else, so no query lives in a route. The two hot
endpoints (`/influencers`, `/customers/{id}`) must answer in a few milliseconds at a million
customers, which per-request SQL cannot do, so the current run is served from memory:

- customer attributes as Arrow columns with a hash index on the id (~200 MB at 1M);
- the run's metrics as numpy columns, and the influence ranking computed once;
- every tag assignment (code, score, reason) grouped by customer (CSR offsets), so a profile
  is a slice and an influencer's tag list needs no query (~600 MB at 1M);
- rendered influencer pages (JSON bytes) and filtered rankings in bounded LRU caches.

This is built once, at start-up (`warm`) or on first use, and rebuilt in the background when
`store.list_runs()[0]` changes (checked at most once per `run_ttl` seconds, off the request
path); the old run keeps being served until the new one is ready, so a rebuild briefly holds
both in memory. Attributes are therefore as of the last (re)build: a customer loaded later
is still found (an id missing from memory is looked up in the store), but an edited
attribute shows with the next run.

The tag index needs one pass over the run's assignments. It comes from the store's
streaming ``scan_tags(run_id)`` when the store has one (bounded memory), else from
``read_tags(run_id)`` when the run is small enough for that to fit (`FULL_READ_LIMIT`), else
profile tags and influencer tag lists are read from the store per request (slower, but
memory stays flat). PII is masked here, once, for every endpoint and export, through
`api.usecases.masking`: the built-in columns plus those declared in settings and in the store (the
store's declaration is re-read at most once per `run_ttl` seconds).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from api import usecases
from api.usecases.masking import mask_frame, public_attributes, served_pii_columns
from graph.errors import CommunityNotFound, RunNotFound, StoreError, StoreUnavailable
from graph.model import RunInfo
from graph.store import GraphStore

log = logging.getLogger("guanxi.api")

PAGE_CACHE = 512
FILTER_CACHE = 64
SEGMENT_CACHE = 32
EXPORT_CHUNK = 10_000
INFLUENCER_COLUMNS = ("pagerank", "degree", "reach_2hop")
#: Largest run (tag assignments) whose tags are loaded with one `read_tags(run_id)` when the
#: store cannot stream them: that call sorts and converts everything at once, which peaks at
#: ~0.8 KB per assignment (measured: +766 MB for 912k assignments).
FULL_READ_LIMIT = 1_500_000
_TAG_BATCH = 200_000


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
    """A JSON-ready Python value: numpy scalars unwrapped, NaN/inf/NaT as None."""
    if v is None:
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


def json_bytes(body: Any) -> bytes:
    """`body` as JSON exactly as FastAPI's JSONResponse would render it."""
    return json.dumps(body, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


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


def _loc(index: pd.Index, key: str) -> int | None:
    """Position of `key` in a unique index, or None."""
    try:
        i = index.get_loc(key)
    except (KeyError, TypeError):
        return None
    return int(i) if isinstance(i, int | np.integer) else None


# --- in-memory serving data -----------------------------------------------------------------
@dataclass(frozen=True)
class _Customers:
    """Customer attributes as Arrow columns; row i is customer `ids[i]`."""

    ids: pd.Index
    columns: tuple[tuple[str, pa.Array], ...]

    @classmethod
    def read(cls, store: GraphStore) -> _Customers:
        table = store.read_table("customers").combine_chunks()
        ids = pd.Index(table.column("customer_id").to_pandas().astype(str))
        if not ids.is_unique:
            # never expected (customer_id is the natural key); keep the first of each id
            keep = ~ids.duplicated()
            table, ids = table.filter(pa.array(keep)), ids[keep]
        cols = tuple((n, table.column(n).chunk(0)) for n in table.column_names)
        return cls(ids=ids, columns=cols)

    def record(self, customer_id: str) -> dict | None:
        i = _loc(self.ids, customer_id)
        if i is None:
            return None
        return {name: col[i].as_py() for name, col in self.columns}


@dataclass(frozen=True)
class _TagIndex:
    """A run's tag assignments grouped by metrics row (CSR).

    Row r holds assignments ``offsets[r]:offsets[r+1]`` of `codes`, `scores` and
    `reason_idx`, ordered by score descending then tag id, the order
    `read_tags(customer_id=...)` returns. Reasons are dictionary-encoded: most are shared
    (every member of a community has the same community reason; measured 14% distinct), so
    a million customers' 9M reasons take ~150 MB instead of ~560 MB.
    """

    names: list[str]
    catalog_rank: np.ndarray  # per code: position in the catalog, len(catalog) if absent
    offsets: np.ndarray
    codes: np.ndarray
    scores: np.ndarray
    reason_idx: np.ndarray
    reason_dict: pa.Array

    def tags_of(self, row: int) -> list[dict]:
        a, b = int(self.offsets[row]), int(self.offsets[row + 1])
        if a == b:
            return []
        names = self.names
        reasons = self.reason_dict.take(pa.array(self.reason_idx[a:b])).to_pylist()
        return [
            {"tag_id": names[c], "score": float(s), "reason": r}
            for c, s, r in zip(
                self.codes[a:b].tolist(), self.scores[a:b].tolist(), reasons, strict=True
            )
        ]

    def catalog_tags_of(self, row: int) -> list[str]:
        """The row's tags that are in the catalog, in catalog order."""
        codes = self.codes[int(self.offsets[row]) : int(self.offsets[row + 1])]
        n_catalog = len(self.catalog_rank)
        ranked = sorted((int(self.catalog_rank[c]), int(c)) for c in codes)
        return [self.names[c] for rank, c in ranked if rank < n_catalog]

    def rows_of(self) -> np.ndarray:
        """The metrics row of every assignment (aligned with `codes`)."""
        return np.repeat(np.arange(len(self.offsets) - 1), np.diff(self.offsets))

    def holders(self, tag_id: str) -> np.ndarray:
        try:
            code = self.names.index(tag_id)
        except ValueError:
            return np.zeros(0, np.int64)
        return np.unique(self.rows_of()[self.codes == code])


def _tag_batches_read_all(store: GraphStore, run_id: str) -> Iterator[pa.RecordBatch]:
    df = store.read_tags(run_id)[["customer_id", "tag_id", "score", "reason"]]
    table = pa.Table.from_pandas(df, preserve_index=False)
    del df
    yield from table.to_batches(_TAG_BATCH)


def _positions(values: pa.Array | pa.ChunkedArray, value_set: pa.Array) -> np.ndarray:
    """Position of each value in `value_set` (-1 when absent), hashed in Arrow."""
    found = pc.index_in(values.cast(pa.string()), value_set=value_set)
    return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


def _build_tag_index(
    batches: Iterable[pa.RecordBatch], ids: pd.Index, catalog_ids: list[str]
) -> _TagIndex:
    """Group assignment batches (customer_id, tag_id, score, reason) by metrics row.

    The batches are consumed one at a time and never turned into Python objects, so memory
    peaks near the finished index. Assignments of customers missing from the run's metrics
    are dropped (they cannot be ranked or profiled against the run).
    """
    id_set = pa.array(ids.astype(str).array, type=pa.string())
    names = [str(t) for t in catalog_ids]
    name_set = pa.array(names, type=pa.string())
    rows_p, codes_p, scores_p, reasons_p = [], [], [], []
    for batch in batches:
        rows = _positions(batch.column("customer_id"), id_set)
        codes = _positions(batch.column("tag_id"), name_set)
        if (codes < 0).any():  # a tag missing from the catalog: give it a code
            tag_ids = batch.column("tag_id").cast(pa.string()).to_pylist()
            names += sorted({tag_ids[i] for i in np.flatnonzero(codes < 0)} - set(names))
            name_set = pa.array(names, type=pa.string())
            codes = _positions(batch.column("tag_id"), name_set)
        keep = rows >= 0
        reason = batch.column("reason").cast(pa.string()).fill_null("")
        if not keep.all():
            reason = reason.filter(pa.array(keep))
        rows_p.append(rows[keep])
        codes_p.append(codes[keep].astype(np.int32))
        scores_p.append(batch.column("score").to_numpy(zero_copy_only=False)[keep])
        reasons_p.append(pc.dictionary_encode(reason))
    rows = np.concatenate(rows_p) if rows_p else np.zeros(0, np.int64)
    codes = np.concatenate(codes_p) if codes_p else np.zeros(0, np.int32)
    scores = np.concatenate(scores_p).astype(np.float64) if scores_p else np.zeros(0)
    del rows_p, codes_p, scores_p
    if reasons_p:
        unified = pa.chunked_array(reasons_p).unify_dictionaries()
        reason_dict = unified.chunk(0).dictionary
        reason_idx = np.concatenate(
            [c.indices.to_numpy(zero_copy_only=False) for c in unified.chunks]
        ).astype(np.int32)
        del unified, reasons_p
    else:
        reason_dict, reason_idx = pa.array([], type=pa.string()), np.zeros(0, np.int32)
    name_rank = np.argsort(np.argsort(np.asarray(names, dtype=object)))
    order = np.lexsort((name_rank[codes], -scores, rows))
    offsets = np.zeros(len(ids) + 1, dtype=np.int64)
    np.cumsum(np.bincount(rows, minlength=len(ids)), out=offsets[1:])
    catalog_rank = np.full(len(names), len(catalog_ids), dtype=np.int64)
    catalog_rank[: len(catalog_ids)] = np.arange(len(catalog_ids))
    return _TagIndex(
        names=names,
        catalog_rank=catalog_rank,
        offsets=offsets,
        codes=codes[order],
        scores=scores[order],
        reason_idx=reason_idx[order],
        reason_dict=reason_dict,
    )


def _release_memory() -> None:
    """Hand freed heap back to the OS after a build (glibc keeps it otherwise: ~0.8 GB at
    1M customers, the transient columns of the build)."""
    import ctypes
    import gc

    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


@dataclass
class _RunCache:
    """What one run lets us precompute; dropped when the run is no longer served."""

    run: RunInfo
    ids: pd.Index
    columns: dict[str, np.ndarray]
    communities: pd.DataFrame
    community_index: pd.Index
    catalog: pd.DataFrame
    catalog_ids: frozenset[str]
    ranking: np.ndarray  # metrics rows, strongest influence first, ties by customer id
    community_codes: np.ndarray  # per metrics row; -1 without a community
    community_names: pd.Index
    filters: _LRU = field(default_factory=lambda: _LRU(FILTER_CACHE))
    pages: _LRU = field(default_factory=lambda: _LRU(PAGE_CACHE))
    tag_index: _TagIndex | None = None
    tag_codes: tuple[list[str], np.ndarray, np.ndarray] | None = None
    composition: pd.DataFrame | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def read(cls, store: GraphStore, run: RunInfo) -> _RunCache:
        m = store.read_metrics(run.run_id)
        ids = pd.Index(m["customer_id"].astype(str))
        columns = {c: m[c].to_numpy() for c in m.columns if c not in ("customer_id", "run_id")}
        del m
        n = len(ids)
        influence = columns.get("influence")
        key = -np.asarray(influence, dtype=np.float64) if influence is not None else np.zeros(n)
        if ids.is_monotonic_increasing:
            ranking = np.argsort(key, kind="stable")
        else:
            ranking = np.lexsort((np.argsort(np.argsort(ids.to_numpy(dtype=object))), key))
        com = columns.get("community_id")
        if com is None:
            codes, names = np.full(n, -1, dtype=np.int64), pd.Index([], dtype=object)
        else:
            codes, names = pd.factorize(pd.Series(com, dtype=object).map(_str_or_none))
        communities = store.read_communities(run.run_id)
        communities["community_id"] = communities["community_id"].astype(str)
        catalog = store.read_catalog(run.run_id)
        return cls(
            run=run,
            ids=ids,
            columns=columns,
            communities=communities,
            community_index=pd.Index(communities["community_id"]),
            catalog=catalog,
            catalog_ids=frozenset(catalog["tag_id"].astype(str)),
            ranking=ranking.astype(np.int64),
            community_codes=np.asarray(codes, dtype=np.int64),
            community_names=pd.Index(names),
        )

    def metrics_row(self, row: int) -> dict:
        return {c: _py(a[row]) for c, a in self.columns.items()}

    def metrics_of(self, customer_id: str) -> dict | None:
        row = _loc(self.ids, customer_id)
        return None if row is None else self.metrics_row(row)

    def n_assignments(self) -> int:
        counts = pd.to_numeric(self.catalog.get("count", pd.Series([], dtype=float)))
        return int(counts.fillna(0).sum())


def _str_or_none(v: Any) -> str | None:
    return None if v is None or (isinstance(v, float) and v != v) else str(v)


@dataclass(frozen=True)
class _Serving:
    """The current run's cache and the customers it is served with, swapped as one."""

    run: RunInfo
    cache: _RunCache
    customers: _Customers


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
        How to open `store_uri` (default: `usecases.open_configured_store`, read-only).
    run_ttl
        Seconds between two checks for a newer run (and for newly declared PII columns).
    pii_columns
        Input columns declared PII by the operator (``GUANXI_PII_COLUMNS``), masked below
        admin together with the built-in ones and those the store declares.
    """

    def __init__(
        self,
        store_uri: str,
        *,
        store: GraphStore | None = None,
        open_store: Callable[[str], GraphStore] | None = None,
        run_ttl: float = 2.0,
        pii_columns: Iterable[str] = (),
    ) -> None:
        self.store_uri = store_uri
        self._configured_pii = tuple(pii_columns)
        self._pii: tuple[float, tuple[str, ...]] | None = None
        self._store = store
        self._owns_store = store is None
        self._open = open_store or (lambda uri: usecases.open_configured_store(uri, read_only=True))
        self._run_ttl = run_ttl
        self._lock = threading.Lock()
        self._build_lock = threading.Lock()
        self._latest: tuple[float, RunInfo | None] | None = None
        self._serving: _Serving | None = None
        self._checked = 0.0
        self._refreshing = False
        self._other = _LRU(1)
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
        self._serving = None

    def latest_run(self) -> RunInfo | None:
        """The newest run in the store, re-read at most once per `run_ttl` seconds."""
        now = time.monotonic()
        cached = self._latest
        if cached is not None and now - cached[0] < self._run_ttl:
            return cached[1]
        runs = self.store.list_runs()
        latest = runs[0] if runs else None
        self._latest = (now, latest)
        return latest

    def pii_columns(self) -> tuple[str, ...]:
        """The columns masked below admin, the store's declaration re-read at most once per
        `run_ttl` seconds.

        Raises
        ------
        StoreError
            The store cannot be read.
        """
        now = time.monotonic()
        cached = self._pii
        if cached is not None and now - cached[0] < self._run_ttl:
            return cached[1]
        columns = served_pii_columns(self.store, self._configured_pii)
        self._pii = (now, columns)
        return columns

    def _cached_pii_columns(self) -> tuple[str, ...] | None:
        """What `pii_columns` last read, without touching the store (for the event loop);
        None before the first read. `_refresh` keeps it within `run_ttl` of the store."""
        cached = self._pii
        return None if cached is None else cached[1]

    def _current(self) -> _Serving | None:
        """What is served now: built on first use, then refreshed in the background.

        Raises
        ------
        StoreError
            Only while nothing is served yet (the first build).
        """
        serving = self._serving
        if serving is not None:
            if time.monotonic() - self._checked >= self._run_ttl:
                self._schedule_refresh()
            return serving
        with self._build_lock:
            if self._serving is None:
                run = self.latest_run()
                if run is None:
                    return None
                self._serving = self._build(run)
                self._checked = time.monotonic()
            return self._serving

    def _build(self, run: RunInfo) -> _Serving:
        t = time.perf_counter()
        store = self.store
        cache = _RunCache.read(store, run)
        customers = _Customers.read(store)
        self.pii_columns()
        self._load_tag_index(cache)
        _release_memory()
        log.info("serving run %s built in %.1fs", run.run_id, time.perf_counter() - t)
        return _Serving(run=run, cache=cache, customers=customers)

    def _load_tag_index(self, cache: _RunCache) -> None:
        scan = getattr(self.store, "scan_tags", None)
        if callable(scan):
            batches: Iterable[pa.RecordBatch] = scan(cache.run.run_id)
        elif cache.n_assignments() <= FULL_READ_LIMIT:
            batches = _tag_batches_read_all(self.store, cache.run.run_id)
        else:
            return  # per-request reads; see the module docstring
        cache.tag_index = _build_tag_index(batches, cache.ids, list(cache.catalog["tag_id"]))

    def _schedule_refresh(self) -> None:
        with self._lock:
            if self._refreshing:
                return
            self._refreshing = True
            self._checked = time.monotonic()
        threading.Thread(target=self._refresh, name="guanxi-refresh", daemon=True).start()

    def _refresh(self) -> None:
        """Serve the newest run once its data is built; the old one meanwhile."""
        try:
            # a later `guanxi load --pii-columns` is picked up here, within `run_ttl`
            pii = served_pii_columns(self.store, self._configured_pii)
            self._pii = (time.monotonic(), pii)
            runs = self.store.list_runs()
            latest = runs[0] if runs else None
            self._latest = (time.monotonic(), latest)
            serving = self._serving
            if latest is not None and serving is not None and latest.run_id != serving.run.run_id:
                with self._build_lock:
                    self._serving = self._build(latest)
        except Exception:
            log.exception("refreshing the served run failed; still serving the previous one")
        finally:
            self._checked = time.monotonic()
            self._refreshing = False

    def run(self, run_id: str | None = None) -> RunInfo:
        """The named run, or the current (served) one.

        Raises
        ------
        RunNotFound
        """
        if run_id is None:
            serving = self._current()
            if serving is None:
                raise RunNotFound(None)
            return serving.run
        serving = self._serving
        if serving is not None and serving.run.run_id == run_id:
            return serving.run
        cache = self._other.get(run_id)
        if cache is not None:
            return cache.run
        return usecases.resolve_run(self.store, run_id)

    def _cache(self, run: RunInfo) -> _RunCache:
        serving = self._current()
        if serving is not None and serving.run.run_id == run.run_id:
            return serving.cache
        cache = self._other.get(run.run_id)
        if cache is None:
            cache = _RunCache.read(self.store, run)  # metrics only; tags stay in the store
            self._other.put(run.run_id, cache)
        return cache

    def warm(self) -> None:
        """Build the current run's serving data and its first influencer page (start-up)."""
        try:
            if self._current() is not None:
                self.influencers_json(limit=20)
        except Exception:
            log.exception("warming the API caches failed; the first request will retry")

    def is_warm(self) -> bool:
        return self._serving is not None

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
        serving = self._serving
        out["served_run_id"] = serving.run.run_id if serving is not None else None
        return out

    # --- influencers ----------------------------------------------------------------------
    def _check_filters(self, cache: _RunCache, community_id: str | None, tag_id: str | None):
        if community_id is not None and community_id not in cache.community_index:
            raise CommunityNotFound(community_id)
        if tag_id is not None and tag_id not in cache.catalog_ids:
            raise TagNotFound(tag_id)

    def _ranked(self, cache: _RunCache, community_id: str | None, tag_id: str | None):
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
            held[self._holders(cache, tag_id)] = True
            rows = rows[held[rows]]
        cache.filters.put(key, rows)
        return rows

    def _holders(self, cache: _RunCache, tag_id: str) -> np.ndarray:
        if cache.tag_index is not None:
            return cache.tag_index.holders(tag_id)
        df = self.store.read_tags(cache.run.run_id, tag_id=tag_id)
        rows = cache.ids.get_indexer(df["customer_id"].astype(str))
        return rows[rows >= 0]

    def _page(self, *, limit, offset, community_id, tag_id) -> tuple[_Serving, dict, bytes]:
        serving = self._current()
        if serving is None:
            raise RunNotFound(None)
        cache = serving.cache
        key = (community_id, tag_id, limit, offset)
        hit = cache.pages.get(key)
        if hit is not None:
            return serving, hit[0], hit[1]
        self._check_filters(cache, community_id, tag_id)
        rows = self._ranked(cache, community_id, tag_id)[offset : offset + limit]
        data = self._influencer_rows(cache, rows, first_rank=offset + 1)
        page = {
            "data": data,
            "count": len(data),
            "limit": limit,
            "offset": offset,
            "run_id": serving.run.run_id,
        }
        body = json_bytes(page)
        cache.pages.put(key, (page, body))
        return serving, page, body

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
        page = self._page(limit=limit, offset=offset, community_id=community_id, tag_id=tag_id)
        return page[1]

    def influencers_json(
        self,
        *,
        limit: int,
        offset: int = 0,
        community_id: str | None = None,
        tag_id: str | None = None,
    ) -> bytes:
        """`influencers` rendered as JSON bytes (cached per page).

        Raises
        ------
        RunNotFound, CommunityNotFound, TagNotFound
        """
        page = self._page(limit=limit, offset=offset, community_id=community_id, tag_id=tag_id)
        return page[2]

    def cached_influencers_json(
        self,
        *,
        limit: int,
        offset: int = 0,
        community_id: str | None = None,
        tag_id: str | None = None,
    ) -> bytes | None:
        """The rendered page if it is cached, else None; never blocks (event-loop safe)."""
        serving = self._serving
        if serving is None:
            return None
        if time.monotonic() - self._checked >= self._run_ttl:
            self._schedule_refresh()
        hit = serving.cache.pages.get((community_id, tag_id, limit, offset))
        return None if hit is None else hit[1]

    def _influencer_rows(
        self, cache: _RunCache, rows: np.ndarray, *, first_rank: int
    ) -> list[dict]:
        cols = [c for c in INFLUENCER_COLUMNS if c in cache.columns]
        influence = cache.columns.get("influence")
        out = []
        for rank, r in enumerate(rows.tolist(), start=first_rank):
            cid = str(cache.ids[r])
            com = cache.community_codes[r]
            row = {
                "rank": rank,
                "customer_id": cid,
                "score": (_py(influence[r]) if influence is not None else None) or 0.0,
                "community_id": None if com < 0 else str(cache.community_names[com]),
                "tags": self._tag_ids(cache, r, cid),
            }
            row.update({c: _py(cache.columns[c][r]) for c in cols})
            out.append(row)
        return out

    def _tag_ids(self, cache: _RunCache, row: int, customer_id: str) -> list[str]:
        """The customer's tags in the run, in catalog order (catalog tags only)."""
        if cache.tag_index is not None:
            return cache.tag_index.catalog_tags_of(row)
        held = set(self.store.read_tags(cache.run.run_id, customer_id=customer_id)["tag_id"])
        return [t for t in cache.catalog["tag_id"].astype(str) if t in held]

    # --- customers ------------------------------------------------------------------------
    def customer_json_from_memory(self, customer_id: str, *, unmasked: bool) -> bytes | None:
        """The profile if everything it needs is in memory, else None (then call
        `customer_json` where blocking is fine); never touches the store, so it is safe on
        the event loop."""
        serving = self._serving
        pii = self._cached_pii_columns()
        if serving is None or serving.cache.tag_index is None or pii is None:
            return None
        if _loc(serving.customers.ids, customer_id) is None:
            return None
        if time.monotonic() - self._checked >= self._run_ttl:
            self._schedule_refresh()
        return json_bytes(self._profile(serving, customer_id, unmasked=unmasked, pii=pii))

    def customer(self, customer_id: str, *, unmasked: bool) -> dict:
        """Attributes (PII masked unless `unmasked`), metrics and tags with reasons.

        Raises
        ------
        CustomerNotFound
        """
        serving = self._current()
        return self._profile(serving, customer_id, unmasked=unmasked, pii=self.pii_columns())

    def _profile(
        self,
        serving: _Serving | None,
        customer_id: str,
        *,
        unmasked: bool,
        pii: tuple[str, ...],
    ) -> dict:
        attrs = serving.customers.record(customer_id) if serving is not None else None
        if attrs is None:
            attrs = self.store.get_customer(customer_id)  # loaded since the build, or 404
        shown = public_attributes(attrs, unmasked=unmasked, columns=pii)
        profile: dict = {
            "customer_id": customer_id,
            "attributes": {k: _py(v) for k, v in shown.items()},
            "run_id": None,
            "community_id": None,
            "metrics": {},
            "tags": [],
        }
        if serving is None:
            return profile
        cache = serving.cache
        row = _loc(cache.ids, customer_id)
        metrics = cache.metrics_row(row) if row is not None else {}
        if cache.tag_index is not None:
            tags = cache.tag_index.tags_of(row) if row is not None else []
        else:
            df = self.store.read_tags(serving.run.run_id, customer_id=customer_id)
            tags = [
                {"tag_id": str(t), "score": float(s), "reason": str(r)}
                for t, s, r in zip(df["tag_id"], df["score"], df["reason"], strict=True)
            ]
        profile.update(
            run_id=serving.run.run_id,
            metrics=metrics,
            community_id=_str_or_none(metrics.get("community_id")),
            tags=tags,
        )
        return profile

    def customer_json(self, customer_id: str, *, unmasked: bool) -> bytes:
        """`customer` rendered as JSON bytes.

        Raises
        ------
        CustomerNotFound
        """
        return json_bytes(self.customer(customer_id, unmasked=unmasked))

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
        serving = self._served()
        run, com = serving.run, serving.cache.communities
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
        serving = self._served()
        run, cache = serving.run, serving.cache
        try:
            i = cache.community_index.get_loc(community_id)
        except KeyError:
            raise CommunityNotFound(community_id) from None
        stats = _records(cache.communities.iloc[[i]])[0]
        top = self._ranked(cache, community_id, None)[:leaders]
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

    def _served(self) -> _Serving:
        """The served run's data.

        Raises
        ------
        RunNotFound
            No analysis has run yet.
        """
        serving = self._current()
        if serving is None:
            raise RunNotFound(None)
        return serving

    def _tag_pairs(self, cache: _RunCache) -> tuple[list[str], np.ndarray, np.ndarray]:
        """(tag names, metrics row, tag code) of every assignment of the run."""
        if cache.tag_index is not None:
            idx = cache.tag_index
            return idx.names, idx.rows_of(), idx.codes
        if cache.tag_codes is not None:
            return cache.tag_codes
        with cache.lock:
            if cache.tag_codes is None:
                # no tag index (a large run and a store that cannot stream tags): read the
                # holders one tag at a time, so memory peaks at one tag's assignments
                names: list[str] = []
                row_parts, code_parts = [], []
                for tag_id, n in zip(cache.catalog["tag_id"], cache.catalog["count"], strict=True):
                    if not n:
                        continue
                    holders = self.store.read_tags(cache.run.run_id, tag_id=str(tag_id))
                    rows = cache.ids.get_indexer(holders["customer_id"].astype(str))
                    rows = rows[rows >= 0]
                    row_parts.append(rows.astype(np.int64))
                    code_parts.append(np.full(len(rows), len(names), dtype=np.int32))
                    names.append(str(tag_id))
                rows = np.concatenate(row_parts) if row_parts else np.zeros(0, np.int64)
                codes = np.concatenate(code_parts) if code_parts else np.zeros(0, np.int32)
                cache.tag_codes = (names, rows, codes)
        return cache.tag_codes

    def _composition(self, cache: _RunCache) -> pd.DataFrame:
        """community_id, tag_id, customers for the whole run, computed once per run."""
        if cache.composition is not None:
            return cache.composition
        names, rows, codes = self._tag_pairs(cache)
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
                    "community_id": np.asarray(cache.community_names, dtype=object)[
                        nz // len(names)
                    ],
                    "tag_id": np.asarray(names, dtype=object)[nz % len(names)],
                    "customers": counts[nz],
                }
            )
        cache.composition = comp.sort_values(
            ["community_id", "customers", "tag_id"], ascending=[True, False, True]
        ).reset_index(drop=True)
        return cache.composition

    # --- tags -----------------------------------------------------------------------------
    def tags(self) -> dict:
        serving = self._served()
        run, cache = serving.run, serving.cache
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
        serving = self._served()
        run, cache = serving.run, serving.cache
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
        per, totals = usecases.tags_diff(self.store, run_a, run_b)
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
            run, members = usecases.segment(self.store, expression, run_id=run.run_id)
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
        pii = self.pii_columns()
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
                df = mask_frame(df, unmasked=unmasked, columns=pii)
                pos = cache.ids.get_indexer(df["customer_id"].astype(str))
                for col in ("community_id", "influence"):
                    arr = cache.columns.get(col)
                    df[col] = (
                        [None if p < 0 else _py(arr[p]) for p in pos] if arr is not None else None
                    )
                yield df.to_csv(index=False, header=False)

        return run, chunks()


__all__ = ["Reads", "StoreUnavailable", "TagNotFound"]
