"""Writes rejected rows and their reasons, one CSV per input table."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv


def write_quarantine(folder: Path, name: str, rows: pa.Table) -> Path | None:
    """Write `folder/<name>.quarantine.csv` (file, row, column, value, reason, message).

    Returns the path, or None when there is nothing to quarantine (an old file is removed so
    that a clean reload leaves no stale report behind).
    """
    path = folder / f"{name}.quarantine.csv"
    if rows.num_rows == 0:
        path.unlink(missing_ok=True)
        return None
    folder.mkdir(parents=True, exist_ok=True)
    pacsv.write_csv(rows, path)
    return path
