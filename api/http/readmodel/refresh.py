"""Which run is served: the store opened lazily, the serving data built once and refreshed
in the background.

The served run is built at start-up (`Reads.warm`) or on first use, and rebuilt in a
background thread when `store.list_runs()[0]` changes, checked at most once per `run_ttl`
seconds and never on the request path. The old run keeps being served until the new one is
ready, so a rebuild briefly holds both in memory. The store's PII declaration
(``guanxi load --pii-columns``) is re-read on the same schedule, so a later declaration masks
within `run_ttl` seconds.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Iterable

from api import usecases
from api.http.readmodel.run_cache import LRU, Customers, RunCache, Served
from api.http.readmodel.tag_index import read_tag_index
from api.usecases.masking import served_pii_columns
from graph.errors import RunNotFound
from graph.model import RunInfo
from graph.store import GraphStore

log = logging.getLogger("guanxi.api")

#: How long `RunRefresher.close` waits for each background read still running.
CLOSE_WAIT_SECONDS = 120.0


def _release_memory() -> None:
    """Hand freed heap back to the OS after a build (glibc keeps it otherwise, and the
    build's transient columns are as large as what it keeps)."""
    import ctypes
    import gc

    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)


class RunRefresher:
    """The store, the run served from it and the PII columns masked, kept current.

    Parameters are those of `api.http.readmodel.reads.Reads`.
    """

    def __init__(
        self,
        store_uri: str,
        *,
        store: GraphStore | None,
        open_store: Callable[[str], GraphStore] | None,
        run_ttl: float,
        pii_columns: Iterable[str],
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
        self._serving: Served | None = None
        self._checked = 0.0
        self._refreshing = False
        self._other = LRU(1)
        self._threads: list[threading.Thread] = []
        self._closed = False

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

    @property
    def served(self) -> Served | None:
        """What is served now, without building or scheduling anything."""
        return self._serving

    def background(self, target: Callable[[], None], name: str) -> None:
        """Run `target` (a read of the store) in a daemon thread that `close` waits for.

        Why: a store closed under a read still running in another thread fails (DuckDB
        refuses to close a connection busy with another call) or leaves the read failing
        halfway; the app's read-ahead, the served run's refresh and the in-memory relations
        are such reads. Nothing starts once `close` has begun.
        """
        thread = threading.Thread(target=target, name=name, daemon=True)
        with self._lock:
            if self._closed:
                return
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
            thread.start()

    def close(self) -> None:
        """Wait for the background reads (each up to `CLOSE_WAIT_SECONDS`), then close."""
        with self._lock:
            self._closed = True
            threads, self._threads = self._threads, []
        for thread in threads:
            thread.join(CLOSE_WAIT_SECONDS)
            if thread.is_alive():
                log.warning(
                    "%s still reading after %.0f s; closing anyway", thread.name, CLOSE_WAIT_SECONDS
                )
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

    def cached_pii_columns(self) -> tuple[str, ...] | None:
        """What `pii_columns` last read, without touching the store (for the event loop);
        None before the first read. `_refresh` keeps it within `run_ttl` of the store."""
        cached = self._pii
        return None if cached is None else cached[1]

    def peek(self) -> Served | None:
        """What is served now, never blocking (event-loop safe); schedules a refresh when the
        last check is older than `run_ttl` (nothing before the first build)."""
        serving = self._serving
        if serving is not None and time.monotonic() - self._checked >= self._run_ttl:
            self._schedule_refresh()
        return serving

    def current(self) -> Served | None:
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

    def served_or_404(self) -> Served:
        """`current`, required.

        Raises
        ------
        RunNotFound
            No analysis has run yet.
        """
        serving = self.current()
        if serving is None:
            raise RunNotFound(None)
        return serving

    def run(self, run_id: str | None = None) -> RunInfo:
        """The named run, or the current (served) one.

        Raises
        ------
        RunNotFound
        """
        if run_id is None:
            return self.served_or_404().run
        serving = self._serving
        if serving is not None and serving.run.run_id == run_id:
            return serving.run
        cache = self._other.get(run_id)
        if cache is not None:
            return cache.run
        return usecases.resolve_run(self.store, run_id)

    def cache_for(self, run: RunInfo) -> RunCache:
        """The served run's cache, or another run's metrics (the last one asked is kept)."""
        serving = self.current()
        if serving is not None and serving.run.run_id == run.run_id:
            return serving.cache
        cache = self._other.get(run.run_id)
        if cache is None:
            cache = RunCache.read(self.store, run)  # metrics only; tags stay in the store
            self._other.put(run.run_id, cache)
        return cache

    def _build(self, run: RunInfo) -> Served:
        t = time.perf_counter()
        store = self.store
        cache = RunCache.read(store, run)
        customers = Customers.read(store)
        self.pii_columns()
        cache.tag_index = read_tag_index(
            store,
            run.run_id,
            ids=cache.ids,
            catalog_ids=list(cache.catalog["tag_id"]),
            n_assignments=cache.n_assignments(),
        )
        _release_memory()
        log.info("serving run %s built in %.1fs", run.run_id, time.perf_counter() - t)
        return Served(run=run, cache=cache, customers=customers)

    def _schedule_refresh(self) -> None:
        with self._lock:
            if self._refreshing:
                return
            self._refreshing = True
            self._checked = time.monotonic()
        self.background(self._refresh, "guanxi-refresh")

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


__all__ = ["RunRefresher"]
