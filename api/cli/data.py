"""`guanxi generate` and `guanxi load`: sample data in, a folder of tables into the store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from api import usecases
from api.cli.errors import errors
from api.cli.options import JsonOpt, StoreOpt, one_of
from api.cli.render import dump, out, progress
from api.usecases.loading import DELIMITERS, ENCODINGS


def generate(
    customers: Annotated[int, typer.Option(help="Number of customers.")] = 5000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same files.")] = 7,
    out_dir: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("guanxi-data"),
    fmt: Annotated[str, typer.Option("--format", help="csv or parquet.")] = "csv",
    as_json: JsonOpt = False,
) -> None:
    """Write realistic sample bank data (four tables + ground_truth) to a folder."""
    if fmt not in ("csv", "parquet"):
        raise typer.BadParameter("--format must be csv or parquet")
    with errors():
        info = usecases.generate_dataset(customers, seed=seed, out=out_dir, fmt=fmt)
    if as_json:
        dump(info)
        return
    out.print(f"wrote {out_dir}/ in {info['generate_s'] + info['write_s']:.1f}s:")
    for name, n in info["rows"].items():
        out.print(f"  {name:<13} {n:>12,} rows")


def load(
    folder: Annotated[
        Path,
        typer.Argument(
            help="Folder with customers, relations, transactions, events (.csv or .parquet)."
        ),
    ],
    store: StoreOpt = None,
    quarantine_dir: Annotated[
        Path | None, typer.Option(help="Where rejected rows go (default FOLDER/quarantine).")
    ] = None,
    encoding: Annotated[
        str | None,
        typer.Option(
            parser=one_of(ENCODINGS),
            metavar="|".join(ENCODINGS),
            help="Encoding of the CSV files (default auto: detected per file). A table's "
            "section in FOLDER/guanxi-load.toml wins over this.",
            show_default=False,
        ),
    ] = None,
    delimiter: Annotated[
        str | None,
        typer.Option(
            parser=one_of(list(DELIMITERS)),
            metavar="|".join(repr(d) if d != "tab" else d for d in DELIMITERS),
            help="Field delimiter of the CSV files (default ','). A table's section in "
            "FOLDER/guanxi-load.toml wins over this.",
            show_default=False,
        ),
    ] = None,
    pii_columns: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated customer columns to declare PII in the store (masked like "
            "name/phone/id_number from now on, and in quarantine files).",
        ),
    ] = None,
    quarantine_raw: Annotated[
        bool,
        typer.Option(
            help="For data owners: write quarantine files with PII unmasked (by default "
            "PII values and raw customer lines are masked).",
        ),
    ] = False,
    strict: Annotated[bool, typer.Option(help="Exit 1 if any row is quarantined.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Validate and upsert a folder of contract tables; bad rows are quarantined with reasons."""
    pii = [c.strip() for c in pii_columns.split(",")] if pii_columns else []
    with errors(), usecases.open_default(store) as st, progress(not as_json) as bar:
        report = usecases.load(
            st,
            folder,
            quarantine_dir=quarantine_dir,
            progress=lambda stage, detail: bar(f"load: {stage}", 0.5),
            encoding=encoding,
            delimiter=delimiter,
            pii_columns=pii,
            quarantine_raw=quarantine_raw,
        )
    if as_json:
        dump({"store": st.uri, **report.as_dict()})
    else:
        _print_report(report, folder, st.uri)
    if strict and report.quarantined:
        raise typer.Exit(1)


def _print_report(report, folder: Path, uri: str) -> None:
    t = Table(title=f"loaded {folder} into {uri}")
    for c in ("table", "read", "loaded", "quarantined", "inserted", "updated"):
        t.add_column(c, justify="right" if c != "table" else "left")
    for name, c in report.tables.items():
        t.add_row(
            name, *[f"{x:,}" for x in (c.read, c.loaded, c.quarantined, c.inserted, c.updated)]
        )
    out.print(t)
    for name, dialect in report.dialects.items():
        out.print(f"read {name} as {dialect.describe()}", highlight=False)
    for name, path in report.quarantine_files.items():
        reasons = ", ".join(f"{k} {v}" for k, v in report.reasons.get(name, {}).items())
        raw = " [red](PII unmasked)[/red]" if report.quarantine_raw else ""
        out.print(f"[yellow]quarantined[/yellow] {name}: {reasons} -> {path}{raw}")
