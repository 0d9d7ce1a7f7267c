"""`guanxi neo4j`: a local Neo4j server, the Cypher statements guanxi sends, the Browser kit."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api.cli.errors import errors
from api.cli.options import DirOpt, JsonOpt
from api.cli.render import dump, err, out
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
