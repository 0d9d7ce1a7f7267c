"""Options several commands share, declared once so that their help reads the same."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="Store URI (duckdb:///file.duckdb or bolt://host:7687); "
        "default from the settings (GUANXI_STORE) or ./guanxi.duckdb",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]
DirOpt = Annotated[Path, typer.Option("--dir", help="Server folder (data kept across restarts).")]


def one_of(choices: tuple[str, ...] | list[str]):
    """A typer parser accepting only `choices` (anything else is a usage error, exit 2)."""

    def parse(value: str) -> str:
        if value not in choices:
            raise typer.BadParameter(f"{value!r} is not one of {', '.join(choices)}")
        return value

    return parse
