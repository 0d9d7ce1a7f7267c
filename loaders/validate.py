"""Row validation against the contract, vectorised: one SQL pass gives each row its reason.

An in-memory DuckDB connection serves as the columnar engine (no file is opened here): it
casts every column once with TRY_CAST, and a CASE over the checks, in priority order, names
the first problem of each bad row: its reason code, column and offending value. Good rows
come out typed to `graph.model.SCHEMAS`; bad rows come out as quarantine records. Every input
row ends up in exactly one of the two, so read = loaded + quarantined holds by construction.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from graph.model import SCHEMAS
from loaders.specs import (
    CUSTOMER_REFS,
    ENUMS,
    FALSE_WORDS,
    PARSE_REASON,
    PHRASES,
    TRUE_WORDS,
    Reason,
    contract_columns,
    required_columns,
)

QUARANTINE_SCHEMA = pa.schema(
    [
        ("table", pa.string()),
        ("file", pa.string()),
        ("row", pa.int64()),
        ("column", pa.string()),
        ("value", pa.string()),
        ("reason", pa.string()),
        ("message", pa.string()),
    ]
)


@dataclass(frozen=True)
class LoadResult:
    """Typed good rows and quarantined bad rows of one table."""

    valid: pa.Table
    quarantined: pa.Table

    @property
    def read(self) -> int:
        return self.valid.num_rows + self.quarantined.num_rows


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


#: The canonical form the contract writes, without offset or zone: a plain TIMESTAMP cast reads
#: it exactly as the TIMESTAMPTZ cast (in UTC) does, at a third of the cost.
_PLAIN_TIMESTAMP = "[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}"


def _text_expr(col: str, *, trim: bool) -> str:
    return f"NULLIF(trim(r.{_q(col)}), '')" if trim else f"NULLIF(r.{_q(col)}, '')"


def _typed_expr(col: str, dtype: pa.DataType, *, trim: bool = True) -> str:
    raw = _text_expr(col, trim=trim)
    if dtype == pa.string():
        return raw
    if dtype == pa.timestamp("us"):
        # offsets are honoured (converted to UTC); naive times are taken as given
        plain = f"r.{_q(col)}"
        return (
            f"CASE WHEN regexp_full_match({plain}, '{_PLAIN_TIMESTAMP}') "
            f"THEN TRY_CAST({plain} AS TIMESTAMP) "
            f"ELSE TRY_CAST({raw} AS TIMESTAMPTZ)::TIMESTAMP END"
        )
    if dtype == pa.date32():
        return f"TRY_CAST({raw} AS DATE)"
    if dtype == pa.float64():
        return f"TRY_CAST({raw} AS DOUBLE)"
    if dtype in (pa.int64(), pa.int32()):
        return f"TRY_CAST({raw} AS BIGINT)"
    if dtype == pa.bool_():
        t = ", ".join(_lit(w) for w in TRUE_WORDS)
        f = ", ".join(_lit(w) for w in FALSE_WORDS)
        return (
            f"CASE WHEN lower({raw}) IN ({t}) THEN true WHEN lower({raw}) IN ({f}) THEN false END"
        )
    raise TypeError(dtype)


def validate_table(
    table_name: str,
    raw: pa.Table,
    *,
    file: str,
    known_customers: pa.Array | None = None,
) -> LoadResult:
    """Split a table of text columns into typed good rows and quarantined bad rows.

    Parameters
    ----------
    table_name
        One of customers, relations, transactions, events.
    raw
        All columns as strings, plus an int64 ``_row`` column: the 1-based data row number in
        the source file (used in every quarantine message).
    file
        The source's name, for messages.
    known_customers
        Customer ids that references may name (the store's plus this load's valid ones).
        Ignored for the customers table.

    Returns
    -------
    LoadResult
        ``valid`` follows ``graph.model.SCHEMAS[table_name]`` (extra input columns folded into
        the JSON ``attributes`` column); ``quarantined`` follows ``QUARANTINE_SCHEMA``.
    """
    schema = SCHEMAS[table_name]
    present = [c for c in raw.column_names if c != "_row"]
    contract = contract_columns(table_name)
    extras = [c for c in present if c not in contract]

    padded = _padded_columns(raw, present)
    select_typed = []
    checks: list[tuple[str, str, str, str]] = []  # (condition, reason, column, value expr)
    for col in contract:
        dtype = schema.field(col).type
        if col in present:
            trim = col in padded
            select_typed.append(f"{_typed_expr(col, dtype, trim=trim)} AS {_q(col)}")
            if dtype != pa.string():
                select_typed.append(f"{_text_expr(col, trim=trim)} AS {_q('_raw_' + col)}")
        else:
            select_typed.append(f"NULL::{_sql_type(dtype)} AS {_q(col)}")
    for col in required_columns(table_name):
        # typed columns keep their trimmed raw text, so "empty" is not confused with "bad"
        raw_col = col if schema.field(col).type == pa.string() else "_raw_" + col
        checks.append((f"t.{_q(raw_col)} IS NULL", Reason.MISSING_VALUE, col, "NULL"))
    for col in contract:
        dtype = schema.field(col).type
        if col in present and dtype != pa.string():
            checks.append(
                (
                    f"t.{_q('_raw_' + col)} IS NOT NULL AND t.{_q(col)} IS NULL",
                    PARSE_REASON[dtype],
                    col,
                    f"t.{_q('_raw_' + col)}",
                )
            )
    for col, (allowed, reason) in ENUMS.get(table_name, {}).items():
        values = ", ".join(_lit(v) for v in allowed)
        checks.append((f"t.{_q(col)} NOT IN ({values})", reason, col, f"t.{_q(col)}"))
    if table_name == "relations":
        checks.append(("t.src_id = t.dst_id", Reason.SELF_RELATION, "dst_id", "t.dst_id"))
    refs = CUSTOMER_REFS[table_name]
    joins = ""
    for i, col in enumerate(refs):
        # a hash join against the known ids; NOT IN (subquery) inside a CASE runs far slower
        joins += f" LEFT JOIN known k{i} ON k{i}.customer_id = t.{_q(col)}"
        checks.append((f"k{i}.customer_id IS NULL", Reason.UNKNOWN_CUSTOMER, col, f"t.{_q(col)}"))
    # a conflict needs a column besides the id to differ in; with the id alone, repeated
    # rows are identical and the first one simply wins
    content_cols = [c for c in present if c != "customer_id"]
    if table_name == "customers" and content_cols:
        checks.append(
            (
                "t._first_row <> t._row AND t._hash <> t._first_hash",
                Reason.DUPLICATE_CONFLICT,
                "customer_id",
                "t.customer_id",
            )
        )

    # each condition is evaluated once, into a check number; the rest is looked up from it
    check_case = (
        "CASE " + " ".join(f"WHEN {c} THEN {i}" for i, (c, _, _, _) in enumerate(checks)) + " END"
        if checks
        else "NULL::INTEGER"
    )
    value_case = (
        "CASE _check "
        + " ".join(f"WHEN {i} THEN ({v})::VARCHAR" for i, (_, _, _, v) in enumerate(checks))
        + " END"
        if checks
        else "NULL::VARCHAR"
    )

    attributes = (
        "json_object(" + ", ".join(f"{_lit(c)}, r.{_q(c)}" for c in extras) + ")"
        if extras
        else "NULL::VARCHAR"
    )
    con = duckdb.connect()
    try:
        con.execute("SET TimeZone = 'UTC'")
        # rows carry their own number, so DuckDB need not keep order (less memory)
        con.execute("SET preserve_insertion_order = false")
        con.register("raw_in", raw)
        known = known_customers if known_customers is not None else pa.array([], pa.string())
        con.register("known_in", pa.table({"customer_id": known}))
        con.execute("CREATE TEMP TABLE known AS SELECT DISTINCT customer_id FROM known_in")
        dup = ""
        window = ""
        if table_name == "customers" and content_cols:
            # the first row of an id wins; a later row with different values is a conflict
            content = ", ".join(f"r.{_q(c)}" for c in content_cols)
            dup = (
                f", hash({content}) AS _hash, "
                "first_value(r._row) OVER w AS _first_row, "
                f"first_value(hash({content})) OVER w AS _first_hash"
            )
            window = " WINDOW w AS (PARTITION BY NULLIF(trim(r.customer_id), '') ORDER BY r._row)"
        cols = ", ".join(_q(c) for c in schema.names)
        # one pass: every row comes out typed, with the number of the first check it fails
        # and the offending text; good and bad rows are then split in Arrow
        judged = con.sql(
            f"SELECT {cols}, _row, _check, {value_case} AS _value FROM ("
            f"SELECT t.*, {check_case} AS _check FROM ("
            f"SELECT r._row, {', '.join(select_typed)}, {attributes} AS attributes{dup} "
            f"FROM raw_in r{window}) t{joins}) t"
        ).to_arrow_table()
    finally:
        con.close()
    flags = judged.column("_check")
    if flags.null_count == judged.num_rows:
        # the usual case: every row is good, so nothing needs copying out
        valid = judged.select(schema.names).cast(schema)
        bad = judged.select(["_row", "_check", "_value"]).slice(0, 0)
    else:
        good = pc.is_null(flags)
        valid = judged.filter(good).select(schema.names).cast(schema)
        bad = judged.filter(pc.invert(good)).select(["_row", "_check", "_value"])
    del judged
    return LoadResult(valid=valid, quarantined=_quarantine_rows(table_name, file, bad, checks))


def _padded_columns(raw: pa.Table, columns: list[str]) -> set[str]:
    """The columns in which some value may begin or end with a space, so `trim` may change it.

    DuckDB's `trim` removes Unicode space separators (U+0020, U+00A0, U+3000, ...): every one
    is either an ASCII space or a multi-byte character. A value whose first and last bytes are
    ASCII other than a space is therefore left as it is, and a column of such values needs no
    `trim` (which copies every string). The test reads one byte at each end of each value from
    the Arrow buffers; anything it cannot read that way counts as padded.
    """
    return {c for c in columns if _may_be_padded(raw.column(c))}


def _may_be_padded(col: pa.ChunkedArray) -> bool:
    for chunk in col.chunks:
        if len(chunk) == 0:
            continue
        if chunk.type == pa.string():
            width = np.int32
        elif chunk.type == pa.large_string():
            width = np.int64
        else:
            return True
        _, offsets_buf, data_buf = chunk.buffers()
        offsets = np.frombuffer(offsets_buf, dtype=width)
        offsets = offsets[chunk.offset : chunk.offset + len(chunk) + 1]
        start, end = offsets[:-1], offsets[1:]
        filled = end > start  # empty values (and nulls) have no bytes to test
        if not filled.any():
            continue
        data = np.frombuffer(data_buf, dtype=np.uint8)
        first, last = data[start[filled]], data[end[filled] - 1]
        if ((first == 0x20) | (first >= 0x80) | (last == 0x20) | (last >= 0x80)).any():
            return True
    return False


def _quarantine_rows(
    table_name: str, file: str, bad: pa.Table, checks: list[tuple[str, str, str, str]]
) -> pa.Table:
    """Quarantine records with a message naming file, row, column, value and the remedy."""
    if bad.num_rows == 0:
        return QUARANTINE_SCHEMA.empty_table()
    df = bad.to_pandas().sort_values("_row")
    idx = df["_check"].to_numpy().astype(int)
    reasons = np.array([str(r) for _, r, _, _ in checks], dtype=object)[idx]
    columns = np.array([c for _, _, c, _ in checks], dtype=object)[idx]
    phrases = np.array([PHRASES[Reason(r)] for _, r, _, _ in checks], dtype=object)[idx]
    values = [None if pd.isna(v) else str(v) for v in df["_value"]]
    shown = ["(empty)" if v is None else repr(v) for v in values]
    rows = df["_row"].to_numpy()
    message = (
        pd.Series([f"{file} row "] * len(df))
        + pd.Series(rows).astype(str)
        + ": "
        + pd.Series(columns)
        + " "
        + pd.Series(shown)
        + " "
        + pd.Series(phrases)
        + " ("
        + pd.Series(reasons)
        + "); correct the source or drop the row"
    )
    return pa.table(
        {
            "table": [table_name] * len(df),
            "file": [file] * len(df),
            "row": rows,
            "column": columns,
            "value": values,
            "reason": reasons,
            "message": message.to_numpy(),
        },
        schema=QUARANTINE_SCHEMA,
    )


def _sql_type(dtype: pa.DataType) -> str:
    return {
        pa.string(): "VARCHAR",
        pa.timestamp("us"): "TIMESTAMP",
        pa.date32(): "DATE",
        pa.float64(): "DOUBLE",
        pa.int64(): "BIGINT",
        pa.int32(): "INTEGER",
        pa.bool_(): "BOOLEAN",
    }[dtype]
