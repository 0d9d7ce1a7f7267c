"""The served run's relations as in-memory adjacency arrays, for ego networks at once.

`GraphStore.ego_network` answers with two scans of the relations table per request (the
customer's contacts, then the relations among them); at a million customers each scan of ten
million relations takes about a second, and the customer page draws a network on every
visit. The workspace reads the relations once per served run anyway (community ties,
referral trees), so it keeps them as CSR arrays and answers the same three neighbour queries
(`graph.store.common.assemble_ego_network`) from memory, in the same order and with the same
numbers as the stores' SQL and Cypher.

Relations are those of the store when the run began being served: a load between two runs
shows in the ego network with the next run, as it does in the communities it is coloured by.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from graph.arrays import member, unique

__all__ = ["NeighbourIndex"]


@dataclass(frozen=True)
class NeighbourIndex:
    """Relations of a store as arrays indexed by customer row.

    Attributes
    ----------
    ids, lookup
        Customer id per row (every id a relation names), and an index of them.
    rank
        Code-point rank of each row's id: the stores order ties by id this way.
    inc_ptr, inc_other, inc_weight
        For each row, the other end and weight (interaction count, 1 when absent) of every
        relation it is an end of; a relation from a customer to itself is listed twice, as
        the stores' ``UNION ALL`` of both directions lists it.
    out_ptr, out_dst, out_type, out_weight
        For each row, its outgoing relations (other end, type code, weight).
    types
        Relation type per type code.
    """

    ids: np.ndarray
    lookup: pd.Index
    rank: np.ndarray
    inc_ptr: np.ndarray
    inc_other: np.ndarray
    inc_weight: np.ndarray
    out_ptr: np.ndarray
    out_dst: np.ndarray
    out_type: np.ndarray
    out_weight: np.ndarray
    types: np.ndarray

    @classmethod
    def from_relations(cls, rel: pa.Table) -> NeighbourIndex:
        """Build from ``src_id``, ``dst_id``, ``type`` and ``count`` columns."""
        m = rel.num_rows
        both = pa.chunked_array(rel.column("src_id").chunks + rel.column("dst_id").chunks)
        coded = pc.dictionary_encode(both.combine_chunks())
        codes = coded.indices.to_numpy(zero_copy_only=False).astype(np.int64)
        src, dst = codes[:m], codes[m:]
        del both, codes
        ids = np.asarray(coded.dictionary.to_pylist(), dtype=object)
        lookup = pd.Index(ids)
        lookup.get_indexer(ids[:1])  # builds the hash table now, not on the first request
        order = np.argsort(ids.astype(str), kind="stable")
        rank = np.empty(len(ids), np.int64)
        rank[order] = np.arange(len(ids))
        kind = pc.dictionary_encode(rel.column("type").combine_chunks())
        type_code = kind.indices.to_numpy(zero_copy_only=False).astype(np.int16)
        weight = pc.fill_null(rel.column("count"), 1).to_numpy().astype(np.int64)
        if weight.size and (weight.max() > np.iinfo(np.int32).max or weight.min() < 0):
            raise ValueError("relation counts must lie in 0..2^31-1 for the in-memory index")
        n = len(ids)
        by_src = np.argsort(src, kind="stable")
        out_ptr = np.concatenate(([0], np.cumsum(np.bincount(src, minlength=n))))
        heads = np.concatenate([src, dst])
        by_head = np.argsort(heads, kind="stable")
        inc_ptr = np.concatenate(([0], np.cumsum(np.bincount(heads, minlength=n))))
        return cls(
            ids=ids,
            lookup=lookup,
            rank=rank,
            inc_ptr=inc_ptr,
            inc_other=np.concatenate([dst, src]).astype(np.int32)[by_head],
            inc_weight=np.concatenate([weight, weight]).astype(np.int32)[by_head],
            out_ptr=out_ptr,
            out_dst=dst.astype(np.int32)[by_src],
            out_type=type_code[by_src],
            out_weight=weight.astype(np.int32)[by_src],
            types=np.asarray(kind.dictionary.to_pylist(), dtype=object),
        )

    def _rows(self, ids: list[str]) -> np.ndarray:
        rows = self.lookup.get_indexer(ids)
        return rows[rows >= 0].astype(np.int64)

    def _strongest(self, rows: np.ndarray, exclude: np.ndarray, limit: int) -> list[str]:
        """Contacts of `rows` not in `exclude`, by summed weight, then id; at most `limit`."""
        parts = [np.arange(self.inc_ptr[r], self.inc_ptr[r + 1]) for r in rows]
        at = np.concatenate(parts) if parts else np.zeros(0, np.int64)
        other, weight = self.inc_other[at], self.inc_weight[at]
        keep = ~member(other, unique(exclude))
        other, weight = other[keep], weight[keep]
        if other.size == 0:
            return []
        who, inverse = np.unique(other, return_inverse=True)
        total = np.bincount(inverse, weights=weight).astype(np.int64)
        best = np.lexsort((self.rank[who], -total))[:limit]
        return [str(self.ids[r]) for r in who[best]]

    def knows(self, customer_id: str) -> bool:
        """Whether the customer is an end of some relation."""
        return customer_id in self.lookup

    def first_hop(self, customer_id: str, limit: int) -> list[str]:
        """``assemble_ego_network``'s first hop: the customer's contacts, strongest first."""
        return self._strongest(self._rows([customer_id]), np.zeros(0, np.int64), limit)

    def second_hop(self, frontier: list[str], exclude: list[str], limit: int) -> list[str]:
        """Contacts of the frontier outside `exclude`, strongest first."""
        return self._strongest(self._rows(frontier), self._rows(exclude), limit)

    def edges_among(self, ids: list[str]) -> pd.DataFrame:
        """``src_id, dst_id, type, interactions, weight`` of the relations among `ids`."""
        rows = unique(self._rows(ids))
        parts = [np.arange(self.out_ptr[r], self.out_ptr[r + 1]) for r in rows]
        at = np.concatenate(parts) if parts else np.zeros(0, np.int64)
        src = np.repeat(rows, [self.out_ptr[r + 1] - self.out_ptr[r] for r in rows])
        keep = member(self.out_dst[at], rows)
        frame = pd.DataFrame(
            {
                "src": src[keep],
                "dst": self.out_dst[at][keep],
                "type": self.out_type[at][keep],
                "weight": self.out_weight[at][keep].astype(np.int64),
            }
        )
        grouped = frame.groupby(["src", "dst", "type"], sort=False).agg(
            interactions=("weight", "size"), weight=("weight", "sum")
        )
        grouped = grouped.reset_index()
        return pd.DataFrame(
            {
                "src_id": self.ids[grouped["src"].to_numpy()].astype(str),
                "dst_id": self.ids[grouped["dst"].to_numpy()].astype(str),
                "type": self.types[grouped["type"].to_numpy()].astype(str),
                "interactions": grouped["interactions"].to_numpy(np.int64),
                "weight": grouped["weight"].to_numpy(np.float64),
            }
        )
