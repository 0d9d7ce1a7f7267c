"""Load a folder (or DataFrames) into a store: read, validate, quarantine, upsert.

All four files are read and validated before anything is written, so a missing file, a
missing required column or an unreadable file leaves the store untouched. Customers are
validated first because relations, transactions and events must name known customers: the
store's, or valid ones from this same load.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from graph.model import TABLES, TableCounts
from graph.store.base import GraphStore
from loaders.quarantine import write_quarantine
from loaders.readers import RawTable, check_columns, find_table_file, read_header, read_raw
from loaders.validate import QUARANTINE_SCHEMA, LoadResult, validate_table

Progress = Callable[[str, str], None]


@dataclass
class LoadReport:
    """Per-table counts (read = loaded + quarantined) and where rejected rows went."""

    tables: dict[str, TableCounts] = field(default_factory=dict)
    quarantine_files: dict[str, str] = field(default_factory=dict)
    reasons: dict[str, dict[str, int]] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "tables": {k: v.as_dict() for k, v in self.tables.items()},
            "quarantine_files": self.quarantine_files,
            "reasons": self.reasons,
        }

    @property
    def quarantined(self) -> int:
        return sum(t.quarantined for t in self.tables.values())


def check_folder(folder: Path) -> dict[str, Path]:
    """Find the four files and check their headers, before any row is read.

    Raises
    ------
    MissingFile, MissingColumns, UnreadableFile
    """
    paths = {name: find_table_file(folder, name) for name in TABLES}
    for name, path in paths.items():
        check_columns(name, path, read_header(path))
    return paths


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
            name, Path(f"<{name} DataFrame>"), tbl, QUARANTINE_SCHEMA.empty_table()
        )
    return out


def validate_all(
    read: Callable[[str], RawTable], known: pa.Array, progress: Progress | None = None
) -> dict[str, tuple[LoadResult, pa.Table]]:
    """Read and validate each table in turn; only typed good rows are kept in memory.

    Customers come first: references may name valid customers of this same load.
    Returns, per table, the validation result and the rows the reader could not split.
    """
    say = progress or (lambda stage, detail: None)
    out: dict[str, tuple[LoadResult, pa.Table]] = {}
    known_all = known.cast(pa.string())
    for name in TABLES:
        say("validate", name)
        raw = read(name)
        res = validate_table(
            name,
            raw.table,
            file=raw.path.name,
            known_customers=None if name == "customers" else known_all,
        )
        out[name] = (res, raw.malformed)
        del raw
        if name == "customers":
            known_all = pa.concat_arrays(
                [known_all, res.valid.column("customer_id").combine_chunks()]
            )
    return out


def load_tables(
    store: GraphStore,
    read: Callable[[str], RawTable],
    *,
    quarantine_dir: Path | None,
    progress: Progress | None = None,
) -> LoadReport:
    """Validate every table, then upsert them and write the quarantine files.

    Nothing is written until every table has been read and validated, so an unreadable
    file leaves the store untouched.
    """
    say = progress or (lambda stage, detail: None)
    results = validate_all(read, store.customer_ids(), progress)
    report = LoadReport()
    for name in TABLES:
        res, malformed = results.pop(name)
        bad = pa.concat_tables([malformed, res.quarantined]).sort_by("row")
        say("write", f"{name}: {res.valid.num_rows:,} rows")
        if name == "customers":
            counts = store.upsert_customers(res.valid)
        else:
            counts = store.upsert_rows(name, res.valid)
        report.tables[name] = TableCounts(
            read=res.valid.num_rows + bad.num_rows,
            loaded=res.valid.num_rows,
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
            path = write_quarantine(quarantine_dir, name, bad)
            if path is not None:
                report.quarantine_files[name] = str(path)
    return report


def load_folder(
    store: GraphStore,
    folder: Path,
    *,
    quarantine_dir: Path | None = None,
    progress: Progress | None = None,
) -> LoadReport:
    """Load the four tables of `folder` into `store`.

    Rejected rows go to ``<quarantine_dir>/<table>.quarantine.csv``; by default next to the
    input, in ``<folder>/quarantine``, or ``./guanxi-quarantine`` when the input folder is
    read-only.

    Raises
    ------
    MissingFile, MissingColumns, UnreadableFile
        File-level problems; nothing has been written.
    """
    folder = Path(folder)
    paths = check_folder(folder)
    if quarantine_dir is None:
        quarantine_dir = _default_quarantine_dir(folder)
    return load_tables(
        store,
        lambda name: read_raw(name, paths[name]),
        quarantine_dir=quarantine_dir,
        progress=progress,
    )


def load_frames(
    store: GraphStore, frames: Mapping[str, pd.DataFrame], *, quarantine_dir: Path | None = None
) -> LoadReport:
    """Load pandas DataFrames (one per table) exactly as files would be loaded."""
    raw = frames_to_raw(frames)
    return load_tables(store, raw.__getitem__, quarantine_dir=quarantine_dir)


def _default_quarantine_dir(folder: Path) -> Path:
    import os

    q = folder / "quarantine"
    if os.access(folder, os.W_OK):
        return q
    return Path.cwd() / "guanxi-quarantine"
