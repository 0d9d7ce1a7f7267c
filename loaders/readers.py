"""The only module that opens input files: CSV or Parquet, read as text columns.

Every value is read as text and typed later in `validate`, so that a bad value becomes a
quarantined row with its reason instead of a failed file. CSV rows that do not split into the
header's columns are not dropped either: DuckDB's reject store returns them with their line,
and they are quarantined as `malformed_row`.
"""

from __future__ import annotations

import csv
import io
import os
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from graph.arrays import unique
from graph.errors import MissingColumns, MissingFile, UnreadableFile
from graph.model import DUCKDB_QUIET, TABLES
from loaders.dialect import DELIMITERS, Dialect, FileDialect
from loaders.encoding import (
    CHUNK_BYTES,
    BadRecord,
    complete_records_end,
    detect_encoding,
    first_record_end,
    python_codec,
    transcode_chunk,
)
from loaders.specs import PHRASES, Reason, required_columns
from loaders.validate import QUARANTINE_SCHEMA

FORMATS = (".csv", ".parquet")
# The delimiter is always given (the contract's comma by default) and quotes are fixed: this
# keeps DuckDB's sniffer from guessing another dialect when a file holds malformed rows.
_CSV_OPTIONS = "all_varchar=true, header=true, quote='\"', escape='\"'"
#: Encodings DuckDB reads itself; the others are transcoded first.
_DIRECT = ("utf-8", "utf-8-sig")
#: Bytes sampled for encoding detection (whole lines of them).
_SAMPLE_BYTES = 1 << 20
#: Bytes read at a time while looking for the first non-ASCII byte of a file.
_SCAN_BYTES = 1 << 24
_NON_ASCII = re.compile(rb"[\x80-\xff]")
_REMEDY = "name the encoding with --encoding or in guanxi-load.toml"
CSV_DEFAULT = FileDialect("csv", "utf-8", ",")


@dataclass(frozen=True)
class RawTable:
    """One input file as text columns plus `_row`, and the rows that could not be split."""

    name: str
    path: Path
    table: pa.Table
    malformed: pa.Table  # QUARANTINE_SCHEMA (malformed_row and bad_encoding)
    dialect: FileDialect | None = None


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


def read_config_text(path: Path) -> str | None:
    """The text of the folder's ``guanxi-load.toml``, or None when there is none.

    Raises
    ------
    UnreadableFile
        It exists but cannot be read as UTF-8 text (TOML files are UTF-8).
    """
    if not path.is_file():
        return None
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UnreadableFile(f"{path}: cannot read: {exc}", path=str(path)) from exc


def resolve_dialect(path: Path, wanted: Dialect) -> FileDialect:
    """The dialect a file will be read with: `auto` replaced by the detected encoding.

    Raises
    ------
    UnreadableFile
        The file cannot be opened.
    """
    if path.suffix == ".parquet":
        return FileDialect("parquet")
    if wanted.encoding != "auto":
        return FileDialect("csv", wanted.encoding, wanted.delimiter)
    try:
        sample = _encoding_sample(path)
    except OSError as exc:
        raise UnreadableFile(f"{path}: cannot read: {exc}", path=str(path)) from exc
    return FileDialect("csv", detect_encoding(sample), wanted.delimiter, detected=True)


def _encoding_sample(path: Path) -> bytes:
    """Whole lines of the file to detect its encoding from: the first block, or, when that
    is plain ASCII (ids and numbers first, names later), the block of lines from the first
    one holding a byte that is not.

    An ASCII file is read to its end to be sure, in large chunks that ``bytes.isascii``
    checks at memory speed; only the chunk where a non-ASCII byte appears is searched."""
    with path.open("rb") as fh:
        block = fh.read(_SAMPLE_BYTES)
        if block.startswith(b"\xef\xbb\xbf"):
            return block
        tail = block[block.rfind(b"\n") + 1 :]  # a line that may go on in the next chunk
        while block.isascii() and (chunk := fh.read(_SCAN_BYTES)):
            if chunk.isascii():
                tail = chunk[chunk.rfind(b"\n") + 1 :]
                continue
            at = _NON_ASCII.search(chunk).start()
            start = chunk.rfind(b"\n", 0, at) + 1
            block = (tail if start == 0 else b"") + chunk[start : start + _SAMPLE_BYTES]
            block += fh.read(max(0, start + _SAMPLE_BYTES - len(chunk)))
    end = block.rfind(b"\n")
    return block if end < 0 else block[: end + 1]


