"""One run's serving data held in memory, the customers it is served with, and a small LRU.

`RunCache` is what one run lets us precompute: its metrics as numpy columns, the influence
ranking computed once, communities and catalog, the tag index when it could be built, and
the rendered pages and filtered rankings of that run (in bounded LRU maps, dropped with the
run). `Customers` holds customer attributes as Arrow columns with a hash index on the id, as
of the last (re)build: a customer loaded later is looked up in the store, but an edited
attribute shows with the next run. `Served` pairs the two, so they are swapped as one.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from api.http.readmodel.tag_index import TagIndex
from api.usecases.encoding import jsonable
from api.usecases.profiles import ROW_KEYS, community_of
from graph.errors import CommunityNotFound, StoreError
from graph.model import RunInfo
from graph.ranking import influence_ranking
from graph.store import GraphStore

PAGE_CACHE = 512
FILTER_CACHE = 64


class TagNotFound(StoreError):
    """A tag id that the run's catalog does not hold."""

    def __init__(self, tag_id: str) -> None:
        super().__init__(f"tag {tag_id!r} not found in the catalog of the current run")
        self.tag_id = tag_id


class LRU:
    """A small thread-safe LRU map (None is never stored: `get` returns it for a miss)."""

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


def position(index: pd.Index, key: str) -> int | None:
    """Position of `key` in a unique index, or None."""
    try:
        i = index.get_loc(key)
    except (KeyError, TypeError):
        return None
    return int(i) if isinstance(i, int | np.integer) else None


@dataclass(frozen=True)
class Customers:
    """Customer attributes as Arrow columns; row i is customer `ids[i]`."""

    ids: pd.Index
    columns: tuple[tuple[str, pa.Array], ...]

    @classmethod
    def read(cls, store: GraphStore) -> Customers:
        table = store.read_table("customers").combine_chunks()
        ids = pd.Index(table.column("customer_id").to_pandas().astype(str))
        if not ids.is_unique:
            # never expected (customer_id is the natural key); keep the first of each id
            keep = ~ids.duplicated()
            table, ids = table.filter(pa.array(keep)), ids[keep]
        cols = tuple((n, table.column(n).chunk(0)) for n in table.column_names)
        return cls(ids=ids, columns=cols)

    def record(self, customer_id: str) -> dict | None:
        """The customer's stored row, or None when the customer joined after the build."""
        i = position(self.ids, customer_id)
        if i is None:
            return None
        return {name: col[i].as_py() for name, col in self.columns}


@dataclass
class RunCache:
    """What one run lets us precompute; dropped when the run is no longer served."""

    run: RunInfo
    ids: pd.Index
    columns: dict[str, np.ndarray]
    communities: pd.DataFrame
    community_index: pd.Index
    catalog: pd.DataFrame
    catalog_ids: frozenset[str]
    ranking: np.ndarray  # metrics rows in the order of graph.ranking
    community_codes: np.ndarray  # per metrics row; -1 without a community
    community_names: pd.Index
    filters: LRU = field(default_factory=lambda: LRU(FILTER_CACHE))
    pages: LRU = field(default_factory=lambda: LRU(PAGE_CACHE))
    tag_index: TagIndex | None = None
    tag_codes: tuple[list[str], np.ndarray, np.ndarray] | None = None
    composition: pd.DataFrame | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def read(cls, store: GraphStore, run: RunInfo) -> RunCache:
        """The run's metrics, communities and catalog (no tags: see `tag_index`).

        Raises
        ------
        StoreError
            The store cannot be read.
        """
        m = store.read_metrics(run.run_id)
        ids = pd.Index(m["customer_id"].astype(str))
        columns = {c: m[c].to_numpy() for c in m.columns if c not in ROW_KEYS}
        del m
        n = len(ids)
        ranking = influence_ranking(columns.get("influence"), ids)
        com = columns.get("community_id")
        if com is None:
            codes, names = np.full(n, -1, dtype=np.int64), pd.Index([], dtype=object)
        else:
            codes, names = pd.factorize(pd.Series(com, dtype=object).map(community_of))
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
        """Metrics row `row` as JSON-ready values."""
        return {c: jsonable(a[row]) for c, a in self.columns.items()}

    def metrics_of(self, customer_id: str) -> dict | None:
        row = position(self.ids, customer_id)
        return None if row is None else self.metrics_row(row)

    def check_filters(self, community_id: str | None, tag_id: str | None) -> None:
        """Refuse a filter naming a community or tag the run does not have.

        Raises
        ------
        CommunityNotFound, TagNotFound
        """
        if community_id is not None and community_id not in self.community_index:
            raise CommunityNotFound(community_id)
        if tag_id is not None and tag_id not in self.catalog_ids:
            raise TagNotFound(tag_id)

    def n_assignments(self) -> int:
        """Tag assignments in the run, from the catalog's counts."""
        counts = pd.to_numeric(self.catalog.get("count", pd.Series([], dtype=float)))
        return int(counts.fillna(0).sum())


@dataclass(frozen=True)
class Served:
    """The current run's cache and the customers it is served with, swapped as one."""

    run: RunInfo
    cache: RunCache
    customers: Customers


__all__ = ["LRU", "Customers", "RunCache", "Served", "TagNotFound", "position"]
