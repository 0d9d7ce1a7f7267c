"""Row validation against the contract, vectorised: one SQL pass gives each row its reason.

An in-memory DuckDB connection serves as the columnar engine (no file is opened here): it
casts every column once with TRY_CAST, and a CASE over the checks, in priority order, names
the first problem of each bad row: its reason code, column and offending value. Good rows
come out typed to `graph.model.SCHEMAS`; bad rows come out as quarantine records. Every input
row ends up in exactly one of the two, so read = loaded + quarantined holds by construction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from graph.model import DUCKDB_QUIET, SCHEMAS, UNICODE_SPACES
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
    """Typed good rows and quarantined bad rows of one table.

    ``valid`` carries ``_pos``, each row's place in its source: of the rows sharing a natural
    key a store keeps the one with the smallest (`graph.store.base.IngestSink`), so the rows
    need not come in file order, and validation need not sort them.
    """

    valid: pa.Table
    quarantined: pa.Table

    @property
    def read(self) -> int:
        return self.valid.num_rows + self.quarantined.num_rows


#: SQL dialects the validation pass is generated for: DuckDB (the local loader) and Spark SQL
#: (the Spark engine, ANSI mode). The checks, their order and the reason codes are one
#: definition; only spelling differs.
Dialect = Literal["duckdb", "spark"]

#: The canonical form the contract writes, without offset or zone: a plain TIMESTAMP cast reads
#: it exactly as the TIMESTAMPTZ cast (in UTC) does, at a third of the cost.
_PLAIN_TIMESTAMP = "[0-9]{4}-[0-9]{2}-[0-9]{2}[T ][0-9]{2}:[0-9]{2}:[0-9]{2}"

#: Spark's casts accept forms DuckDB refuses (a bare year as a date, ``1.5d`` as a number);
#: on Spark a value must also have the shape DuckDB reads, so both quarantine the same rows.
_SPARK_DATE_SHAPE = "^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}([T ].*)?$"
_SPARK_NUMBER_SHAPE = "^[+-]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][+-]?[0-9]+)?$"
_SPARK_SPECIAL_NUMBER = "^[+-]?([iI][nN][fF]([iI][nN][iI][tT][yY])?|[nN][aA][nN])$"


def _q(name: str, dialect: Dialect = "duckdb") -> str:
    if dialect == "spark":
        return "`" + name.replace("`", "``") + "`"
    return '"' + name.replace('"', '""') + '"'


def _lit(text: str, dialect: Dialect = "duckdb") -> str:
    if dialect == "spark":
        # Spark SQL reads backslash escapes in string literals
        return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return "'" + text.replace("'", "''") + "'"


def _text_expr(col: str, *, trim: bool, dialect: Dialect = "duckdb") -> str:
    ref = f"r.{_q(col, dialect)}"
    if not trim:
        return f"NULLIF({ref}, '')"
    if dialect == "spark":
        return f"NULLIF(btrim({ref}, {_lit(UNICODE_SPACES, dialect)}), '')"
    return f"NULLIF(trim({ref}), '')"


def _typed_expr(
    col: str, dtype: pa.DataType, *, trim: bool = True, dialect: Dialect = "duckdb"
) -> str:
    raw = _text_expr(col, trim=trim, dialect=dialect)
    spark = dialect == "spark"
    if dtype == pa.string():
        return raw
    if dtype == pa.timestamp("us"):
        if spark:
            # offsets are honoured (the session runs in UTC); naive times are taken as given
            return (
                f"CASE WHEN {raw} RLIKE {_lit(_SPARK_DATE_SHAPE, dialect)} "
                f"THEN CAST(try_cast({raw} AS TIMESTAMP) AS TIMESTAMP_NTZ) END"
            )
        # offsets are honoured (converted to UTC); naive times are taken as given
        plain = f"r.{_q(col)}"
        return (
            f"CASE WHEN regexp_full_match({plain}, '{_PLAIN_TIMESTAMP}') "
            f"THEN TRY_CAST({plain} AS TIMESTAMP) "
            f"ELSE TRY_CAST({raw} AS TIMESTAMPTZ)::TIMESTAMP END"
        )
    if dtype == pa.date32():
        if spark:
            shape = _lit(_SPARK_DATE_SHAPE, dialect)
            return f"CASE WHEN {raw} RLIKE {shape} THEN try_cast({raw} AS DATE) END"
        return f"TRY_CAST({raw} AS DATE)"
    if dtype == pa.float64():
        if spark:
            return (
                f"CASE WHEN {raw} RLIKE {_lit(_SPARK_NUMBER_SHAPE, dialect)} "
                f"OR {raw} RLIKE {_lit(_SPARK_SPECIAL_NUMBER, dialect)} "
                f"THEN try_cast({raw} AS DOUBLE) END"
            )
        return f"TRY_CAST({raw} AS DOUBLE)"
    if dtype in (pa.int64(), pa.int32()):
        if spark:
            # DuckDB reads '1.5' and '1e3' as integers (rounded half away from zero)
            return (
                f"CASE WHEN {raw} RLIKE {_lit(_SPARK_NUMBER_SHAPE, dialect)} "
                f"THEN coalesce(try_cast({raw} AS BIGINT), "
                f"try_cast(round(try_cast({raw} AS DECIMAL(38, 9)), 0) AS BIGINT)) END"
            )
        return f"TRY_CAST({raw} AS BIGINT)"
    if dtype == pa.bool_():
        t = ", ".join(_lit(w, dialect) for w in TRUE_WORDS)
        f = ", ".join(_lit(w, dialect) for w in FALSE_WORDS)
        return (
            f"CASE WHEN lower({raw}) IN ({t}) THEN true WHEN lower({raw}) IN ({f}) THEN false END"
        )
    raise TypeError(dtype)


@dataclass(frozen=True)
class ValidationSql:
    """The one validation pass of a table, as SQL over the text rows and the known ids.

    ``sql`` yields every input row, typed, with ``_row``, the carried columns, ``_check`` (the
    number of the first check it fails, NULL for a good row) and ``_value`` (the offending
    text); ``checks`` lists ``(condition, reason, column, value)`` by check number.
    """

    sql: str
    checks: tuple[tuple[str, str, str, str], ...]


def validation_sql(
    table_name: str,
    present: list[str],
    *,
    dialect: Dialect = "duckdb",
    padded: set[str] | None = None,
    carry: tuple[str, ...] = (),
    source: str = "raw_in",
    known: str = "known",
) -> ValidationSql:
    """Generate the validation pass of ``table_name`` for the columns ``present`` in the input.

    Parameters
    ----------
    table_name
        One of customers, relations, transactions, events.
    present
        The input's column names (without ``_row``).
    dialect
        ``duckdb`` or ``spark``; the same checks in the same order, spelled for each.
    padded
        Columns that may need trimming (None: all); a DuckDB-side shortcut.
    carry
        Input columns passed through untouched besides ``_row`` (the Spark engine's ``_file``).
    source, known
        The relations read: the text rows (with ``_row``) and the known customer ids (one
        distinct ``customer_id`` column).
    """
    d = dialect
    schema = SCHEMAS[table_name]
    contract = contract_columns(table_name)
    extras = [c for c in present if c not in contract]
    trimmed = set(present) if padded is None else padded
    select_typed = []
    checks: list[tuple[str, str, str, str]] = []  # (condition, reason, column, value expr)
    for col in contract:
        dtype = schema.field(col).type
        if col in present:
            trim = col in trimmed
            select_typed.append(f"{_typed_expr(col, dtype, trim=trim, dialect=d)} AS {_q(col, d)}")
            if dtype != pa.string():
                select_typed.append(
                    f"{_text_expr(col, trim=trim, dialect=d)} AS {_q('_raw_' + col, d)}"
                )
        else:
            select_typed.append(f"CAST(NULL AS {_sql_type(dtype, d)}) AS {_q(col, d)}")
    for col in required_columns(table_name):
        # typed columns keep their trimmed raw text, so "empty" is not confused with "bad"
        raw_col = col if schema.field(col).type == pa.string() else "_raw_" + col
        checks.append((f"t.{_q(raw_col, d)} IS NULL", Reason.MISSING_VALUE, col, "NULL"))
    for col in contract:
        dtype = schema.field(col).type
        if col in present and dtype != pa.string():
            checks.append(
                (
                    f"t.{_q('_raw_' + col, d)} IS NOT NULL AND t.{_q(col, d)} IS NULL",
                    PARSE_REASON[dtype],
                    col,
                    f"t.{_q('_raw_' + col, d)}",
                )
            )
    for col in contract:
        if col in present and schema.field(col).type == pa.float64():
            # NaN and infinities parse, but no exact (decimal) sum holds them
            c = f"t.{_q(col, d)}"
            bad = (
                f"(isnan({c}) OR abs({c}) = CAST('Infinity' AS DOUBLE))"
                if d == "spark"
                else f"NOT isfinite({c})"
            )
            checks.append(
                (
                    f"{c} IS NOT NULL AND {bad}",
                    Reason.NON_FINITE_NUMBER,
                    col,
                    f"t.{_q('_raw_' + col, d)}",
                )
            )
    for col, (allowed, reason) in ENUMS.get(table_name, {}).items():
        values = ", ".join(_lit(v, d) for v in allowed)
        checks.append((f"t.{_q(col, d)} NOT IN ({values})", reason, col, f"t.{_q(col, d)}"))
    if table_name == "relations":
        checks.append(("t.src_id = t.dst_id", Reason.SELF_RELATION, "dst_id", "t.dst_id"))
    refs = CUSTOMER_REFS[table_name]
    joins = ""
    for i, col in enumerate(refs):
        # a hash join against the known ids; NOT IN (subquery) inside a CASE runs far slower
        joins += f" LEFT JOIN {known} k{i} ON k{i}.customer_id = t.{_q(col, d)}"
        checks.append(
            (f"k{i}.customer_id IS NULL", Reason.UNKNOWN_CUSTOMER, col, f"t.{_q(col, d)}")
        )
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

    text_type = _sql_type(pa.string(), d)
    # each condition is evaluated once, into a check number; the rest is looked up from it
    check_case = (
        "CASE " + " ".join(f"WHEN {c} THEN {i}" for i, (c, _, _, _) in enumerate(checks)) + " END"
        if checks
        else "CAST(NULL AS INTEGER)"
    )
    value_case = (
        "CASE _check "
        + " ".join(
            f"WHEN {i} THEN CAST(({v}) AS {text_type})" for i, (_, _, _, v) in enumerate(checks)
        )
        + " END"
        if checks
        else f"CAST(NULL AS {text_type})"
    )
    if not extras:
        attributes = f"CAST(NULL AS {text_type})"
    elif d == "spark":
        # nulls kept, as DuckDB's json_object keeps them
        fields = ", ".join(f"{_lit(c, d)}, r.{_q(c, d)}" for c in extras)
        attributes = f"to_json(named_struct({fields}), map('ignoreNullFields', 'false'))"
    else:
        attributes = "json_object(" + ", ".join(f"{_lit(c)}, r.{_q(c)}" for c in extras) + ")"
    dup = ""
    window = ""
    if table_name == "customers" and content_cols:
        # the first row of an id wins; a later row with different values is a conflict
        if d == "spark":
            # Spark's hashes skip nulls, so (NULL, 'a') and ('a', NULL) would collide:
            # each value is hashed together with whether it is missing
            content = ", ".join(f"r.{_q(c, d)}, r.{_q(c, d)} IS NULL" for c in content_cols)
            hashed = f"xxhash64({content})"
            key = _text_expr("customer_id", trim=True, dialect=d)
        else:
            content = ", ".join(f"r.{_q(c)}" for c in content_cols)
            hashed = f"hash({content})"
            key = "NULLIF(trim(r.customer_id), '')"
        dup = (
            f", {hashed} AS _hash, "
            "first_value(r._row) OVER w AS _first_row, "
            f"first_value({hashed}) OVER w AS _first_hash"
        )
        window = f" WINDOW w AS (PARTITION BY {key} ORDER BY r._row)"
    cols = ", ".join(_q(c, d) for c in schema.names)
    carried = "".join(f", r.{_q(c, d)}" for c in carry)
    carried_out = "".join(f", {_q(c, d)}" for c in carry)
    # one pass: every row comes out typed, with the number of the first check it fails
    # and the offending text
    sql = (
        f"SELECT {cols}, _row{carried_out}, _check, {value_case} AS _value FROM ("
        f"SELECT t.*, {check_case} AS _check FROM ("
        f"SELECT r._row{carried}, {', '.join(select_typed)}, {attributes} AS attributes{dup} "
        f"FROM {source} r{window}) t{joins}) t"
    )
    return ValidationSql(sql, tuple(checks))


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
        the JSON ``attributes`` column) plus ``_pos``, each row's ``_row``, in no particular
        order; ``quarantined`` follows ``QUARANTINE_SCHEMA``, in file order.
    """
    schema = SCHEMAS[table_name]
    present = [c for c in raw.column_names if c != "_row"]
    gen = validation_sql(table_name, present, padded=_padded_columns(raw, present))
    checks = list(gen.checks)
    con = duckdb.connect()
    con.execute(DUCKDB_QUIET)
    try:
        con.execute("SET TimeZone = 'UTC'")
        # rows carry their own number, so DuckDB need not keep order while it works
        con.execute("SET preserve_insertion_order = false")
        con.register("raw_in", raw)
        known = known_customers if known_customers is not None else pa.array([], pa.string())
        con.register("known_in", pa.table({"customer_id": known}))
        con.execute("CREATE TEMP TABLE known AS SELECT DISTINCT customer_id FROM known_in")
        # rows come out in whatever order DuckDB's threads finish; each keeps its file row
        # as `_pos`, by which the store keeps the first of the rows sharing a natural key
        judged = con.sql(gen.sql).to_arrow_table()
    finally:
        con.close()
    flags = judged.column("_check")
    positioned = schema.append(pa.field("_pos", pa.int64()))
    if flags.null_count == judged.num_rows:
        # the usual case: every row is good, so nothing needs copying out
        valid = judged.select([*schema.names, "_row"])
        bad = judged.select(["_row", "_check", "_value"]).slice(0, 0)
    else:
        good = pc.is_null(flags)
        valid = judged.filter(good).select([*schema.names, "_row"])
        bad = judged.filter(pc.invert(good)).select(["_row", "_check", "_value"])
    valid = valid.rename_columns(positioned.names).cast(positioned)
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
    return quarantine_records(table_name, bad.to_pandas().sort_values("_row"), checks, file=file)


def quarantine_records(
    table_name: str,
    bad: pd.DataFrame,
    checks: Sequence[tuple[str, str, str, str]],
    *,
    file: str | None = None,
) -> pa.Table:
    """The quarantine rows (`QUARANTINE_SCHEMA`) of judged bad rows, in the order given.

    Parameters
    ----------
    table_name
        The table the rows belong to.
    bad
        Columns ``_row``, ``_check`` (the number of the failed check), ``_value`` (the
        offending text) and, when ``file`` is None, ``_file`` (each row's source name).
    checks
        The checks of `validation_sql`, numbered as ``_check`` numbers them.
    file
        The source's name, when every row comes from one file.

    Notes
    -----
    The Spark engine calls this on each batch of its bad rows (``mapInPandas``), so both
    engines word every message with this one function.
    """
    idx = bad["_check"].to_numpy().astype(int)
    reasons = np.array([str(r) for _, r, _, _ in checks], dtype=object)[idx]
    columns = np.array([c for _, _, c, _ in checks], dtype=object)[idx]
    phrases = np.array([PHRASES[Reason(r)] for _, r, _, _ in checks], dtype=object)[idx]
    values = [None if pd.isna(v) else str(v) for v in bad["_value"]]
    shown = ["(empty)" if v is None else repr(v) for v in values]
    rows = bad["_row"].to_numpy()
    files = (
        pd.Series([file] * len(bad)) if file is not None else bad["_file"].reset_index(drop=True)
    )
    message = (
        files
        + " row "
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
            "table": [table_name] * len(bad),
            "file": files.to_numpy(dtype=object),
            "row": rows,
            "column": columns,
            "value": values,
            "reason": reasons,
            "message": message.to_numpy(),
        },
        schema=QUARANTINE_SCHEMA,
    )


def _sql_type(dtype: pa.DataType, dialect: Dialect = "duckdb") -> str:
    if dialect == "spark":
        return {
            pa.string(): "STRING",
            pa.timestamp("us"): "TIMESTAMP_NTZ",
            pa.date32(): "DATE",
            pa.float64(): "DOUBLE",
            pa.int64(): "BIGINT",
            pa.int32(): "INT",
            pa.bool_(): "BOOLEAN",
        }[dtype]
    return {
        pa.string(): "VARCHAR",
        pa.timestamp("us"): "TIMESTAMP",
        pa.date32(): "DATE",
        pa.float64(): "DOUBLE",
        pa.int64(): "BIGINT",
        pa.int32(): "INTEGER",
        pa.bool_(): "BOOLEAN",
    }[dtype]
