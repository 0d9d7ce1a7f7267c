"""Loading a folder of contract tables into a store (validation, quarantine, upsert)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from api.usecases.stores import memory_budget
from graph.store import GraphStore
from loaders.dialect import DELIMITERS, ENCODINGS
from loaders.ingest import LoadReport, load_folder

__all__ = ["DELIMITERS", "ENCODINGS", "LOAD_MEMORY_BUDGET", "load"]

#: DuckDB's own memory budget while a DuckDB store is loaded: beyond it the insert's
#: anti-join and sorts spill to disk. Without one DuckDB may grow to 80% of the machine's
#: memory while a large table is inserted, beside the batches the loader itself holds.
LOAD_MEMORY_BUDGET = "4GB"


def load(
    store: GraphStore,
    folder: Path,
    *,
    quarantine_dir: Path | None = None,
    progress: Callable[[str, str], None] | None = None,
    encoding: str | None = None,
    delimiter: str | None = None,
    pii_columns: Sequence[str] = (),
    quarantine_raw: bool = False,
) -> LoadReport:
    """Load a folder of contract tables (see `loaders.ingest.load_folder`).

    Raises
    ------
    MissingFile, MissingColumns, UnreadableFile, ConfigError, StoreError
    """
    with memory_budget(store, LOAD_MEMORY_BUDGET):
        return load_folder(
            store,
            folder,
            quarantine_dir=quarantine_dir,
            progress=progress,
            encoding=encoding,
            delimiter=delimiter,
            pii_columns=pii_columns,
            quarantine_raw=quarantine_raw,
        )
