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


def read_folder(folder: Path) -> dict[str, RawTable]:
    """Check every file's presence and header first, then read them all.

    Raises
    ------
    MissingFile, MissingColumns, UnreadableFile
    """
    paths = {name: find_table_file(folder, name) for name in TABLES}
    for name, path in paths.items():
        check_columns(name, path, read_header(path))
    return {name: read_raw(name, path) for name, path in paths.items()}


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


def validate_all(raw: dict[str, RawTable], known: pa.Array) -> dict[str, LoadResult]:
    results: dict[str, LoadResult] = {}
    cust = raw["customers"]
    res = validate_table("customers", cust.table, file=cust.path.name)
    results["customers"] = res
    known_all = pa.concat_arrays(
        [known.cast(pa.string()), res.valid.column("customer_id").combine_chunks()]
    )
    for name in ("relations", "transactions", "events"):
        r = raw[name]
        results[name] = validate_table(name, r.table, file=r.path.name, known_customers=known_all)
    return results


def load_raw(
    store: GraphStore,
    raw: dict[str, RawTable],
    *,
    quarantine_dir: Path | None,
    progress: Progress | None = None,
) -> LoadReport:
    """Validate and upsert already-read tables; write quarantine files."""
    say = progress or (lambda stage, detail: None)
    say("validate", "checking every row against the contract")
    results = validate_all(raw, store.customer_ids())
    report = LoadReport()
    for name in TABLES:
        res = results[name]
        bad = pa.concat_tables([raw[name].malformed, res.quarantined]).sort_by("row")
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
    say = progress or (lambda stage, detail: None)
    say("read", str(folder))
    raw = read_folder(folder)
    if quarantine_dir is None:
        quarantine_dir = _default_quarantine_dir(folder)
    return load_raw(store, raw, quarantine_dir=quarantine_dir, progress=progress)


def load_frames(
    store: GraphStore, frames: Mapping[str, pd.DataFrame], *, quarantine_dir: Path | None = None
) -> LoadReport:
    """Load pandas DataFrames (one per table) exactly as files would be loaded."""
    return load_raw(store, frames_to_raw(frames), quarantine_dir=quarantine_dir)


def _default_quarantine_dir(folder: Path) -> Path:
    import os

    q = folder / "quarantine"
    if os.access(folder, os.W_OK):
        return q
    return Path.cwd() / "guanxi-quarantine"
