"""Values between Arrow and Cypher: temporal conversion, chunk records, frames, chunk bounds.

Times are stored as Neo4j temporal values (LocalDateTime in UTC, Date) so that Browser shows
them readably; they travel over Bolt as epoch microseconds / epoch days and are converted
inside Cypher (the ``*_in`` / ``*_out`` fragments here), which keeps the Python side columnar:
no ``datetime`` object per row. Whole-table reads come back as one record of column lists per
chunk (:func:`collect_column`, :func:`arrow_from_columns`) instead of a Python record per row.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from graph.model import SCHEMAS

__all__ = [
    "arrow_from_columns",
    "arrow_from_records",
    "chunk_ranges",
    "collect_column",
    "column_lists",
    "conform",
    "dedup_first",
    "frame",
    "ts_in",
    "value_in",
    "value_out",
]

# --- Cypher fragments: epoch micros / days <-> temporal values --------------------------------


def ts_in(x: str) -> str:
    """Cypher: epoch microseconds -> LocalDateTime (UTC wall clock); floor division for pre-1970."""
    return (
        f"CASE WHEN {x} IS NULL THEN null ELSE localdatetime({{datetime: datetime({{"
        f"epochSeconds: {x} / 1000000 - CASE WHEN {x} % 1000000 < 0 THEN 1 ELSE 0 END, "
        f"nanosecond: (({x} % 1000000) + 1000000) % 1000000 * 1000}})}}) END"
    )


def _ts_out(x: str) -> str:
    return (
        f"CASE WHEN {x} IS NULL THEN null ELSE "
        f"datetime({{datetime: {x}, timezone: 'UTC'}}).epochSeconds * 1000000 + {x}.microsecond END"
    )


def _date_in(x: str) -> str:
    return (
        f"CASE WHEN {x} IS NULL THEN null ELSE "
        f"date({{year: 1970, month: 1, day: 1}}) + duration({{days: {x}}}) END"
    )


def _date_out(x: str) -> str:
    return (
        f"CASE WHEN {x} IS NULL THEN null ELSE "
        f"duration.inDays(date({{year: 1970, month: 1, day: 1}}), {x}).days END"
    )


def value_in(typ: pa.DataType, param: str) -> str:
    """Cypher: a Bolt parameter of Arrow type `typ` as the value stored (temporal converted)."""
    if typ == pa.timestamp("us"):
        return ts_in(param)
    if typ == pa.date32():
        return _date_in(param)
    return param


def value_out(col: str, typ: pa.DataType, var: str) -> str:
    """Cypher: property `col` of `var` as Bolt returns it for Arrow type `typ`."""
    ref = f"{var}.{col}"
    if typ == pa.timestamp("us"):
        return _ts_out(ref)
    if typ == pa.date32():
        return _date_out(ref)
    return ref


def collect_column(col: str, typ: pa.DataType, ref: str, *, nullable: bool = True) -> str:
    """``collect`` of one column, and of its null mask: ``collect`` skips nulls, so a nullable
    column is collected coalesced to a placeholder next to a list of ``IS NULL`` flags, which
    keeps every list of a chunk aligned row for row; a column that is never null (a key, a
    relationship's type) needs neither. Temporal values travel as ISO strings, which Arrow
    parses vectorised (cheaper, server and client, than epoch arithmetic)."""
    if typ in (pa.timestamp("us"), pa.date32()):
        val, default = f"toString({ref})", "''"
    elif pa.types.is_string(typ):
        val, default = ref, "''"
    elif pa.types.is_boolean(typ):
        val, default = ref, "false"
    elif pa.types.is_floating(typ):
        val, default = ref, "0.0"
    else:
        val, default = ref, "0"
    if not nullable:
        return f"collect({val}) AS {col}"
    return f"collect(coalesce({val}, {default})) AS {col}, collect({ref} IS NULL) AS {col}__null"


# --- Arrow <-> Bolt values ---------------------------------------------------------------------


def column_lists(table: pa.Table) -> dict[str, list]:
    """Columns as Python lists for Bolt, temporal columns as epoch micros / days."""
    out = {}
    for name in table.column_names:
        col = table.column(name)
        if pa.types.is_timestamp(col.type):
            col = col.cast(pa.timestamp("us")).cast(pa.int64())
        elif pa.types.is_date32(col.type):
            col = col.cast(pa.int32())
        out[name] = col.to_pylist()
    return out


def dedup_first(table: pa.Table, keys: list[str]) -> pa.Table:
    """Rows whose key columns were not seen earlier in the table (first occurrence wins)."""
    idx = table.select(keys).append_column("__i", pa.array(np.arange(table.num_rows)))
    first = idx.group_by(keys, use_threads=False).aggregate([("__i", "min")]).column("__i_min")
    if len(first) == table.num_rows:
        return table
    return table.take(pc.take(first, pc.sort_indices(first)))


def conform(table: pa.Table, name: str) -> pa.Table:
    """The table with exactly the schema's columns and types (absent optional ones null)."""
    schema = SCHEMAS[name]
    cols = []
    for f in schema:
        if f.name in table.column_names:
            cols.append(table.column(f.name).cast(f.type))
        else:
            cols.append(pa.nulls(table.num_rows, f.type))
    return pa.Table.from_arrays(cols, schema=schema)


def arrow_from_records(records: Any, schema: pa.Schema, names: Sequence[str]) -> pa.Table:
    """Records (tuples in ``names`` order) -> Arrow with the schema's types, in chunks."""
    chunks: list[pa.RecordBatch] = []
    buf: list[tuple] = []

    def flush() -> None:
        cols = list(zip(*buf, strict=True)) if buf else [()] * len(names)
        arrays = []
        for n, vals in zip(names, cols, strict=True):
            typ = schema.field(n).type
            if typ == pa.timestamp("us"):
                arrays.append(pa.array(vals, pa.int64()).cast(typ))
            elif typ == pa.date32():
                arrays.append(pa.array(vals, pa.int32()).cast(typ))
            else:
                arrays.append(pa.array(vals, typ))
        chunks.append(pa.RecordBatch.from_arrays(arrays, names=list(names)))
        buf.clear()

    for rec in records:
        buf.append(tuple(rec))
        if len(buf) >= 200_000:
            flush()
    if buf or not chunks:
        flush()
    return pa.Table.from_batches(chunks)


def arrow_from_columns(record: Any, schema: pa.Schema) -> pa.Table:
    """One chunk record of ``<col>`` and ``<col>__null`` lists -> Arrow with the schema's types."""
    data = dict(zip(record.keys(), record.values(), strict=True))  # .data() walks every list
    names = [k for k in data if not k.endswith("__null")]
    arrays = []
    for n in names:
        typ = schema.field(n).type
        flags = data.get(n + "__null")
        mask = None if flags is None else np.asarray(flags, dtype=bool)
        vals = data[n]
        if typ in (pa.timestamp("us"), pa.date32()):
            arrays.append(pa.array(vals, pa.string(), mask=mask).cast(typ))
        else:
            arrays.append(pa.array(vals, typ, mask=mask))
    return pa.Table.from_arrays(arrays, names=names)


def frame(rows: list, columns: list[str], dtypes: dict[str, str]) -> pd.DataFrame:
    """Rows as a DataFrame with the dtypes DuckDB's reads give (a value that will not cast
    keeps its inferred dtype)."""
    df = pd.DataFrame([list(r) for r in rows], columns=columns)
    for c in columns:
        dt = dtypes.get(c)
        if dt is None:
            continue
        try:
            if dt in ("str", "string", "object"):
                # what DuckDB's .df() gives for VARCHAR (pandas' default string dtype)
                df[c] = df[c].astype("str")
            else:
                df[c] = df[c].astype(dt)
        except (TypeError, ValueError):
            pass
    return df


# --- chunk bounds ------------------------------------------------------------------------------


#: Code points from here up are where code point and UTF-16 order can disagree: supplementary
#: characters (a surrogate pair in UTF-16) against BMP characters from U+E000 up.
_ORDER_SAFE_BELOW = 0xD800


def order_safe_prefix(text: str) -> str:
    """The longest prefix of `text` made only of characters below U+D800.

    Any string compares the same way with such a prefix under code point order and under
    UTF-16 order: at the first position where they differ, the prefix's character is below
    every surrogate and every BMP character from U+E000 up, so both orders agree on which
    side is smaller.

    Examples
    --------
    >>> order_safe_prefix("客户😀z")
    '客户'
    """
    for i, ch in enumerate(text):
        if ord(ch) >= _ORDER_SAFE_BELOW:
            return text[:i]
    return text


def chunk_ranges(cuts: Sequence[str]) -> list[tuple[str, str | None]]:
    """[lo, hi) customer_id ranges from the server's cut points, covering every id.

    The first range starts at '' so rows of ids sorting before every customer are kept.

    Neo4j orders strings two ways: ``ORDER BY`` and the index seek by code point, but
    comparisons of values (a filter, and the check that a seek's lower bound is below its
    upper one) by UTF-16 code unit. They disagree once ids mix characters outside the BMP
    (emoji, CJK Extension B) with BMP ones from U+E000 up (full-width forms). Which of the two
    a chunk's query uses depends on its plan (a seek while the index is online, a scan and a
    filter while it is populating), so a customer could fall in two chunks or in none. Each
    cut is therefore cut back to its `order_safe_prefix`, with which every id compares the
    same way under both orders: the ranges are one partition whatever the plans. A cut whose
    safe prefix is empty or not above the previous kept cut is dropped (two chunks merge).

    Examples
    --------
    >>> chunk_ranges(["C1", "C5"])
    [('', 'C1'), ('C1', 'C5'), ('C5', None)]
    """
    kept: list[str] = []
    for cut in cuts:
        c = order_safe_prefix(cut)
        if c and (not kept or c > kept[-1]):
            kept.append(c)
    los = ["", *kept]
    his: list[str | None] = [*kept, None]
    return list(zip(los, his, strict=True))
