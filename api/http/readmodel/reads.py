"""`Reads`: the one object the routes call, a facade over the read model's parts.

Each method answers one endpoint. The served run and its in-memory data come from
`refresh.RunRefresher`; rankings, communities and segments are computed by their modules;
profiles are built by `api.usecases.profiles.build_profile` (the CLI's builder) and rendered
by `api.usecases.encoding` (the CLI's encoder). PII is masked once, for every endpoint and
export, through `api.usecases.masking`: the built-in columns plus those declared in settings
and in the store.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Iterator

from api import usecases
from api.http.readmodel import communities as _communities
from api.http.readmodel.neighbours import NeighbourIndex
from api.http.readmodel.network import ego_network
from api.http.readmodel.ranking import influencer_page, page_key
from api.http.readmodel.refresh import RunRefresher
from api.http.readmodel.run_cache import LRU, Served, position
from api.http.readmodel.segments import SegmentReads
from api.usecases.encoding import json_bytes, records
from api.usecases.profiles import build_profile, tags_from_frame
from graph.errors import StoreError
from graph.model import RunInfo
from graph.store import GraphStore

log = logging.getLogger("guanxi.api")


def _redact(uri: str) -> str:
    """The store URI without user:password@."""
    scheme, sep, rest = uri.partition("://")
    if sep and "@" in rest.split("/", 1)[0]:
        rest = rest.split("@", 1)[1]
    return f"{scheme}{sep}{rest}"


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
        self.refresher = RunRefresher(
            store_uri,
            store=store,
            open_store=open_store,
            run_ttl=run_ttl,
            pii_columns=pii_columns,
        )
        self._segments = SegmentReads(self.refresher)
        #: (store, run A, run B) -> the tag diff; complete runs never change, so it stays valid
        self._diffs = LRU(4)
        #: set by the app while its start-up thread reads ahead (`health` reports it)
        self.warming = False
        #: (store, run) -> the run's relations in memory, for ego networks
        self._neighbours: tuple[tuple[str, str], NeighbourIndex] | None = None
        self._neighbours_lock = threading.Lock()
        self._neighbours_building = False

    # --- store and runs -------------------------------------------------------------------
    @property
    def store(self) -> GraphStore:
        """The refresher's store, opened on first use (see `RunRefresher.store`)."""
        return self.refresher.store

    def close(self) -> None:
        self.refresher.close()

    def latest_run(self) -> RunInfo | None:
        """The newest run in the store, re-read at most once per `run_ttl` seconds."""
        return self.refresher.latest_run()

    def pii_columns(self) -> tuple[str, ...]:
        """The columns masked below admin (see `RunRefresher.pii_columns`).

        Raises
        ------
        StoreError
            The store cannot be read.
        """
        return self.refresher.pii_columns()

    def run(self, run_id: str | None = None) -> RunInfo:
        """The named run, or the current (served) one.

        Raises
        ------
        RunNotFound
        """
        return self.refresher.run(run_id)

    def warm(self) -> None:
        """Build the current run's serving data, its first influencer page and the tag
        composition of its communities (start-up)."""
        try:
            serving = self.refresher.current()
            if serving is not None:
                self.influencers_json(limit=20)
                _communities.composition(self.store, serving.cache)
        except Exception:
            log.exception("warming the API caches failed; the first request will retry")

    def is_warm(self) -> bool:
        return self.refresher.served is not None

    # --- health and runs ------------------------------------------------------------------
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
        serving = self.refresher.served
        out["served_run_id"] = serving.run.run_id if serving is not None else None
        out["warming"] = self.warming
        return out

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

    # --- influencers ----------------------------------------------------------------------
    def _page(
        self, *, limit: int, offset: int, community_id: str | None, tag_id: str | None
    ) -> tuple[dict, bytes]:
        return influencer_page(
            self.store,
            self.refresher.served_or_404(),
            limit=limit,
            offset=offset,
            community_id=community_id,
            tag_id=tag_id,
        )

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
        return self._page(limit=limit, offset=offset, community_id=community_id, tag_id=tag_id)[0]

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
        return self._page(limit=limit, offset=offset, community_id=community_id, tag_id=tag_id)[1]

    def cached_influencers_json(
        self,
        *,
        limit: int,
        offset: int = 0,
        community_id: str | None = None,
        tag_id: str | None = None,
    ) -> bytes | None:
        """The rendered page if it is cached, else None; never blocks (event-loop safe)."""
        serving = self.refresher.peek()
        if serving is None:
            return None
        key = page_key(limit=limit, offset=offset, community_id=community_id, tag_id=tag_id)
        hit = serving.cache.pages.get(key)
        return None if hit is None else hit[1]

    # --- customers ------------------------------------------------------------------------
    def customer_json_from_memory(self, customer_id: str, *, unmasked: bool) -> bytes | None:
        """The profile if everything it needs is in memory, else None (then call
        `customer_json` where blocking is fine); never touches the store, so it is safe on
        the event loop."""
        serving = self.refresher.served
        pii = self.refresher.cached_pii_columns()
        if serving is None or serving.cache.tag_index is None or pii is None:
            return None
        if position(serving.customers.ids, customer_id) is None:
            return None
        self.refresher.peek()
        return json_bytes(self._profile(serving, customer_id, unmasked=unmasked, pii=pii))

    def customer(self, customer_id: str, *, unmasked: bool) -> dict:
        """Attributes (PII masked unless `unmasked`), metrics and tags with reasons.

        Raises
        ------
        CustomerNotFound
        """
        serving = self.refresher.current()
        return self._profile(serving, customer_id, unmasked=unmasked, pii=self.pii_columns())

    def customer_json(self, customer_id: str, *, unmasked: bool) -> bytes:
        """`customer` rendered as JSON bytes.

        Raises
        ------
        CustomerNotFound
        """
        return json_bytes(self.customer(customer_id, unmasked=unmasked))

    def _profile(
        self,
        serving: Served | None,
        customer_id: str,
        *,
        unmasked: bool,
        pii: tuple[str, ...],
    ) -> dict:
        """The profile from memory where the served run has it, else from the store."""
        record = serving.customers.record(customer_id) if serving is not None else None
        if record is None:
            record = self.store.get_customer(customer_id)  # loaded since the build, or 404
        if serving is None:
            return build_profile(customer_id, record, unmasked=unmasked, pii_columns=pii)
        cache = serving.cache
        row = position(cache.ids, customer_id)
        metrics = {c: a[row] for c, a in cache.columns.items()} if row is not None else {}
        if cache.tag_index is not None:
            tags = cache.tag_index.tags_of(row) if row is not None else []
        else:
            tags = tags_from_frame(
                self.store.read_tags(serving.run.run_id, customer_id=customer_id)
            )
        return build_profile(
            customer_id,
            record,
            run_id=serving.run.run_id,
            metrics=metrics,
            tags=tags,
            unmasked=unmasked,
            pii_columns=pii,
        )

    def network(self, customer_id: str, *, hops: int, limit: int) -> dict:
        """The ego network as nodes and edges for a graph visualisation.

        Raises
        ------
        CustomerNotFound
        """
        run = self.latest_run()
        return ego_network(
            self.store,
            customer_id,
            hops=hops,
            limit=limit,
            run_id=run.run_id if run else None,
            neighbours=self._neighbour_index(),
        )

    def warm_neighbours(self) -> None:
        """Read the relations of the served run into memory now (start-up, or a new run).

        Raises
        ------
        StoreError
            The store cannot be read.
        """
        serving = self.refresher.current()
        if serving is None:
            return
        key = (self.store_uri, serving.run.run_id)
        with self._neighbours_lock:
            if self._neighbours is not None and self._neighbours[0] == key:
                return
        rel = self.store.read_table("relations", ["src_id", "dst_id", "type", "count"])
        index = NeighbourIndex.from_relations(rel)
        del rel
        with self._neighbours_lock:
            self._neighbours = (key, index)

    def _neighbour_index(self) -> NeighbourIndex | None:
        """The in-memory relations if they are those of the served run; otherwise None, and
        they are read in the background (never on the request path)."""
        serving = self.refresher.served
        if serving is None:
            return None
        key = (self.store_uri, serving.run.run_id)
        with self._neighbours_lock:
            if self._neighbours is not None and self._neighbours[0] == key:
                return self._neighbours[1]
            if self._neighbours_building:
                return None
            self._neighbours_building = True

        def build() -> None:
            try:
                self.warm_neighbours()
            except Exception:
                log.exception("reading the relations into memory failed; the store answers")
            finally:
                with self._neighbours_lock:
                    self._neighbours_building = False

        self.refresher.background(build, "guanxi-neighbours")
        return None

    # --- communities and tags -------------------------------------------------------------
    def communities(self, *, limit: int, offset: int) -> dict:
        """A page of the served run's communities.

        Raises
        ------
        RunNotFound
        """
        serving = self.refresher.served_or_404()
        return _communities.community_list(serving, limit=limit, offset=offset)

    def community(self, community_id: str, *, leaders: int = 10) -> dict:
        """Stats, leaders and tag composition of one community.

        Raises
        ------
        RunNotFound, CommunityNotFound
        """
        serving = self.refresher.served_or_404()
        return _communities.community_detail(self.store, serving, community_id, leaders=leaders)

    def tags(self) -> dict:
        """The served run's catalog with coverage.

        Raises
        ------
        RunNotFound
        """
        return _communities.tag_catalog(self.refresher.served_or_404())

    def tag_members(self, tag_id: str, *, limit: int, offset: int) -> dict:
        """A page of a tag's holders, strongest score first.

        Raises
        ------
        RunNotFound, TagNotFound
        """
        serving = self.refresher.served_or_404()
        return _communities.tag_members(self.store, serving, tag_id, limit=limit, offset=offset)

    def tags_diff(self, run_a: str, run_b: str, *, limit: int, offset: int) -> dict:
        """Tags gained and lost between two runs.

        Raises
        ------
        RunNotFound
        """
        per, totals = self._tag_changes(run_a, run_b)
        data = records(per.iloc[offset : offset + limit])
        return {
            "from_run": run_a,
            "to_run": run_b,
            "totals": records(totals),
            "data": data,
            "count": len(data),
            "limit": limit,
            "offset": offset,
            "total": len(per),
        }

    def _tag_changes(self, run_a: str, run_b: str) -> tuple:
        key = (self.store_uri, run_a, run_b)
        found = self._diffs.get(key)
        if found is None:
            found = usecases.tags_diff(self.store, run_a, run_b)
            self._diffs.put(key, found)
        return found

    def warm_diff(self) -> None:
        """Compare the two latest runs now (start-up), so the run diff page opens at once: at a
        million customers the comparison reads ~20M assignments and takes seconds.

        Raises
        ------
        StoreError
            The store cannot be read.
        """
        runs = self.store.list_runs()
        if len(runs) >= 2:
            self._tag_changes(runs[1].run_id, runs[0].run_id)

    # --- segments -------------------------------------------------------------------------
    def segment(self, expression: str, *, run_id: str | None, limit: int, offset: int) -> dict:
        """The size of a segment and one page of its members.

        Raises
        ------
        RuleError, RunNotFound
        """
        return self._segments.page(expression, run_id=run_id, limit=limit, offset=offset)

    def segment_csv(
        self, expression: str, *, run_id: str | None, unmasked: bool
    ) -> tuple[RunInfo, Iterator[str]]:
        """The whole segment as CSV text chunks, PII masked unless `unmasked`.

        Raises
        ------
        RuleError, RunNotFound
        """
        return self._segments.csv(expression, run_id=run_id, unmasked=unmasked)


__all__ = ["Reads"]
