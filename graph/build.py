"""Relations table -> weighted igraph graphs plus the id <-> vertex map (pure).

Every customer becomes one vertex, numbered by the ascending order of its id, so the
same customers always give the same numbering. Repeated interactions between the same
ordered pair collapse into one edge whose weight sums their decayed, type-weighted
counts: the graph algorithms downstream then see one tie per pair, with a strength
that says how much and how recently the two customers dealt with each other.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import igraph as ig
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from graph.errors import ConfigError

__all__ = [
    "DEFAULT_TYPE_WEIGHTS",
    "UNLISTED_TYPE_WEIGHT",
    "InteractionGraph",
    "build_interaction_graph",
    "decay",
    "edge_arrays",
    "handed_over",
    "vertex_ids",
]

#: Weight of one interaction of each relation type. Ties that cost the customer
#: something or that the bank can verify (a referral that opened an account, a family
#: link, a money transfer) say more about influence than a one-click like, so they
#: weigh more. Callers override any subset through ``type_weights``.
DEFAULT_TYPE_WEIGHTS: dict[str, float] = {
    "referral": 5.0,
    "family": 4.0,
    "transfer": 3.0,
    "colleague": 2.0,
    "share": 2.0,
    "message": 1.5,
    "comment": 1.5,
    "like": 0.5,
}

#: Weight of a relation type that neither the defaults nor the caller name. The contract
#: allows extra types; they still count (as a plain tie), and how many rows used this
#: fallback is reported in ``InteractionGraph.stats["relations_unlisted_type"]``.
UNLISTED_TYPE_WEIGHT: float = 1.0

#: Taylor terms of ``exp`` in :func:`decay` (the remainder is below 1e-17 on [0, ln 2)).
DECAY_TERMS = 18

#: Exponents of two below which :func:`decay` gives 0 (subnormal weights are noise).
DECAY_FLOOR = -1000.0


def decay(x: np.ndarray) -> np.ndarray:
    """``2 ** x`` for ``x <= 0`` in basic IEEE operations only, so every engine gets its bits.

    Why not ``np.exp2``: libm's ``exp2`` and Java's ``Math.pow`` round differently in the
    last bit, and the Spark projection must weigh each row as this build does. Here
    ``x = k + f`` (``k = floor(x)``, ``f`` exact), ``2 ** f = exp(f ln 2)`` by Horner's rule
    over :data:`DECAY_TERMS` Taylor terms (about one ulp from ``exp2``), scaled by the exact
    ``2 ** k``; :mod:`api.engines.spark.projection` spells the same operations in Spark SQL.
    """
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    for lo in range(0, x.size, _DECAY_BLOCK):  # blocks that stay in cache over the 18 steps
        out[lo : lo + _DECAY_BLOCK] = _decay_block(x[lo : lo + _DECAY_BLOCK])
    return out


#: Values per block in :func:`decay`: the Horner steps run over a block held in cache.
_DECAY_BLOCK = 1 << 15


def _decay_block(x: np.ndarray) -> np.ndarray:
    k = np.floor(x)
    y = (x - k) * _LN2
    p = np.ones_like(y)
    for i in range(DECAY_TERMS, 0, -1):  # p = 1 + y * p / i, in place (no temporaries)
        np.multiply(y, p, out=p)
        np.divide(p, float(i), out=p)
        np.add(p, 1.0, out=p)
    scaled = np.ldexp(p, np.maximum(k, DECAY_FLOOR - 1).astype(np.int64))
    return np.where(x < DECAY_FLOOR, 0.0, scaled)


_LN2 = 0.6931471805599453

_US_PER_DAY = 86_400_000_000


@dataclass(frozen=True)
class InteractionGraph:
    """The customer interaction graph and its referral subgraph on one vertex set.

    Attributes
    ----------
    edges
        The directed graph's edges as numpy arrays ``(src, dst, weight)``: one edge per
        ordered pair of customers (vertex ``i`` is ``ids[i]``), sorted by (src, dst), whose
        weight sums the pair's decayed type weights. :attr:`graph` is the igraph graph of
        these edges.
    interactions
        Each edge's summed interaction count (int64, aligned with ``edges``).
    ids
        Customer ids as a numpy object array of ``str``, sorted ascending and unique.
    referral
        Directed referral-only graph on the same vertices; one edge per (referrer,
        referred) pair, weighted by the number of referral interactions (undecayed: a
        referral is a fact, not a fading tie).
    stats
        What the build did with the input rows: ``relations_total``,
        ``relations_used``, ``relations_dropped_unknown_id`` (a src or dst not among
        the customers), ``relations_dropped_self_loop``, ``relations_unlisted_type``,
        ``relations_undated`` (null ``occurred_at``, treated as age 0), ``as_of``
        (ISO string) and ``half_life_days``.
    """

    edges: tuple[np.ndarray, np.ndarray, np.ndarray]
    interactions: np.ndarray
    ids: np.ndarray
    referral: ig.Graph
    stats: dict[str, Any] = field(default_factory=dict)
    _cache: dict[str, ig.Graph] = field(default_factory=dict, repr=False, compare=False)

    @property
    def n(self) -> int:
        """Number of customers (vertices)."""
        return int(self.ids.shape[0])

    @property
    def edge_count(self) -> int:
        """Number of directed edges (ordered pairs with at least one interaction)."""
        return int(self.edges[0].size)

    @property
    def graph(self) -> ig.Graph:
        """The directed igraph graph of :attr:`edges`, built on first use and kept.

        Weights and interaction counts go with it as numpy arrays, not igraph attributes
        (`edge_arrays`, `edge_interactions`, `igraph_weights`). Built only when asked for,
        because an analysis needs it for PageRank alone and then lets it go
        (:meth:`release_graph`), so the metric families, which read the undirected view,
        never share it.
        """
        cached = self._cache.get("graph")
        if cached is None:
            src, dst, w = self.edges
            cached = _graph(
                self.n, src, dst, directed=True, weight=w, interactions=self.interactions
            )
            self._cache["graph"] = cached
        return cached

    def release_graph(self) -> None:
        """Let the directed igraph graph go; :attr:`graph` builds it again if asked."""
        self._cache.pop("graph", None)

    def undirected(self) -> ig.Graph:
        """Undirected simple view: both directions of a pair merged, weights summed.

        Cached on first call, because communities, coreness, clustering, constraint,
        betweenness and reach all use it and collapsing 10M edges costs seconds.
        Weights (sum of both directions) and interaction counts carried as for ``graph``.
        """
        cached = self._cache.get("undirected")
        if cached is None:
            src, dst, w = self.edges
            lo, hi, uw, uc = _collapse(
                np.minimum(src, dst), np.maximum(src, dst), self.n, w, self.interactions
            )
            cached = _graph(self.n, lo, hi, directed=False, weight=uw, interactions=uc)
            self._cache["undirected"] = cached
        return cached

    def index_of(self, ids: Any) -> np.ndarray:
        """Vertex index of each id in ``ids`` (vectorised), ``-1`` for unknown ids.

        Parameters
        ----------
        ids
            Any sequence of customer ids (list, numpy array, Arrow array, Series).

        Returns
        -------
        numpy.ndarray
            int64 array aligned with ``ids``.

        Examples
        --------
        >>> import pyarrow as pa
        >>> g = build_interaction_graph(
        ...     pa.array(["b", "a"]), pa.table({"src_id": pa.array([], pa.string()),
        ...     "dst_id": pa.array([], pa.string()), "type": pa.array([], pa.string()),
        ...     "occurred_at": pa.array([], pa.timestamp("us"))}))
        >>> g.index_of(["a", "zz", "b"]).tolist()
        [0, -1, 1]
        """
        arr = _as_string_array(ids)
        found = pc.index_in(arr, value_set=pa.array(self.ids, pa.string()))
        return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


def build_interaction_graph(
    customer_ids: pa.Array | pa.ChunkedArray | np.ndarray,
    relations: pa.Table | pa.RecordBatchReader,
    *,
    type_weights: Mapping[str, float] | None = None,
    half_life_days: float = 180.0,
    as_of: datetime | None = None,
) -> InteractionGraph:
    """Project customers and relations into an :class:`InteractionGraph`.

    The weight of one relation row is ``type_weight * count * 0.5 ** (age_days /
    half_life_days)``, with ``age = as_of - occurred_at`` clipped at 0 (a relation
    dated after ``as_of`` counts as fresh, not as more than fresh). Rows are summed per
    ordered (src, dst) pair. Everything is vectorised over columns, so 10M rows take
    seconds.

    Parameters
    ----------
    customer_ids
        Ids of every customer; duplicates are merged. Customers without relations
        stay in the graph as isolated vertices, so every customer gets metrics.
    relations
        Table with ``src_id``, ``dst_id``, ``type`` (strings), ``occurred_at``
        (timestamp) and optionally ``count`` (int, null or absent means 1). Instead of
        ``src_id`` and ``dst_id`` it may hold ``src_ix`` and ``dst_ix``: each end's
        position in :func:`vertex_ids` of ``customer_ids`` (null for an id that is not
        a customer), looked up where the relations are (a store's join), so the
        string ids never need to come into memory. A reader of such batches (a store's
        streamed query, or :func:`handed_over`) is read one batch at a time: only the
        compact columns made of them are held.
    type_weights
        Overrides merged over :data:`DEFAULT_TYPE_WEIGHTS`, so a caller can retune
        one type without restating the others.
    half_life_days
        Age at which an interaction counts half; recent behaviour predicts current
        influence better than old behaviour.
    as_of
        Reference time for ages. Defaults to the latest ``occurred_at`` in the data
        rather than the clock, so rebuilding from the same data gives the same graph.
        A naive datetime is read in the timestamps' own time base (UTC for
        time-zone-aware columns).

    Returns
    -------
    InteractionGraph

    Raises
    ------
    ConfigError
        If ``half_life_days`` is not positive, a type weight is negative or not
        finite, or ``relations`` lacks a required column.

    Notes
    -----
    Rows naming an id that is not a customer, and self-loops, cannot be edges; the
    loaders already quarantine them, and any that still arrive are counted in
    ``stats`` instead of vanishing silently.
    """
    if not (half_life_days > 0 and np.isfinite(half_life_days)):
        raise ConfigError(f"half_life_days {half_life_days!r} must be a positive number")
    weights = {**DEFAULT_TYPE_WEIGHTS, **(type_weights or {})}
    bad = {k: v for k, v in weights.items() if not (np.isfinite(v) and v >= 0)}
    if bad:
        raise ConfigError(f"type_weights {bad!r} must be finite and >= 0")
    names = relations.schema.names
    ends = ("src_ix", "dst_ix") if {"src_ix", "dst_ix"} <= set(names) else ("src_id", "dst_id")
    missing = [c for c in (*ends, "type", "occurred_at") if c not in names]
    if missing:
        raise ConfigError(f"relations table lacks column(s) {missing!r}")

    ids_arr = vertex_ids(customer_ids)
    n = len(ids_arr)
    ids = ids_arr.to_numpy(zero_copy_only=False).astype(object)

    type_names = list(weights)
    type_set = pa.array(type_names, pa.string())
    if ends == ("src_id", "dst_id"):
        # looking the ids up hashes every customer id: once for all rows, not per batch
        batches: Any = [relations if isinstance(relations, pa.Table) else relations.read_all()]
    else:
        batches = relations.to_batches() if isinstance(relations, pa.Table) else relations
    del relations  # a reader handed over lets each batch go once its columns are read
    parts = [_row_columns(b, ends, ids_arr, type_set) for b in batches]
    src, dst, code, counts, ts, undated = _joined(parts)
    del parts
    total = len(src)
    as_of_us = _as_of_us(as_of, ts, undated)
    known = (src >= 0) & (dst >= 0)
    loop = known & (src == dst)
    keep = known & ~loop
    stats = {
        "relations_total": int(total),
        "relations_used": int(keep.sum()),
        "relations_dropped_unknown_id": int((~known).sum()),
        "relations_dropped_self_loop": int(loop.sum()),
        "relations_unlisted_type": int((code == -1).sum()),
        "relations_undated": int(undated.sum()),
        "as_of": _iso(as_of_us),
        "half_life_days": float(half_life_days),
    }
    del known, loop
    type_w = np.append(
        np.asarray([weights[t] for t in type_names], np.float64), UNLISTED_TYPE_WEIGHT
    )
    age_days = np.clip((as_of_us - ts) / _US_PER_DAY, 0.0, None)
    del ts
    age_days[undated] = 0.0
    row_w = type_w[code] * counts * decay(-age_days / half_life_days)  # code -1: the fallback
    del age_days, undated

    src, dst, row_w, counts, code = src[keep], dst[keep], row_w[keep], counts[keep], code[keep]
    del keep
    ref_code = type_names.index("referral") if "referral" in type_names else -2
    is_ref = code == ref_code
    del code
    r_src, r_dst, _, r_count = _collapse(
        src[is_ref], dst[is_ref], n, counts[is_ref], counts[is_ref]
    )
    del is_ref
    e_src, e_dst, w, inter = _collapse(src, dst, n, row_w, counts)
    del src, dst, row_w, counts  # per relation row: only the per-pair arrays go on
    referral = _graph(n, r_src, r_dst, directed=True, weight=r_count.astype(np.float64))
    return InteractionGraph(
        edges=(e_src, e_dst, w), interactions=inter, ids=ids, referral=referral, stats=stats
    )


def newest_timestamp(*tables: pa.Table) -> datetime | None:
    """The newest ``occurred_at`` over the given tables, or None when all are empty.

    Analysis measures ages (decay, feature windows) from this instant rather than from the
    clock, so that re-analysing the same data on another day gives the same numbers.
    """
    stamps = [pc.max(t.column("occurred_at")).as_py() for t in tables if t.num_rows]
    stamps = [x for x in stamps if x is not None]
    return max(stamps) if stamps else None


def _as_string_array(values: Any) -> pa.Array:
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    if isinstance(values, pa.Array):
        arr = values
    elif isinstance(values, pd.Series | pd.Index):
        arr = pa.array(values.astype(object).to_numpy(), pa.string(), from_pandas=True)
    else:
        arr = pa.array(np.asarray(values, dtype=object), pa.string(), from_pandas=True)
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if not (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        arr = arr.cast(pa.string())
    return arr


def vertex_ids(customer_ids: pa.Array | pa.ChunkedArray | np.ndarray) -> pa.Array:
    """The customers' ids as the graph numbers them: unique, sorted, nulls dropped.

    Vertex ``i`` of :func:`build_interaction_graph` is ``vertex_ids(customer_ids)[i]``; a
    caller that looks the relations' ends up itself (``src_ix``/``dst_ix``) uses this.
    """
    ids_arr = pc.unique(_as_string_array(customer_ids).drop_null())
    return ids_arr.take(pc.sort_indices(ids_arr))


def handed_over(table: pa.Table) -> pa.RecordBatchReader:
    """`table`'s batches as a reader that lets each one go once it has been read.

    A caller that drops its own reference after this call hands the table over to
    :func:`build_interaction_graph`, which then never holds the whole table beside the
    columns it makes of it.
    """
    batches = table.to_batches()

    def drain() -> Iterator[pa.RecordBatch]:
        while batches:
            yield batches.pop(0)

    return pa.RecordBatchReader.from_batches(table.schema, drain())


#: Per relation row: src, dst, type code, count, occurred_at (us) and whether it is undated.
_RowColumns = list[np.ndarray]


def _row_columns(
    batch: pa.RecordBatch | pa.Table, ends: tuple[str, str], ids_arr: pa.Array, type_set: pa.Array
) -> _RowColumns:
    """One batch of relations as the compact numpy columns the build works on."""
    n = len(ids_arr)
    if ends == ("src_ix", "dst_ix"):
        src, dst = (_positions(batch.column(c), n) for c in ends)
    else:
        src, dst = (_indices(batch.column(c), ids_arr) for c in ends)
    code = pc.index_in(batch.column("type"), value_set=type_set)
    code = code.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int8)
    ts, undated = _timestamps_us(batch.column("occurred_at"))
    return [src, dst, code, _counts(batch), ts, undated]


def _joined(parts: list[_RowColumns]) -> _RowColumns:
    """The batches' columns end to end, one column at a time (each batch's part is let go
    as soon as it is copied, so the peak is the joined columns plus one column's parts)."""
    empty = [np.zeros(0, t) for t in (np.int32, np.int32, np.int8, np.int64, np.int64, bool)]
    out = []
    for i, none in enumerate(empty):
        out.append(np.concatenate([p[i] for p in parts]) if parts else none)
        for p in parts:
            p[i] = none
    return out


