"""Writes rejected rows and their reasons, one CSV per input table, PII masked by default.

Quarantine files are read by whoever fixes the data, often not someone cleared to see
customers' names and phone numbers; so by default a PII column's value is masked in the
``value`` and ``message`` columns, and the raw text of a customers row that could not be
split or decoded (which may hold any column) is masked whole, keeping only its delimiters
and quotes so that the row's shape still shows why it did not split. The row number finds
the row in the source. ``guanxi load --quarantine-raw`` writes them as they are, for the
data owner.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv

from loaders.specs import Reason

__all__ = ["mask_quarantine", "masked_line", "masked_value", "write_quarantine"]

#: Reasons whose ``value`` is a raw source line rather than one column's value.
RAW_LINE_REASONS = (str(Reason.MALFORMED_ROW), str(Reason.BAD_ENCODING))


def masked_value(value: str) -> str:
    """Every character a ``*``: how long the value was, nothing of what it said.

    >>> masked_value("13800138000")
    '***********'
    """
    return "*" * max(1, len(value))


def masked_line(line: str, *, delimiter: str) -> str:
    """A raw line with every character but delimiters, quotes and line breaks masked.

    >>> masked_line('C1,"张三",13800138000,x', delimiter=",")
    '**,"**",***********,*'
    """
    keep = {delimiter, '"', "\r", "\n"}
    return "".join(c if c in keep else "*" for c in line)


def mask_quarantine(rows: pa.Table, *, pii_columns: Iterable[str], delimiter: str) -> pa.Table:
    """`rows` (QUARANTINE_SCHEMA) with PII masked as the module describes.

    Parameters
    ----------
    rows
        Quarantine records of one table.
    pii_columns
        Columns whose values are masked (built-in, declared in the store, and the load's).
    delimiter
        The table's delimiter, kept visible in masked raw lines.
    """
    if rows.num_rows == 0:
        return rows
    pii = {str(c).strip() for c in pii_columns}
    tables = rows.column("table").to_pylist()
    columns = rows.column("column").to_pylist()
    reasons = rows.column("reason").to_pylist()
    values = rows.column("value").to_pylist()
    messages = rows.column("message").to_pylist()
    for i, (table, column, reason, value) in enumerate(
        zip(tables, columns, reasons, values, strict=True)
    ):
        if value is None:
            continue
        if column in pii:
            values[i] = masked_value(value)
            messages[i] = (messages[i] or "").replace(repr(value), repr(values[i]))
        elif table == "customers" and reason in RAW_LINE_REASONS:
            values[i] = masked_line(value, delimiter=delimiter)
            messages[i] = (messages[i] or "").replace(value, values[i])
    for name, col in (("value", values), ("message", messages)):
        rows = rows.set_column(rows.schema.get_field_index(name), name, pa.array(col, pa.string()))
    return rows


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
