"""Segments: a tag expression's members, as a JSON page or the whole segment as CSV.

Members are evaluated by the use case (`api.usecases.segment`) and kept per run and
expression in a small LRU, so paging through a segment evaluates it once. The CSV export
streams the members' contact columns, PII masked below admin, with the served run's
community and influence.
"""

from __future__ import annotations

from collections.abc import Iterator

import pyarrow as pa
import pyarrow.compute as pc

from api import usecases
from api.http.readmodel.refresh import RunRefresher
from api.http.readmodel.run_cache import LRU
from api.usecases.encoding import jsonable
from api.usecases.masking import mask_frame
from graph.model import RunInfo

SEGMENT_CACHE = 32
EXPORT_CHUNK = 10_000
_CSV_COLUMNS = ["customer_id", "name", "phone", "id_number"]


class SegmentReads:
    """Segment pages and exports over the runs `refresher` serves."""

    def __init__(self, refresher: RunRefresher) -> None:
        self._runs = refresher
        self._members = LRU(SEGMENT_CACHE)

    def members(self, expression: str, run_id: str | None) -> tuple[RunInfo, list[str]]:
        """The run and the segment's members in id order, cached per run and expression.

        Raises
        ------
        RuleError, RunNotFound
        """
        usecases.check_segment(expression)  # a malformed one fails before any store access
        run = self._runs.run(run_id)
        key = (run.run_id, expression)
        members = self._members.get(key)
        if members is None:
            run, members = usecases.segment(self._runs.store, expression, run_id=run.run_id)
            self._members.put(key, members)
        return run, members

    def page(self, expression: str, *, run_id: str | None, limit: int, offset: int) -> dict:
        """The size of a segment and one page of its members.

        Raises
        ------
        RuleError
            The expression does not parse (with the position).
        RunNotFound
        """
        run, members = self.members(expression, run_id)
        cache = self._runs.cache_for(run)
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

    def csv(
        self, expression: str, *, run_id: str | None, unmasked: bool
    ) -> tuple[RunInfo, Iterator[str]]:
        """The whole segment as CSV text chunks, PII masked unless `unmasked`.

        The expression is parsed and evaluated before the first chunk, so errors still become
        a proper status code instead of a broken stream.

        Raises
        ------
        RuleError, RunNotFound
        """
        run, members = self.members(expression, run_id)
        cache = self._runs.cache_for(run)
        pii = self._runs.pii_columns()
        customers = self._runs.store.read_table("customers", _CSV_COLUMNS)
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
                        [None if p < 0 else jsonable(arr[p]) for p in pos]
                        if arr is not None
                        else None
                    )
                yield df.to_csv(index=False, header=False)

        return run, chunks()


__all__ = ["SegmentReads"]
