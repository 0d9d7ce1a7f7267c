"""`guanxi neo4j`: a local server, the bulk import, the Cypher statements, the Browser kit."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from api.cli.errors import errors
from api.cli.options import DirOpt, JsonOpt
from api.cli.render import dump, err, out, progress
from api.usecases import neo4j_import as neo4j_import_usecase
from api.usecases import neo4j_tools


def neo4j_local_start(
    dir: DirOpt = Path(".neo4j"),
    bolt_port: Annotated[int, typer.Option(help="Bolt port on 127.0.0.1.")] = 7687,
    http_port: Annotated[int, typer.Option(help="HTTP port (Browser at /browser/).")] = 7474,
    gds: Annotated[bool, typer.Option("--gds", help="Add Graph Data Science 2.13.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Start a local Neo4j server in the background and wait until Bolt accepts a login."""
    with errors():
        if not as_json:
            err.print("starting Neo4j (first use builds the server from Maven Central)...")
        info = neo4j_tools.start_local_server(
            dir, bolt_port=bolt_port, http_port=http_port, gds=gds
        )
    if as_json:
        dump(info)
        return
    out.print(f"Neo4j running (pid {info['pid']}): {info['bolt_uri']}")
    out.print(f"Browser: {info['http_uri']}/browser/   user neo4j, password in {dir}/password")
    out.print(f"  export NEO4J_USER=neo4j NEO4J_PASSWORD=$(cat {dir}/password)")
    out.print(f"  guanxi load DIR --store {info['bolt_uri']}")


def neo4j_local_stop(dir: DirOpt = Path(".neo4j")) -> None:
    """Stop the local server cleanly."""
    with errors():
        was = neo4j_tools.stop_local_server(dir)
    out.print("stopped" if was else "not running")


def neo4j_local_status(dir: DirOpt = Path(".neo4j"), as_json: JsonOpt = False) -> None:
    """Whether the local server runs, and where."""
    with errors():
        info = neo4j_tools.local_server_status(dir)
    if as_json:
        dump(info)
    else:
        out.print(info)


def neo4j_statements(as_json: JsonOpt = False) -> None:
    """Every Cypher statement guanxi can send, taken from the store code itself."""
    stmts = neo4j_tools.cypher_statements()
    if as_json:
        dump(stmts)
        return
    for st in stmts:
        out.print(f"[bold]{st['name']}[/bold]  params: {', '.join(st['parameters'])}")
        out.print(st["cypher"], highlight=False)


def neo4j_browser_kit(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write into.")] = Path(
        "guanxi-browser-kit"
    ),
) -> None:
    """Write the Neo4j Browser stylesheet (.grass) and saved queries (.cypher)."""
    for p in neo4j_tools.write_browser_kit(out_dir):
        out.print(f"wrote {p}")
    out.print(
        "In Neo4j Browser: drag guanxi.grass onto the window (or :style), and add each "
        ".cypher file to Favorites; set its parameters with :param first."
    )


def neo4j_import(
    folder: Annotated[
        Path | None,
        typer.Argument(help="Folder of contract tables, validated as `guanxi load` does."),
    ] = None,
    from_store: Annotated[
        str | None,
        typer.Option(help="Copy the tables of this store (e.g. duckdb:///g.duckdb) instead."),
    ] = None,
    dir: Annotated[
        Path | None,
        typer.Option(
            "--dir", help="Local server folder (guanxi neo4j local start --dir): import here."
        ),
    ] = None,
    store: Annotated[
        str | None,
        typer.Option(
            "--store",
            help="Your own server (bolt://HOST:PORT): write the files and print the "
            "neo4j-admin command to run there.",
        ),
    ] = None,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", help="Where the files go with --store (./guanxi-neo4j-import)."),
    ] = None,
    quarantine_dir: Annotated[
        Path | None, typer.Option(help="Where rejected rows go (default FOLDER/quarantine).")
    ] = None,
    pii_columns: Annotated[
        str | None,
        typer.Option(help="Comma-separated customer columns to declare PII, as for load."),
    ] = None,
    with_results: Annotated[
        bool,
        typer.Option(
            help="Also import a run (metrics, communities, tags): for a folder, analyze it "
            "first; with --from-store, that store's latest complete run."
        ),
    ] = False,
    strict: Annotated[bool, typer.Option(help="Exit 1 if any row is quarantined.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Bulk-load a folder into Neo4j with its offline importer (a full refresh).

    With --dir the local server is stopped, its database replaced by neo4j-admin database
    import full and the server started again with guanxi's constraints and indexes.
    """
    pii = [c.strip() for c in pii_columns.split(",")] if pii_columns else []
    with errors(), progress(not as_json) as bar:
        stages = _StageBars(bar)
        report = neo4j_import_usecase.import_into_neo4j(
            folder,
            from_store=from_store,
            dir=dir,
            target=store,
            out=out_dir,
            quarantine_dir=quarantine_dir,
            pii_columns=pii,
            with_results=with_results,
            progress=stages,
        )
        stages.finish()
    if as_json:
        dump(report.as_dict())
    else:
        _print_import(report)
    if strict and report.load.quarantined:
        raise typer.Exit(1)


class _StageBars:
    """One progress line per stage: half full while it runs, full once the next one starts."""

    def __init__(self, bar) -> None:
        self._bar = bar
        self._stage: str | None = None

    def __call__(self, stage: str, detail: str) -> None:
        if stage != self._stage:
            self.finish()
            self._stage = stage
            self._bar(f"import: {stage}", 0.5)

    def finish(self) -> None:
        if self._stage is not None:
            self._bar(f"import: {self._stage}", 1.0)


def _print_import(report) -> None:
    t = Table(title=f"imported into {report.store} in {report.seconds:.1f}s")
    for c in ("table", "read", "loaded", "quarantined"):
        t.add_column(c, justify="right" if c != "table" else "left")
    for name, c in report.load.tables.items():
        t.add_row(name, *[f"{x:,}" for x in (c.read, c.loaded, c.quarantined)])
    out.print(t)
    out.print(f"Neo4j: {report.customers:,} customers, {report.relations:,} relations")
    if report.facts:
        facts = ", ".join(f"{v:,} {k}" for k, v in report.facts.items())
        out.print(f"beside the graph (facts file): {facts}")
    if report.run_id:
        out.print(f"run {report.run_id} imported with its metrics, communities and tags")
    for name, path in report.load.quarantine_files.items():
        reasons = ", ".join(f"{k} {v}" for k, v in report.load.reasons.get(name, {}).items())
        out.print(f"[yellow]quarantined[/yellow] {name}: {reasons} -> {path}")
    for note in report.notes:
        out.print(f"[yellow]note:[/yellow] {note}", highlight=False)
    if report.command:
        out.print(f"files in {report.files}; on the server's host, with Neo4j stopped, run:")
        out.print(report.command, highlight=False, soft_wrap=True)
        out.print("then start Neo4j; the next guanxi command on it creates the constraints.")
