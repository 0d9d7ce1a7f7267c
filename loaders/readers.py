"""The only module that opens input files: CSV or Parquet, read as text columns.

Every value is read as text and typed later in `validate`, so that a bad value becomes a
quarantined row with its reason instead of a failed file. CSV rows that do not split into the
header's columns are not dropped either: DuckDB's reject store returns them with their line,
and they are quarantined as `malformed_row`.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from graph.errors import MissingColumns, MissingFile, UnreadableFile
from graph.model import TABLES
from loaders.specs import Reason, required_columns
from loaders.validate import QUARANTINE_SCHEMA

FORMATS = (".csv", ".parquet")
# The contract's CSV is comma-separated with double quotes; fixing the dialect keeps DuckDB's
# sniffer from guessing another delimiter when a file holds malformed rows.
_CSV_OPTIONS = "all_varchar=true, header=true, delim=',', quote='\"', escape='\"'"


@dataclass(frozen=True)
class RawTable:
    """One input file as text columns plus `_row`, and the rows that could not be split."""

    name: str
    path: Path
    table: pa.Table
    malformed: pa.Table  # QUARANTINE_SCHEMA


def find_table_file(folder: Path, name: str) -> Path:
    """`folder/name.csv` or `folder/name.parquet`.

    Raises
    ------
    MissingFile
        Neither exists (or both do, which would be ambiguous).
    """
    found = [folder / f"{name}{ext}" for ext in FORMATS if (folder / f"{name}{ext}").is_file()]
    if not found:
        raise MissingFile(
            f"{folder}: no {name}.csv or {name}.parquet; every load needs the four tables "
            f"({', '.join(TABLES)}), a header-only file stands for an empty table",
            path=str(folder / f"{name}.csv"),
        )
    if len(found) > 1:
        raise UnreadableFile(
            f"{folder}: both {name}.csv and {name}.parquet exist; keep one", path=str(found[0])
        )
    return found[0]


def read_header(path: Path) -> list[str]:
    """Column names of a file, read without loading its rows."""
    try:
        if path.suffix == ".parquet":
            return pq.read_schema(path).names
        with path.open(newline="", encoding="utf-8-sig") as fh:
            return [c.strip() for c in next(csv.reader(fh), [])]
    except (OSError, UnicodeDecodeError, pa.ArrowException) as exc:
        raise UnreadableFile(f"{path}: cannot read the header: {exc}", path=str(path)) from exc


def check_columns(name: str, path: Path, header: list[str]) -> None:
    missing = [c for c in required_columns(name) if c not in header]
    if missing:
        raise MissingColumns(str(path), missing)


def read_raw(name: str, path: Path) -> RawTable:
    """Read a whole file as text columns, numbering its data rows from 1."""
    try:
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            table = pa.table({c: _as_text(table.column(c)) for c in table.column_names})
            malformed = QUARANTINE_SCHEMA.empty_table()
            rows = np.arange(1, table.num_rows + 1, dtype=np.int64)
        else:
            table, malformed, rows = _read_csv(name, path)
    except (duckdb.Error, OSError, pa.ArrowException) as exc:
        raise UnreadableFile(f"{path}: cannot read: {exc}", path=str(path)) from exc
    table = table.append_column("_row", pa.array(rows, pa.int64()))
    return RawTable(name=name, path=path, table=table, malformed=malformed)


def _as_text(col: pa.ChunkedArray) -> pa.ChunkedArray:
    # typed Parquet columns are turned back into text so one validation path serves both
    return pc.cast(col, pa.string())


def _read_csv(name: str, path: Path) -> tuple[pa.Table, pa.Table, np.ndarray]:
    con = duckdb.connect()
    try:
        table = con.sql(
            # store_rejects keeps unsplittable lines (with their line numbers) for quarantine;
            # strict_mode=false would also accept them but makes the read ~8x slower
            f"SELECT * FROM read_csv(?, {_CSV_OPTIONS}, store_rejects=true)",
            params=[str(path)],
        ).to_arrow_table()
        rejects = con.sql(
            "SELECT line, csv_line, error_type FROM reject_errors ORDER BY line"
        ).to_arrow_table()
    finally:
        con.close()
    bad_lines = np.unique(rejects.column("line").to_numpy().astype(np.int64))
    # data rows are numbered from 1 (file line 2); rejected lines keep their own numbers
    rows = np.arange(1, table.num_rows + 1, dtype=np.int64)
    if len(bad_lines):
        lines = np.arange(2, table.num_rows + len(bad_lines) + 2, dtype=np.int64)
        rows = np.setdiff1d(lines, bad_lines, assume_unique=True) - 1
        first = {}
        for line, text, err in zip(
            rejects.column("line").to_pylist(),
            rejects.column("csv_line").to_pylist(),
            rejects.column("error_type").to_pylist(),
            strict=True,
        ):
            first.setdefault(int(line), (text, err))
        mrows = [int(x) - 1 for x in bad_lines]
        malformed = pa.table(
            {
                "table": [name] * len(mrows),
                "file": [path.name] * len(mrows),
                "row": mrows,
                "column": [None] * len(mrows),
                "value": [first[r + 1][0] for r in mrows],
                "reason": [str(Reason.MALFORMED_ROW)] * len(mrows),
                "message": [
                    f"{path.name} row {r}: {first[r + 1][1].lower()} — the row cannot be split "
                    "into the header's columns (malformed_row); correct the source or drop the row"
                    for r in mrows
                ],
            },
            schema=QUARANTINE_SCHEMA,
        )
    else:
        malformed = QUARANTINE_SCHEMA.empty_table()
    return table, malformed, rows
