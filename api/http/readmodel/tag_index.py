"""The in-memory tag index: every tag assignment of the served run, grouped by customer.

A profile's tags are then a slice and an influencer's tag list needs no query. The index
needs one pass over the run's assignments. It comes from the store's streaming
``scan_tags(run_id)`` when the store declares it (`graph.store.TagScanner`, bounded memory),
else from ``read_tags(run_id)`` when the run is small enough for that to fit
(`FULL_READ_LIMIT`), else there is no index and profile tags and influencer tag lists are
read from the store per request (slower, but memory stays flat).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from graph.arrays import unique
from graph.store import GraphStore, TagScanner

#: Largest run (tag assignments) whose tags are loaded with one `read_tags(run_id)` when the
#: store cannot stream them: that call sorts and converts every assignment at once, so its
#: peak memory grows with the whole run; above this the index is not built.
FULL_READ_LIMIT = 1_500_000
_TAG_BATCH = 200_000


@dataclass(frozen=True)
class TagIndex:
    """A run's tag assignments grouped by metrics row (CSR).

    Row r holds assignments ``offsets[r]:offsets[r+1]`` of `codes`, `scores` and
    `reason_idx`, ordered by score descending then tag id, the order
    `read_tags(customer_id=...)` returns. Reasons are dictionary-encoded: most are shared
    (every member of a community has the same community reason), so the index holds each
    distinct sentence once.
    """

    names: list[str]
    n_catalog: int  # the first n_catalog names are the catalog, in catalog order
    catalog_rank: np.ndarray  # per code: position in the catalog, n_catalog if absent
    offsets: np.ndarray
    codes: np.ndarray
    scores: np.ndarray
    reason_idx: np.ndarray
    reason_dict: pa.Array

    def tags_of(self, row: int) -> list[dict]:
        """The row's assignments as profile tags (``tag_id``, ``score``, ``reason``)."""
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
        ranked = sorted((int(self.catalog_rank[c]), int(c)) for c in codes)
        return [self.names[c] for rank, c in ranked if rank < self.n_catalog]

    def rows_of(self) -> np.ndarray:
        """The metrics row of every assignment (aligned with `codes`)."""
        return np.repeat(np.arange(len(self.offsets) - 1), np.diff(self.offsets))

    def holders(self, tag_id: str) -> np.ndarray:
        """The metrics rows holding `tag_id`, ascending (empty for an unknown tag)."""
        try:
            code = self.names.index(tag_id)
        except ValueError:
            return np.zeros(0, np.int64)
        return unique(self.rows_of()[self.codes == code])


def _tag_batches_read_all(store: GraphStore, run_id: str) -> Iterator[pa.RecordBatch]:
    df = store.read_tags(run_id)[["customer_id", "tag_id", "score", "reason"]]
    table = pa.Table.from_pandas(df, preserve_index=False)
    del df
    yield from table.to_batches(_TAG_BATCH)


def _positions(values: pa.Array | pa.ChunkedArray, value_set: pa.Array) -> np.ndarray:
    """Position of each value in `value_set` (-1 when absent), hashed in Arrow."""
    found = pc.index_in(values.cast(pa.string()), value_set=value_set)
    return found.fill_null(-1).to_numpy(zero_copy_only=False).astype(np.int64)


def build_tag_index(
    batches: Iterable[pa.RecordBatch], ids: pd.Index, catalog_ids: list[str]
) -> TagIndex:
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
    return TagIndex(
        names=names,
        n_catalog=len(catalog_ids),
        catalog_rank=catalog_rank,
        offsets=offsets,
        codes=codes[order],
        scores=scores[order],
        reason_idx=reason_idx[order],
        reason_dict=reason_dict,
    )


def read_tag_index(
    store: GraphStore,
    run_id: str,
    *,
    ids: pd.Index,
    catalog_ids: list[str],
    n_assignments: int,
) -> TagIndex | None:
    """The run's tag index, or None when it cannot be built within bounded memory.

    Parameters
    ----------
    ids
        The run's metrics rows (customer ids, row order).
    catalog_ids
        The run's catalog, in catalog order.
    n_assignments
        How many assignments the run holds (the catalog's counts), to decide whether one
        `read_tags(run_id)` fits when the store cannot stream.

    Raises
    ------
    StoreError
        The store cannot be read.
    """
    if isinstance(store, TagScanner):
        batches: Iterable[pa.RecordBatch] = store.scan_tags(run_id)
    elif n_assignments <= FULL_READ_LIMIT:
        batches = _tag_batches_read_all(store, run_id)
    else:
        return None
    return build_tag_index(batches, ids, catalog_ids)


__all__ = ["FULL_READ_LIMIT", "TagIndex", "build_tag_index", "read_tag_index"]
