"""Load a folder (or DataFrames) into a store: read, validate, quarantine, upsert.

All four files are read and validated before anything is written, so a missing file, a
missing required column or an unreadable file leaves the store untouched. Customers are
validated first because relations, transactions and events must name known customers: the
store's, or valid ones from this same load.

Each CSV is read in its own dialect (encoding and delimiter: `loaders.dialect`), and the
report says which one was used. Quarantine files mask PII (`loaders.quarantine`) unless the
data owner asks for them raw.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from graph.model import PII_COLUMNS, TABLES, TableCounts
from graph.store.base import GraphStore
from loaders.dialect import CONFIG_FILE, FileDialect, dialects_for, parse_config
from loaders.quarantine import mask_quarantine, write_quarantine
from loaders.readers import (
    RawTable,
    check_columns,
    find_table_file,
    read_config_text,
    read_header,
    read_raw_batches,
    resolve_dialect,
)
from loaders.validate import QUARANTINE_SCHEMA, LoadResult, validate_table

Progress = Callable[[str, str], None]


@dataclass
class LoadReport:
    """Per-table counts (read = loaded + quarantined) and where rejected rows went."""

    tables: dict[str, TableCounts] = field(default_factory=dict)
    quarantine_files: dict[str, str] = field(default_factory=dict)
    reasons: dict[str, dict[str, int]] = field(default_factory=dict)
    #: per table: format, encoding and delimiter used, and whether the encoding was detected
    dialects: dict[str, FileDialect] = field(default_factory=dict)
    #: whether the quarantine files hold PII unmasked (``--quarantine-raw``)
    quarantine_raw: bool = False

    def as_dict(self) -> dict:
        return {
            "tables": {k: v.as_dict() for k, v in self.tables.items()},
            "quarantine_files": self.quarantine_files,
            "reasons": self.reasons,
            "dialects": {k: v.as_dict() for k, v in self.dialects.items()},
            "quarantine_raw": self.quarantine_raw,
        }

    @property
    def quarantined(self) -> int:
        return sum(t.quarantined for t in self.tables.values())


def check_folder(
    folder: Path, *, encoding: str | None = None, delimiter: str | None = None
) -> tuple[dict[str, Path], dict[str, FileDialect]]:
    """Find the four files, settle each one's dialect and check its header, before any row
    is read.

    `encoding` and `delimiter` are the command line's (None: not given); the folder's
    ``guanxi-load.toml``, when present, adds per-table and default values
    (`loaders.dialect.dialects_for` says which wins).

    Raises
    ------
    MissingFile, MissingColumns, UnreadableFile
    ConfigError
        An unknown key or value in ``guanxi-load.toml`` or in the options.
    """
    text = read_config_text(folder / CONFIG_FILE)
    config = parse_config(text, source=str(folder / CONFIG_FILE)) if text is not None else None
    wanted = dialects_for(config, encoding=encoding, delimiter=delimiter)
    paths = {name: find_table_file(folder, name) for name in TABLES}
    dialects = {}
    for name, path in paths.items():
        dialects[name] = resolve_dialect(path, wanted[name])
        check_columns(name, path, read_header(path, dialects[name]))
    return paths, dialects


def frames_to_raw(frames: Mapping[str, pd.DataFrame]) -> dict[str, RawTable]:
    """DataFrames (from Python callers) in the same shape as files read from disk.

    Raises
    ------
    MissingFile, MissingColumns
    """
    from graph.errors import MissingFile

    out = {}
    for name in TABLES:
        if name not in frames:
            raise MissingFile(f"no {name!r} DataFrame given", path=f"<{name}>")
        df = frames[name]
        check_columns(name, Path(f"<{name} DataFrame>"), list(df.columns))
        tbl = pa.Table.from_pandas(df, preserve_index=False)
        tbl = pa.table({c: pc.cast(tbl.column(c), pa.string()) for c in tbl.column_names})
        tbl = tbl.append_column("_row", pa.array(np.arange(1, tbl.num_rows + 1), pa.int64()))
        out[name] = RawTable(
            name,
            Path(f"<{name} DataFrame>"),
            tbl,
            QUARANTINE_SCHEMA.empty_table(),
            FileDialect("frame"),
        )
    return out


def validate_all(
    read: Callable[[str], Iterable[RawTable]],
    known: pa.Array,
    progress: Progress | None = None,
    *,
    spool: Path | None = None,
) -> dict[str, tuple[LoadResult, pa.Table, FileDialect | None]]:
    """Read and validate each table in turn, batch by batch; only typed good rows are kept.

    Customers come first: references may name valid customers of this same load. A table
    read in one batch keeps its good rows in memory; one read in several (a large Parquet
    file) writes each batch's good rows (with their ``_pos``) to a Parquet file under
    ``spool`` as it goes, and its result's ``valid`` is the dataset of those files, so
    memory holds one batch whatever the table's size. Returns, per table, the
    validation result, the rows the reader could not split or decode, and the dialect.
    """
    say = progress or (lambda stage, detail: None)
    out: dict[str, tuple[LoadResult, pa.Table, FileDialect | None]] = {}
    known_all = known.cast(pa.string())
    for name in TABLES:
        say("validate", name)
        parts = _Parts(spool / name if spool is not None else None)
        for raw in read(name):
            res = validate_table(
                name,
                raw.table,
                file=raw.path.name,
                known_customers=None if name == "customers" else known_all,
            )
            parts.add(res, raw.malformed, raw.dialect)
            del raw, res
        res = parts.result()
        out[name] = (res, parts.malformed(), parts.dialect)
        if name == "customers":
            known_all = pa.concat_arrays(
                [known_all, res.valid.column("customer_id").combine_chunks()]
            )
    return out


class _Parts:
    """The batches of one table's validation, joined: good rows in memory while there is
    one batch, spooled to Parquet files from the second on."""

    def __init__(self, spool: Path | None) -> None:
        self.spool, self.dialect = spool, None
        self._valid: list[pa.Table] = []
        self._files: list[Path] = []
        self._bad: list[pa.Table] = []
        self._malformed: list[pa.Table] = []

    def add(self, res: LoadResult, malformed: pa.Table, dialect: FileDialect | None) -> None:
        self.dialect = dialect
        self._bad.append(res.quarantined)
        self._malformed.append(malformed)
        self._valid.append(res.valid)
        if len(self._valid) + len(self._files) > 1:
            if self.spool is None:
                raise ValueError("a table read in several batches needs a spool folder")
            self.spool.mkdir(parents=True, exist_ok=True)
            for table in self._valid:
                self._write(table)
            self._valid = []

    def _write(self, table: pa.Table) -> None:
        import pyarrow.parquet as pq

        path = self.spool / f"part-{len(self._files):05d}.parquet"
        pq.write_table(table, path, compression="lz4")
        self._files.append(path)

    def result(self) -> LoadResult:
        quarantined = pa.concat_tables(self._bad)
        if not self._files:
            return LoadResult(valid=self._valid[0], quarantined=quarantined)
        import pyarrow.dataset as ds

        return LoadResult(valid=ds.dataset(self._files, format="parquet"), quarantined=quarantined)

    def malformed(self) -> pa.Table:
        return pa.concat_tables(self._malformed)


def load_tables(
    store: GraphStore,
    read: Callable[[str], Iterable[RawTable]],
    *,
    quarantine_dir: Path | None,
    progress: Progress | None = None,
    pii_columns: Sequence[str] = (),
    quarantine_raw: bool = False,
) -> LoadReport:
    """Validate every table, then upsert them and write the quarantine files.

    Nothing is written until every table has been read and validated, so an unreadable
    file leaves the store untouched; a table validated in batches waits meanwhile as
    Parquet in a temporary folder, removed afterwards. `pii_columns` are declared PII in
    the store before the customers are written (so no reader ever sees them unmasked), and
    masked in the quarantine files together with the built-in and already declared ones,
    unless `quarantine_raw` (for the data owner, who may see the source rows as they are).

    Raises
    ------
    StoreError
    ConfigError
        A blank PII column name.
    """
    # made only when a table comes in several batches (so a killed small load leaves nothing)
    spool = Path(tempfile.gettempdir()) / f"guanxi-load-{uuid.uuid4().hex[:12]}"
    try:
        return _load_tables(
            store,
            validate_all(read, store.customer_ids(), progress, spool=spool),
            quarantine_dir=quarantine_dir,
            progress=progress,
            pii_columns=pii_columns,
            quarantine_raw=quarantine_raw,
        )
    finally:
        shutil.rmtree(spool, ignore_errors=True)


def _load_tables(
    store: GraphStore,
    results: dict[str, tuple[LoadResult, pa.Table, FileDialect | None]],
    *,
    quarantine_dir: Path | None,
    progress: Progress | None,
    pii_columns: Sequence[str],
    quarantine_raw: bool,
) -> LoadReport:
    """The write half of :func:`load_tables`, once every table is validated."""
    say = progress or (lambda stage, detail: None)
    if pii_columns:
        store.declare_pii_columns(list(pii_columns))
    pii = (*PII_COLUMNS, *store.declared_pii_columns())
    report = LoadReport(quarantine_raw=quarantine_raw)
    for name in TABLES:
        res, malformed, dialect = results.pop(name)
        if dialect is not None:
            report.dialects[name] = dialect
        bad = pa.concat_tables([malformed, res.quarantined]).sort_by("row")
        valid_rows = _row_count(res.valid)
        say("write", f"{name}: {valid_rows:,} rows")
        if name == "customers":
            counts = store.upsert_customers(res.valid)
        else:
            counts = store.upsert_rows(name, res.valid)
        report.tables[name] = TableCounts(
            read=valid_rows + bad.num_rows,
            loaded=valid_rows,
            quarantined=bad.num_rows,
            inserted=counts.inserted,
            updated=counts.updated,
        )
        del res
        if bad.num_rows:
            report.reasons[name] = {
                r["values"]: r["counts"] for r in pc.value_counts(bad.column("reason")).to_pylist()
            }
        if quarantine_dir is not None:
            if not quarantine_raw:
                delim = dialect.delimiter if dialect is not None else None
                bad = mask_quarantine(bad, pii_columns=pii, delimiter=delim or ",")
            path = write_quarantine(quarantine_dir, name, bad)
            if path is not None:
                report.quarantine_files[name] = str(path)
    return report


def _row_count(rows: pa.Table | Any) -> int:
    """Rows of a table, or of a spooled dataset (from its files' metadata)."""
    return rows.num_rows if isinstance(rows, pa.Table) else rows.count_rows()


def load_folder(
    store: GraphStore,
    folder: Path,
    *,
    quarantine_dir: Path | None = None,
    progress: Progress | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    pii_columns: Sequence[str] = (),
    quarantine_raw: bool = False,
) -> LoadReport:
    """Load the four tables of `folder` into `store`.

    Rejected rows go to ``<quarantine_dir>/<table>.quarantine.csv``; by default next to the
    input, in ``<folder>/quarantine``, or ``./guanxi-quarantine`` when the input folder is
    read-only.

    Parameters
    ----------
    encoding, delimiter
        The command line's dialect (``--encoding``, ``--delimiter``; None when not given):
        see `check_folder` and `loaders.dialect`.
    pii_columns
        Customer columns to declare PII in the store (``--pii-columns``).
    quarantine_raw
        Write quarantine files with PII unmasked (``--quarantine-raw``, for data owners).

    Raises
    ------
    MissingFile, MissingColumns, UnreadableFile, ConfigError
        File-level problems; nothing has been written.
    """
    folder = Path(folder)
    paths, dialects = check_folder(folder, encoding=encoding, delimiter=delimiter)
    if quarantine_dir is None:
        quarantine_dir = _default_quarantine_dir(folder)
    return load_tables(
        store,
        lambda name: read_raw_batches(name, paths[name], dialects[name]),
        quarantine_dir=quarantine_dir,
        progress=progress,
        pii_columns=pii_columns,
        quarantine_raw=quarantine_raw,
    )


def load_frames(
    store: GraphStore,
    frames: Mapping[str, pd.DataFrame],
    *,
    quarantine_dir: Path | None = None,
    pii_columns: Sequence[str] = (),
    quarantine_raw: bool = False,
) -> LoadReport:
    """Load pandas DataFrames (one per table) exactly as files would be loaded."""
    raw = frames_to_raw(frames)
    return load_tables(
        store,
        lambda name: [raw[name]],
        quarantine_dir=quarantine_dir,
        pii_columns=pii_columns,
        quarantine_raw=quarantine_raw,
    )


def _default_quarantine_dir(folder: Path) -> Path:
    import os

    q = folder / "quarantine"
    if os.access(folder, os.W_OK):
        return q
    return Path.cwd() / "guanxi-quarantine"