def read_header(path: Path, dialect: FileDialect | None = None) -> list[str]:
    """Column names of a file, read without loading its rows.

    Raises
    ------
    UnreadableFile
        The file cannot be read, or its header does not decode in the dialect's encoding
        (named with the byte offset of the first undecodable byte).
    """
    dialect = dialect or CSV_DEFAULT
    try:
        if path.suffix == ".parquet":
            return pq.read_schema(path).names
        record = _first_record(path)
    except (OSError, pa.ArrowException) as exc:
        raise UnreadableFile(f"{path}: cannot read the header: {exc}", path=str(path)) from exc
    codec = python_codec(dialect.encoding or "utf-8")
    try:
        text = record.decode(codec)
    except UnicodeDecodeError as exc:
        raise UnreadableFile(
            f"{path}: the header does not decode as {dialect.encoding} at byte offset "
            f"{exc.start} (bytes {record[exc.start : exc.end]!r}); {_REMEDY}",
            path=str(path),
        ) from exc
    fields = csv.reader(
        io.StringIO(text.removeprefix("\ufeff"), newline=""), delimiter=dialect.delimiter or ","
    )
    return [c.strip() for c in next(fields, [])]


def _first_record(path: Path) -> bytes:
    """The bytes of the first record (the header), a quoted newline included."""
    data = b""
    with path.open("rb") as fh:
        while True:
            block = fh.read(1 << 16)
            data += block
            end = first_record_end(data)
            if end or not block:
                return data[:end] if end else data


def check_columns(name: str, path: Path, header: list[str]) -> None:
    """Raise when a required column is missing from `header`.

    Raises
    ------
    UnreadableFile
        The header reads as one column holding another delimiter: the delimiter is wrong.
    MissingColumns
    """
    missing = [c for c in required_columns(name) if c not in header]
    if not missing:
        return
    if len(header) == 1:
        for shown, char in DELIMITERS.items():
            if char in header[0]:
                raise UnreadableFile(
                    f"{path}: the header reads as the single column {header[0]!r}, which "
                    f"holds {shown!r}: pass --delimiter {shown!r} or set delimiter in "
                    "guanxi-load.toml",
                    path=str(path),
                )
    raise MissingColumns(str(path), missing)


#: Rows of a Parquet file read and validated at a time, so that a load holds one batch of a
#: large table as text rather than all of it (a CSV is read whole: DuckDB's reject store,
#: which numbers its malformed lines, sees the file in one pass).
BATCH_ROWS = 8_000_000


def read_raw_batches(
    name: str, path: Path, dialect: FileDialect | None = None
) -> Iterator[RawTable]:
    """The file as :func:`read_raw` reads it, in batches of at most :data:`BATCH_ROWS` rows
    (Parquet; a CSV file and the customers come whole), numbered across batches.

    Raises
    ------
    UnreadableFile
        The file cannot be read, at the batch where that shows.
    """
    if path.suffix != ".parquet" or name == "customers":
        # customers whole: a repeated id may conflict with a row of any other batch
        yield read_raw(name, path, dialect)
        return
    dialect = dialect or FileDialect("parquet")
    first = 1
    try:
        parquet = pq.ParquetFile(path)
        if parquet.metadata.num_rows <= BATCH_ROWS:
            yield read_raw(name, path, dialect)
            return
        for batch in parquet.iter_batches(batch_size=BATCH_ROWS):
            table = pa.table({c: _as_text(batch.column(c)) for c in batch.schema.names})
            rows = np.arange(first, first + table.num_rows, dtype=np.int64)
            first += table.num_rows
            table = table.append_column("_row", pa.array(rows, pa.int64()))
            malformed = QUARANTINE_SCHEMA.empty_table()
            yield RawTable(name=name, path=path, table=table, malformed=malformed, dialect=dialect)
    except (OSError, pa.ArrowException) as exc:
        raise UnreadableFile(f"{path}: cannot read: {exc}", path=str(path)) from exc


