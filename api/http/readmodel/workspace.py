"""Reads of the served run that only the web workspace needs: the community map, a customer's
referral tree and metric percentiles, and the tags of the customers a drawn network shows.

The web workspace draws communities as nodes and the ties between them as links; no other
read gives those ties. A tie is a pair of customers with at least one relation between them
(either direction, any type), counted once, so a pair that messages daily weighs as much as
a pair with one transfer: the map shows how communities are connected, not how busy the
connections are (the communities' internal and external weights say that). The ties are
counted once per run over every relation and kept with the run (one run at a time), since
that pass reads the whole relations table; so are the referral relations the trees are
walked on.
"""

from __future__ import annotations

import threading

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from api.http.readmodel.run_cache import Served, position
from api.usecases.encoding import records
from graph.arrays import unique
from graph.errors import CustomerNotFound
from graph.store import GraphStore

#: Communities drawn by default: the largest; a map of thousands of nodes says nothing.
MAP_COMMUNITIES = 50
#: A referral tree stops here: deeper chains or wider trees are reported as cut.
TREE_DEPTH = 6
TREE_NODES = 500


def cross_community_ties(
    src_rows: np.ndarray, dst_rows: np.ndarray, community_codes: np.ndarray
) -> pd.DataFrame:
    """Customer pairs joining two different communities, counted per community pair.

    Parameters
    ----------
    src_rows, dst_rows
        Metrics rows of each relation's endpoints (-1 for a customer outside the run).
    community_codes
        Community code per metrics row (-1 without a community).

    Returns
    -------
    DataFrame
        ``a``, ``b`` (community codes, ``a < b``) and ``ties``, most ties first, then by codes.
        Repeated relations of one pair, and both directions of it, count once; relations
        with an endpoint outside the run or without a community are left out.

    Examples
    --------
    >>> codes = np.array([0, 0, 1, 2])
    >>> cross_community_ties(np.array([0, 1, 1, 3]), np.array([2, 2, 0, 0]), codes).values.tolist()
    [[0, 1, 2], [0, 2, 1]]
    """
    src = np.asarray(src_rows, dtype=np.int64)
    dst = np.asarray(dst_rows, dtype=np.int64)
    known = (src >= 0) & (dst >= 0)
    src, dst = src[known], dst[known]
    ca, cb = community_codes[src], community_codes[dst]
    keep = (ca >= 0) & (cb >= 0) & (ca != cb)
    lo = np.minimum(src[keep], dst[keep])
    hi = np.maximum(src[keep], dst[keep])
    n = max(len(community_codes), 1)
    pairs = unique(lo * n + hi)
    a = community_codes[pairs // n]
    b = community_codes[pairs % n]
    ca, cb = np.minimum(a, b), np.maximum(a, b)
    m = max(int(community_codes.max(initial=-1)) + 1, 1)
    counts = np.bincount(ca * m + cb, minlength=m * m) if len(ca) else np.zeros(0, np.int64)
    nz = np.nonzero(counts)[0]
    out = pd.DataFrame({"a": nz // m, "b": nz % m, "ties": counts[nz]})
    return out.sort_values(["ties", "a", "b"], ascending=[False, True, True]).reset_index(drop=True)


def referral_tree(
    root: int, src: np.ndarray, dst: np.ndarray, *, depth: int, max_nodes: int
) -> tuple[list[tuple[int, int, int]], bool]:
    """The referral tree under `root`, breadth first: (parent, child, level) per edge.

    Parameters
    ----------
    src, dst
        Referral relations as metrics rows (referrer, referred), sorted by `src`.
    depth, max_nodes
        Where the walk stops; the second value returned says whether it cut anything.

    A customer referred by two members of the tree is drawn once, under the first one met
    (a tree, as the referral metrics count it).

    Examples
    --------
    >>> src, dst = np.array([0, 0, 1, 2]), np.array([1, 2, 3, 3])
    >>> referral_tree(0, src, dst, depth=6, max_nodes=10)
    ([(0, 1, 1), (0, 2, 1), (1, 3, 2)], False)
    """
    seen = {root}
    frontier = [root]
    edges: list[tuple[int, int, int]] = []
    cut = False
    for level in range(1, depth + 1):
        nxt = []
        for parent in frontier:
            a, b = np.searchsorted(src, [parent, parent + 1])
            for child in dict.fromkeys(dst[a:b].tolist()):
                if child in seen:
                    continue
                if len(seen) >= max_nodes:
                    return edges, True
                seen.add(child)
                edges.append((parent, child, level))
                nxt.append(child)
        frontier = nxt
        if not frontier:
            break
    else:
        cut = any(
            c not in seen
            for p in frontier
            for c in dst[np.searchsorted(src, p) : np.searchsorted(src, p + 1)].tolist()
        )
    return edges, cut


def percentile_of(values: np.ndarray, value: float) -> float | None:
    """Share of customers (with a value) whose value is strictly lower, x 100.

    The definition of the rule language's ``pct(x)``, so a percentile shown beside a metric
    is the one a tag reason quotes. None for a missing value.

    Examples
    --------
    >>> percentile_of(np.array([0.0, 0.0, 1.0, 5.0]), 1.0)
    50.0
    """
    v = np.asarray(values)
    n = v.size - (int(np.count_nonzero(np.isnan(v))) if v.dtype.kind == "f" else 0)
    if value is None or np.isnan(value) or not n:
        return None
    return float(np.count_nonzero(v < value) * 100.0 / n)


def _rows(values: pa.ChunkedArray, ids: pa.Array) -> np.ndarray:
    """Metrics row of each id (-1 for one outside the run), hashed in Arrow."""
    found = pc.index_in(values.cast(pa.string()), value_set=ids)
    return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


class WorkspaceReads:
    """The served run's referral relations and cross-community ties, read on first use and
    kept for that run (one run at a time).

    Each has its own lock: the ties pass reads and hashes every relation, which at a million
    customers takes seconds, and a referral tree (a few percent of the relations) must not
    wait for it. `warm` computes both ahead of the first request.
    """

    def __init__(self) -> None:
        self._referral_lock = threading.Lock()
        self._ties_lock = threading.Lock()
        self._referrals: tuple[tuple[str, str], np.ndarray, np.ndarray] | None = None
        self._ties: tuple[tuple[str, str], pd.DataFrame] | None = None

    @staticmethod
    def _ids(serving: Served) -> pa.Array:
        return pa.array(serving.cache.ids.to_numpy(dtype=object), type=pa.string())

    def warm(self, store: GraphStore, serving: Served) -> None:
        """Read the referral relations and count the ties of the served run now.

        Raises
        ------
        StoreError
            The store cannot be read.
        """
        self.referrals(store, serving)
        self.ties(store, serving)

    def referrals(self, store: GraphStore, serving: Served) -> tuple[np.ndarray, np.ndarray]:
        """Referral relations as metrics rows (referrer, referred), sorted by referrer.

        Raises
        ------
        StoreError
            The store cannot be read.
        """
        key = (store.uri, serving.run.run_id)
        with self._referral_lock:
            if self._referrals is None or self._referrals[0] != key:
                rel = store.read_table("relations", ["src_id", "dst_id", "type"])
                rel = rel.filter(pc.equal(rel.column("type"), "referral"))
                ids = self._ids(serving)
                src = _rows(rel.column("src_id"), ids)
                dst = _rows(rel.column("dst_id"), ids)
                known = (src >= 0) & (dst >= 0)
                src, dst = src[known], dst[known]
                order = np.argsort(src, kind="stable")
                self._referrals = (key, src[order], dst[order])
            return self._referrals[1], self._referrals[2]

    def ties(self, store: GraphStore, serving: Served) -> pd.DataFrame:
        """``a``, ``b``, ``ties`` over every relation of the store, for the served run.

        Raises
        ------
        StoreError
            The store cannot be read.
        """
        key = (store.uri, serving.run.run_id)
        with self._ties_lock:
            if self._ties is None or self._ties[0] != key:
                rel = store.read_table("relations", ["src_id", "dst_id"])
                ids = self._ids(serving)
                src = _rows(rel.column("src_id"), ids)
                dst = _rows(rel.column("dst_id"), ids)
                del rel
                self._ties = (key, cross_community_ties(src, dst, serving.cache.community_codes))
            return self._ties[1]

    def referral_tree(self, store: GraphStore, serving: Served, customer_id: str) -> dict:
        """The customer's referral tree as edges between customer ids.

        Raises
        ------
        CustomerNotFound
            The customer is not in the served run.
        StoreError
            The store cannot be read.
        """
        cache = serving.cache
        root = position(cache.ids, customer_id)
        if root is None:
            raise CustomerNotFound(customer_id)
        src, dst = self.referrals(store, serving)
        edges, cut = referral_tree(root, src, dst, depth=TREE_DEPTH, max_nodes=TREE_NODES)
        ids = cache.ids
        return {
            "customer_id": customer_id,
            "run_id": serving.run.run_id,
            "edges": [
                {"referrer": str(ids[p]), "referred": str(ids[c]), "level": lv}
                for p, c, lv in edges
            ],
            "truncated": cut,
            "max_depth": TREE_DEPTH,
            "max_nodes": TREE_NODES,
        }

    def community_map(self, store: GraphStore, serving: Served, *, limit: int) -> dict:
        """The `limit` largest communities and the ties among them.

        Raises
        ------
        StoreError
            The store cannot be read.
        """
        cache = serving.cache
        com = cache.communities.iloc[:limit]
        shown = set(com["community_id"].astype(str))
        names = cache.community_names
        ties = self.ties(store, serving)
        label = np.asarray(names, dtype=object).astype(str)
        is_shown = np.isin(label, list(shown))
        a, b = ties["a"].to_numpy(), ties["b"].to_numpy()
        keep_tie = is_shown[a] & is_shown[b]  # ties among the shown communities only
        la, lb = label[a[keep_tie]], label[b[keep_tie]]
        links = [
            {"source": str(min(x, y)), "target": str(max(x, y)), "ties": int(t)}
            for x, y, t in zip(la, lb, ties["ties"].to_numpy()[keep_tie], strict=True)
        ]
        keep = ("community_id", "size", "leader_id", "internal_weight", "external_weight")
        nodes = [{k: rec.get(k) for k in keep} for rec in records(com)]
        return {
            "run_id": serving.run.run_id,
            "nodes": nodes,
            "links": links,
            "total_communities": len(cache.communities),
        }


def customer_tags(store: GraphStore, serving: Served, customer_ids: list[str]) -> dict:
    """Each known customer's catalog tags in the served run (unknown ids are left out).

    Tag ids only: no attribute, so nothing to mask.

    Raises
    ------
    StoreError
        The store cannot be read.
    """
    cache = serving.cache
    catalog = [str(t) for t in cache.catalog["tag_id"]]
    data = []
    for cid in dict.fromkeys(customer_ids):
        row = position(cache.ids, cid)
        if row is None:
            continue
        if cache.tag_index is not None:
            tags = cache.tag_index.catalog_tags_of(row)
        else:
            held = set(store.read_tags(serving.run.run_id, customer_id=cid)["tag_id"])
            tags = [t for t in catalog if t in held]
        data.append({"customer_id": cid, "tags": tags})
    return {"data": data, "count": len(data), "run_id": serving.run.run_id}


def customer_percentiles(serving: Served, customer_id: str) -> dict:
    """The customer's numeric metrics with their percentile among the run's customers.

    Raises
    ------
    CustomerNotFound
        The customer is not in the served run.
    """
    cache = serving.cache
    row = position(cache.ids, customer_id)
    if row is None:
        raise CustomerNotFound(customer_id)
    out = {}
    for name, values in cache.columns.items():
        if values.dtype.kind not in "iuf":
            continue
        out[name] = percentile_of(values, float(values[row]))
    return {"customer_id": customer_id, "run_id": serving.run.run_id, "percentiles": out}


__all__ = [
    "MAP_COMMUNITIES",
    "WorkspaceReads",
    "cross_community_ties",
    "customer_percentiles",
    "customer_tags",
    "percentile_of",
    "referral_tree",
]
