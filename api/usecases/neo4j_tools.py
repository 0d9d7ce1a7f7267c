"""Neo4j tooling the CLI offers: the local dev server, the statement list, the Browser kit.

The edges reach the server module, the statement registry and the kit through here, so that
the CLI imports use cases only and the local server's settings (password, heap, page cache)
come from the one Settings object.
"""

from __future__ import annotations

from pathlib import Path

from api.settings import Settings, get_settings

# the server module, the driver and the registry load on first use: `guanxi --help` and the
# commands that never touch Neo4j stay quick to start


def start_local_server(
    dir: Path, *, bolt_port: int, http_port: int, gds: bool, settings: Settings | None = None
) -> dict:
    """Start (building on first use) a local Neo4j and wait until Bolt accepts a login.

    Raises
    ------
    ConfigError
        Java 17 or Maven is missing.
    StoreUnavailable
        The server did not come up; the message ends with its log.
    """
    from graph.store import neo4j_local

    neo4j = (settings or get_settings()).neo4j
    neo4j_local.check_prerequisites()
    return neo4j_local.start(
        dir,
        bolt_port=bolt_port,
        http_port=http_port,
        gds=gds,
        password=neo4j.password_value(),
        heap=neo4j.heap,
        pagecache=neo4j.pagecache,
    )


def stop_local_server(dir: Path) -> bool:
    """Stop the local server cleanly; False when it was not running."""
    from graph.store import neo4j_local

    return neo4j_local.stop(dir)


def local_server_status(dir: Path) -> dict:
    """Whether the local server runs and where, without its password."""
    from graph.store import neo4j_local

    return {k: v for k, v in neo4j_local.status(dir).items() if k != "password"}


def cypher_statements() -> list[dict]:
    """Every Cypher statement guanxi can send (name, parameters, text), from the registry."""
    from graph.store.neo4j import all_statements

    return all_statements()


def write_browser_kit(out_dir: Path) -> list[Path]:
    """Write the Neo4j Browser stylesheet and saved queries; returns the files written."""
    from graph.store.browser_kit import write_browser_kit as write_kit

    return write_kit(out_dir)