def read_raw(name: str, path: Path, dialect: FileDialect | None = None) -> RawTable:
    """Read a whole file as text columns, numbering its data rows from 1.

    Raises
    ------
    UnreadableFile
        The file cannot be read (a header that does not decode included).
    """
    dialect = dialect or (FileDialect("parquet") if path.suffix == ".parquet" else CSV_DEFAULT)
    try:
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            table = pa.table({c: _as_text(table.column(c)) for c in table.column_names})
            malformed = QUARANTINE_SCHEMA.empty_table()
            rows = np.arange(1, table.num_rows + 1, dtype=np.int64)
        elif dialect.encoding in _DIRECT:
            table, malformed, rows = _read_csv(name, path, dialect)
        else:
            table, malformed, rows = _read_transcoded(name, path, dialect)
    except (duckdb.Error, OSError, pa.ArrowException) as exc:
        raise UnreadableFile(f"{path}: cannot read: {exc}", path=str(path)) from exc
    table = table.append_column("_row", pa.array(rows, pa.int64()))
    return RawTable(name=name, path=path, table=table, malformed=malformed, dialect=dialect)


def _read_transcoded(
    name: str, path: Path, dialect: FileDialect
) -> tuple[pa.Table, pa.Table, np.ndarray]:
    """Transcode to a temporary UTF-8 file, read that, and remove it."""
    fd, tmp = tempfile.mkstemp(prefix=f"guanxi-{name}-", suffix=".csv")
    os.close(fd)
    try:
        bad = transcode_to_utf8(path, Path(tmp), str(dialect.encoding))
        return _read_csv(name, path, dialect, read_from=Path(tmp), bad=bad)
    finally:
        Path(tmp).unlink(missing_ok=True)


def transcode_to_utf8(src: Path, dst: Path, encoding: str) -> dict[int, BadRecord]:
    """Write `src` (in `encoding`) to `dst` as UTF-8, a chunk of whole records at a time.

    Returns the records that do not decode, by row; they are written as placeholders so
    that the rows after them keep their numbers (see `loaders.encoding`).

    Raises
    ------
    UnreadableFile
        The header does not decode.
    OSError
    """
    codec = python_codec(encoding)
    bad: dict[int, BadRecord] = {}
    row = offset = 0
    carry = b""
    with src.open("rb") as fin, dst.open("wb") as fout:
        while True:
            block = fin.read(CHUNK_BYTES)
            data = carry + block
            end = complete_records_end(data) if block else len(data)
            if end == 0 and block:
                carry = data  # one record longer than a chunk: read on
                continue
            chunk, carry = data[:end], data[end:]
            if not chunk:
                break
            text, failed, count = transcode_chunk(chunk, codec, first_row=row, offset=offset)
            if row == 0:
                if failed and failed[0].row == 0:
                    raise UnreadableFile(
                        f"{src}: the header does not decode as {encoding} at byte offset "
                        f"{failed[0].offset}; {_REMEDY}",
                        path=str(src),
                    )
                text = text.removeprefix("\ufeff")
            fout.write(text.encode("utf-8"))
            bad.update((b.row, b) for b in failed)
            row += count
            offset += len(chunk)
            if not block:
                break
    return bad