def _positions(column: pa.ChunkedArray | pa.Array, n: int) -> np.ndarray:
    """Vertex positions looked up by the caller, -1 for null or out of range."""
    pos = _filled(column, -1)  # may be a read-only view
    return np.where((pos < 0) | (pos >= n), -1, pos).astype(_vertex_dtype(n), copy=False)


def _vertex_dtype(n: int) -> type:
    """The narrowest integer holding every vertex position (and -1)."""
    return np.int32 if n < 2**31 else np.int64


def _filled(column: pa.ChunkedArray | pa.Array, value: int) -> np.ndarray:
    """``column`` as numpy with nulls replaced by ``value`` (no copy made when it has none)."""
    if column.null_count:
        column = column.fill_null(value)
    return column.to_numpy(zero_copy_only=False)


def _indices(column: pa.ChunkedArray | pa.Array, value_set: pa.Array) -> np.ndarray:
    found = pc.index_in(column, value_set=value_set)
    return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(_vertex_dtype(len(value_set)))


def _counts(relations: pa.RecordBatch | pa.Table) -> np.ndarray:
    if "count" not in relations.schema.names:
        return np.ones(relations.num_rows, np.int64)
    return _filled(relations.column("count"), 1).astype(np.int64, copy=False)


def _timestamps_us(column: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """Microseconds since the epoch (0 where null) and the null mask."""
    col = column
    if not pa.types.is_timestamp(col.type):
        col = col.cast(pa.timestamp("us"))
    col = col.cast(pa.timestamp("us", tz=col.type.tz))
    undated = col.is_null().to_numpy(zero_copy_only=False)
    return _filled(col.cast(pa.int64()), 0).astype(np.int64, copy=False), undated


def _as_of_us(as_of: datetime | None, ts: np.ndarray, undated: np.ndarray) -> int:
    """``as_of`` in the timestamps' base; without one the newest dated row (0: none)."""
    if as_of is None:
        dated = ts[~undated]
        return int(dated.max()) if dated.size else 0
    stamp = pd.Timestamp(as_of)
    if stamp.tzinfo is not None:
        stamp = stamp.tz_convert("UTC").tz_localize(None)
    return int(stamp.as_unit("ns").value) // 1000


def _iso(us: int) -> str:
    return datetime.fromtimestamp(us / 1e6, tz=UTC).replace(tzinfo=None).isoformat()


def _collapse(
    src: np.ndarray, dst: np.ndarray, n: int, weight: np.ndarray, counts: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Unique (src, dst) pairs sorted by (src, dst), with summed weight and counts.

    Each pair's weights are summed one by one in ascending order of value, not in row order:
    a store may hand the same rows back in another order (Neo4j reads in chunks), and
    floating-point sums depend on their order, so this keeps the graph, and every metric
    after it, bit-identical whatever order the rows came in. The sum is strictly sequential
    (numpy's reductions add in pairs), so the Spark projection, which folds each pair's
    sorted weights left to right, gives the same bits.
    """
    base = np.int64(max(n, 1))
    key = src * base + dst
    if key.size == 0:
        empty = np.zeros(0, np.int64)
        return empty, empty, np.zeros(0), empty
    order = np.argsort(key)
    key = key[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    uniq = key[starts]
    del key
    weight = np.asarray(weight, np.float64)[order]
    c = np.add.reduceat(np.asarray(counts, np.int64)[order], starts)
    del order
    # one or two values sum the same in any order (a + b == b + a); longer pairs are summed
    # left to right in ascending order of value
    w = np.add.reduceat(weight, starts)
    lengths = np.diff(np.r_[starts, weight.size])
    long = np.flatnonzero(lengths >= 3)
    if long.size:
        seg_len = lengths[long]
        seg = np.repeat(np.arange(long.size), seg_len)
        sub_starts = np.r_[0, np.cumsum(seg_len)[:-1]]
        rows = np.repeat(starts[long] - sub_starts, seg_len) + np.arange(seg.size)
        values = weight[rows]
        by_value = np.argsort(values)
        values = values[by_value[np.argsort(seg[by_value], kind="stable")]]
        w[long] = _sequential_sums(values, sub_starts)
    return uniq // base, uniq % base, w, c


def _sequential_sums(values: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Each segment of ``values`` (beginning at ``starts``) summed left to right.

    Segments are visited longest first, so step ``j`` adds the ``j``-th value of a prefix of
    them: the work is one pass over ``values``, whatever the longest segment.
    """
    lengths = np.diff(np.r_[starts, len(values)])
    by_length = np.argsort(-lengths, kind="stable")
    first = starts[by_length]
    acc = values[first].copy()
    live = len(first)
    for j in range(1, int(lengths.max()) if len(lengths) else 0):
        while lengths[by_length[live - 1]] <= j:
            live -= 1
        acc[:live] += values[first[:live] + j]
    out = np.empty_like(acc)
    out[by_length] = acc
    return out


def edge_arrays(g: ig.Graph) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Source, target and weight of every edge of ``g`` as numpy arrays, in edge order.

    Graphs made by this module carry these arrays already (igraph can only hand its
    edge list back as Python tuples, which takes seconds at 10M edges); for any other
    graph they are read from igraph. A graph without a ``"weight"`` attribute gets
    weight 1 per edge.

    Parameters
    ----------
    g
        Any igraph graph. Graphs from this module must not be mutated afterwards, or
        the carried arrays go stale.

    Returns
    -------
    tuple of numpy.ndarray
        int64 sources, int64 targets, float64 weights.
    """
    if _EDGES_ATTR in g.attributes():
        return g[_EDGES_ATTR]
    flat = np.fromiter(
        itertools.chain.from_iterable(g.get_edgelist()), np.int64, count=2 * g.ecount()
    )
    if "weight" in g.es.attributes():
        w = np.asarray(g.es["weight"], dtype=np.float64)
    else:
        w = np.ones(g.ecount(), np.float64)
    return flat[0::2].copy(), flat[1::2].copy(), w


def edge_interactions(g: ig.Graph) -> np.ndarray:
    """The interaction count of every edge (int64, in edge order); 1 where not carried."""
    if "_interactions" in g.attributes():
        return g["_interactions"]
    return np.ones(g.ecount(), np.int64)


def has_edge_weights(g: ig.Graph) -> bool:
    """Whether ``g`` has edge weights: carried arrays (this module's graphs) or ``"weight"``."""
    return _EDGES_ATTR in g.attributes() or "weight" in g.es.attributes()


def igraph_weights(
    g: ig.Graph, name: str | None = "weight", *, sequence: bool = False
) -> list[float] | np.ndarray | str | None:
    """What igraph's ``weights=`` argument takes for the edge weights ``name`` of ``g``.

    Graphs of this module keep their weights as numpy arrays beside the graph rather than
    as an igraph attribute, which would be a Python float per edge (~40 bytes: 2.7 GB at
    68M edges, and a forked worker reading them copies every page their reference counts
    touch). For them the weights go to igraph as a list made for the call, or, with
    ``sequence=True`` for the calls that read any sequence (``community_leiden``,
    ``modularity``), as the numpy array itself, so no list of floats is made at all
    (``pagerank`` takes a list only). Any other graph's attribute goes by name; None when
    there is none.
    """
    if name is None:
        return None
    if name == "weight" and _EDGES_ATTR in g.attributes():
        weights = g[_EDGES_ATTR][2]
        return weights if sequence else weights.tolist()
    return name if name in g.es.attributes() else None


_EDGES_ATTR = "_edge_arrays"


def _graph(
    n: int,
    src: np.ndarray,
    dst: np.ndarray,
    *,
    directed: bool,
    weight: np.ndarray,
    interactions: np.ndarray | None = None,
) -> ig.Graph:
    # A zip of two int lists is the fastest edge input python-igraph accepts (its buffer
    # path copies into a list too); above _EDGE_SLICE edges they go in by quarters, so the
    # Python ints (~72 bytes an edge) are never all alive at once. igraph re-indexes all
    # edges on every add, so slices cost time: few and large. Weights and interactions stay
    # numpy (see `igraph_weights`).
    step = max(_EDGE_SLICE, -(-src.size // 4))
    first = zip(src[:step].tolist(), dst[:step].tolist(), strict=True)
    g = ig.Graph(n=n, edges=first, directed=directed)
    del first
    for lo in range(step, src.size, step):
        g.add_edges(zip(src[lo : lo + step].tolist(), dst[lo : lo + step].tolist(), strict=True))
    if interactions is not None:
        g["_interactions"] = interactions
    g[_EDGES_ATTR] = (src, dst, weight.astype(np.float64, copy=False))
    return g


#: Edges an igraph graph is built from in one piece (more go in by quarters).
_EDGE_SLICE = 16_000_000
