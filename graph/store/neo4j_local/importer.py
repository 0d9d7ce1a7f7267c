"""Bulk import into a local Neo4j: stop it, ``neo4j-admin database import full``, start it.

What it holds: :func:`admin_command` (the command a user runs on their own server's host),
:func:`run_admin_import` (the same importer run here, from the Maven module's jars, against a
server folder) and :func:`import_into_local` (stop, import with overwrite, start on the same
ports). The input files come from `graph.store.neo4j_local.import_files`.

Why offline: the driver writes relationships one commit thread at a time, which the server's
storage engine bounds; the importer builds the store files directly, many times faster, and
is Neo4j's own answer for first loads. Community Edition has one user database and no
incremental import, so a refresh replaces the whole database (the ``system`` database, with
the password, stays). Constraints and indexes are not part of the import: the store creates
them when it next opens (`graph.store.neo4j.Neo4jStore`), as after any start.

The importer is ``org.neo4j.cli.AdminTool`` (what ``bin/neo4j-admin`` runs), whose jars
(``neo4j-import-tool`` among them) the Maven module copies to ``target/lib`` next to the
server's; ``NEO4J_HOME`` is the server folder, whose ``conf/neo4j.conf`` (written by every
start) says where the data lives.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from graph.errors import ConfigError, GuanxiError, StoreUnavailable
from graph.store.neo4j_local.config import DEFAULT_HEAP, DEFAULT_PAGECACHE, LIB
from graph.store.neo4j_local.import_files import DEFAULT_DATABASE, ImportFiles
from graph.store.neo4j_local.maven import build, check_prerequisites, tail
from graph.store.neo4j_local.server import start, status, stop

__all__ = [
    "ADMIN_MAIN_CLASS",
    "LocalImport",
    "admin_command",
    "import_into_local",
    "run_admin_import",
]

#: The main class of ``neo4j-admin``.
ADMIN_MAIN_CLASS = "org.neo4j.cli.AdminTool"
#: Memory the importer may use outside its heap (its default, 90% of RAM, is a whole
#: machine's: too much on a laptop that also runs the analysis).
DEFAULT_OFF_HEAP = "2g"


@dataclass(frozen=True)
class LocalImport:
    """What a local import did: the server it restarted and how long the importer ran."""

    server: dict[str, Any]
    import_seconds: float
    log: Path


def admin_command(files: ImportFiles, *, database: str = DEFAULT_DATABASE) -> str:
    """The shell command that imports `files` on a Neo4j host, as a user types it.

    Why a string: it is printed for the operator of a server guanxi does not run; the
    server must be stopped while it runs and started afterwards (Community Edition).
    """
    return shlex.join(["neo4j-admin", *files.admin_arguments(database=database)])


def run_admin_import(
    files: ImportFiles,
    home: Path,
    *,
    heap: str = DEFAULT_HEAP,
    off_heap: str = DEFAULT_OFF_HEAP,
    database: str = DEFAULT_DATABASE,
) -> tuple[float, Path]:
    """Run the importer from the Maven module's jars into the server folder `home`.

    The server must not be running (the importer takes the store's lock and fails otherwise).

    Returns
    -------
    tuple
        Seconds the importer ran, and its log (``home/logs/import.log``).

    Raises
    ------
    ConfigError
        Java or Maven is missing, or `home` has no ``conf/neo4j.conf`` (never started).
    StoreUnavailable
        The build or the importer failed; the message ends with the importer's log and
        report.
    """
    home = Path(home).resolve()
    conf = home / "conf"
    if not (conf / "neo4j.conf").is_file():
        raise ConfigError(
            f"{home} is not a local Neo4j server folder (no conf/neo4j.conf); start one with "
            f"`guanxi neo4j local start --dir {home}` first"
        )
    check_prerequisites()
    build()
    cmd = [
        "java",
        f"-Xmx{heap}",
        "-cp",
        str(LIB / "*"),
        ADMIN_MAIN_CLASS,
        *files.admin_arguments(database=database),
    ]
    # options go before the database name, the last argument; --verbose puts the cause of
    # a failure (the bad row, the file) in the log instead of "Error importing csv file"
    cmd[-1:-1] = [f"--max-off-heap-memory={off_heap}", "--verbose"]
    log = home / "logs" / "import.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "NEO4J_HOME": str(home), "NEO4J_CONF": str(conf)}
    began = time.monotonic()
    with log.open("w") as out:
        rc = subprocess.run(
            cmd, cwd=home, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        ).returncode
    seconds = time.monotonic() - began
    if rc != 0:
        report = files.folder / "import.report"
        raise StoreUnavailable(
            f"neo4j-admin database import failed (exit {rc}) for the files in {files.folder}; "
            f"fix what it names and rerun. From {log}:\n{_failure_summary(log)}"
            + (f"\n--- {report}:\n{tail(report, 10)}" if report.exists() else "")
        )
    return seconds, log


def import_into_local(
    dir: Path,
    files: ImportFiles,
    *,
    heap: str | None = None,
    pagecache: str = DEFAULT_PAGECACHE,
    timeout: float = 300,
) -> LocalImport:
    """Replace the database of the local server at `dir` with `files`, and start it again.

    The server (running or stopped) keeps its ports, password and GDS choice; it is
    running afterwards, whether the import worked or not, so a failed import leaves a
    usable server (with the previous data when the importer failed before writing).

    Parameters
    ----------
    dir
        A folder started before with ``guanxi neo4j local start --dir DIR``.
    heap, pagecache
        The importer's and the restarted server's JVM heap, and the server's page cache.
        No heap means the one the server was started with (``server.json``), so a server
        started with a large heap does not come back with the default one.
    timeout
        Seconds to wait for the restarted server's Bolt login.

    Raises
    ------
    ConfigError
        No server was ever started at `dir`, or Java/Maven is missing.
    StoreUnavailable
        The importer failed (its log tail in the message), or the server did not come back.
    """
    dir = Path(dir).expanduser().resolve()
    info = status(dir)
    if "bolt_uri" not in info:
        raise ConfigError(
            f"no local Neo4j server found at {dir}; start one with "
            f"`guanxi neo4j local start --dir {dir}` (or give --store bolt://HOST:PORT for "
            "your own server)"
        )
    ports = {
        "bolt_port": int(info["bolt_uri"].rsplit(":", 1)[1]),
        "http_port": int(info["http_uri"].rsplit(":", 1)[1]),
    }
    check_prerequisites()
    build()
    heap = heap or info.get("heap") or DEFAULT_HEAP
    options = {**ports, "gds": bool(info.get("gds")), "heap": heap, "pagecache": pagecache}
    stop(dir)
    try:
        seconds, log = run_admin_import(files, dir, heap=heap)
    except BaseException:
        # the import's error is the one to report; a server that will not start says so
        # itself on the next `guanxi neo4j local start`
        with contextlib.suppress(GuanxiError):
            start(dir, **options, timeout=timeout)
        raise
    restarted = start(dir, **options, timeout=timeout)
    return LocalImport(server=restarted, import_seconds=seconds, log=log)


def _failure_summary(log: Path, lines: int = 12) -> str:
    """The importer log's last lines without Java stack frames, and the causes it names."""
    text = tail(log, 400).splitlines()
    kept = [x for x in text if not x.lstrip().startswith(("at ", "... "))]
    return "\n".join(kept[-lines:])