def _as_text(col: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    # typed Parquet columns are turned back into text so one validation path serves both
    return pc.cast(col, pa.string())


def _read_csv(
    name: str,
    path: Path,
    dialect: FileDialect,
    *,
    read_from: Path | None = None,
    bad: dict[int, BadRecord] | None = None,
) -> tuple[pa.Table, pa.Table, np.ndarray]:
    """DuckDB's read of a UTF-8 CSV (`path`, or its transcoded copy `read_from`).

    Rows DuckDB rejects as invalid UTF-8, and the rows of `bad` (undecodable in the source's
    encoding, present in the copy as placeholders), come back as `bad_encoding`; other
    rejected lines as `malformed_row`.
    """
    bad = dict(bad or {})
    con = duckdb.connect()
    con.execute(DUCKDB_QUIET)
    try:
        table = con.sql(
            # store_rejects keeps unsplittable lines (with their line numbers) for quarantine;
            # strict_mode=false would also accept them but makes the read much slower
            f"SELECT * FROM read_csv(?, {_CSV_OPTIONS}, delim=?, store_rejects=true)",
            params=[str(read_from or path), dialect.delimiter or ","],
        ).to_arrow_table()
        rejects = con.sql(
            "SELECT line, csv_line, error_type, line_byte_position FROM reject_errors ORDER BY line"
        ).to_arrow_table()
    finally:
        con.close()
    bad_lines = unique(rejects.column("line").to_numpy().astype(np.int64))
    # data rows are numbered from 1 (file line 2); rejected lines keep their own numbers
    rows = np.arange(1, table.num_rows + 1, dtype=np.int64)
    first: dict[int, tuple[str, str, int]] = {}
    if len(bad_lines):
        lines = np.arange(2, table.num_rows + len(bad_lines) + 2, dtype=np.int64)
        rows = np.setdiff1d(lines, bad_lines, assume_unique=True) - 1
        for line, text, err, pos in zip(
            rejects.column("line").to_pylist(),
            rejects.column("csv_line").to_pylist(),
            rejects.column("error_type").to_pylist(),
            rejects.column("line_byte_position").to_pylist(),
            strict=True,
        ):
            first.setdefault(int(line), (text, err, int(pos or 0)))
    for line, (_, err, pos) in first.items():
        if err == "INVALID ENCODING" and line - 1 not in bad:
            bad[line - 1] = _bad_record_at(path, line - 1, pos)
    if bad:
        keep = pc.invert(pc.is_in(pa.array(rows), pa.array(sorted(bad), pa.int64())))
        table, rows = table.filter(keep), rows[keep.to_numpy(zero_copy_only=False)]
    mrows = [int(x) - 1 for x in bad_lines if int(x) - 1 not in bad]
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
    encoding = _bad_encoding_rows(name, path.name, str(dialect.encoding), list(bad.values()))
    return table, pa.concat_tables([malformed, encoding]), rows


def _bad_record_at(path: Path, row: int, start: int) -> BadRecord:
    """The record of `row` that DuckDB found to be invalid UTF-8, read back from `path` at
    its line's byte position, with the offset of its first invalid byte."""
    with path.open("rb") as fh:
        fh.seek(start)
        data = fh.read(1 << 16)
    end = first_record_end(data) or len(data)
    record = data[:end]
    try:
        record.decode("utf-8")
        at = 0
    except UnicodeDecodeError as exc:
        at = exc.start
    return BadRecord(row=row, offset=start + at, raw=record)


def _bad_encoding_rows(name: str, file: str, encoding: str, bad: list[BadRecord]) -> pa.Table:
    """Quarantine records for rows whose bytes do not decode (the raw row as `value`)."""
    bad = sorted(bad, key=lambda b: b.row)
    phrase = PHRASES[Reason.BAD_ENCODING]
    return pa.table(
        {
            "table": [name] * len(bad),
            "file": [file] * len(bad),
            "row": [b.row for b in bad],
            "column": [None] * len(bad),
            "value": [b.text() for b in bad],
            "reason": [str(Reason.BAD_ENCODING)] * len(bad),
            "message": [
                f"{file} row {b.row}: the row {phrase} {encoding} at byte offset {b.offset} "
                f"({Reason.BAD_ENCODING}); correct the source, or {_REMEDY}"
                for b in bad
            ],
        },
        schema=QUARANTINE_SCHEMA,
    )
