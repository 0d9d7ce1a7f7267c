"""What the commands print: the two consoles, tables, one JSON document, a progress display.

Human output goes to stdout through rich (`out`); progress, logs and error lines go to stderr
(`err`), so that ``--json`` output piped to another program is exactly one JSON document.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from api.usecases.encoding import json_text

out = Console()
err = Console(stderr=True)


def dump(obj) -> None:
    """Print `obj` as one line of JSON (non-ASCII kept: customer names are Chinese)."""
    sys.stdout.write(json_text(obj) + "\n")


def df_table(df, title: str | None = None, columns: list[str] | None = None) -> Table:
    """A rich Table of a DataFrame's `columns` (default all), floats to four digits."""
    t = Table(title=title, show_lines=False)
    cols = columns or list(df.columns)
    for c in cols:
        t.add_column(c)
    for row in df[cols].itertuples(index=False):
        t.add_row(*[fmt(v) for v in row])
    return t


def fmt(v) -> str:
    """One cell: floats to four significant digits, None as blank."""
    if isinstance(v, float):
        return f"{v:.4g}"
    return "" if v is None else str(v)


@contextmanager
def progress(enabled: bool) -> Iterator[Callable[[str, float], None]]:
    """A rich progress display on stderr whose callback takes (stage, fraction).

    Disabled (``--json``), the callback does nothing, so stderr stays quiet for machines.
    """
    if not enabled:
        yield lambda stage, frac: None
        return
    prog = Progress(
        SpinnerColumn(),
        TextColumn("{task.description:<22}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    )
    tasks: dict[str, int] = {}

    def update(stage: str, frac: float) -> None:
        if stage not in tasks:
            tasks[stage] = prog.add_task(stage, total=1.0)
        prog.update(tasks[stage], completed=float(frac))

    with prog:
        yield update
