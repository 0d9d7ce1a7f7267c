"""Run a real local Neo4j 5.26 server built from Maven Central artifacts.

Why this exists: guanxi needs a real Neo4j (Bolt for the store, Browser for people looking at
the graph, optionally Graph Data Science) on machines that reach package registries but not the
Neo4j download site, and without Docker. The Maven module next to this package
(``graph/store/neo4j_server``) assembles the community server from the same jars the official
tarball ships; this package builds it once (``maven``), starts it as a detached JVM and stops
it (``server``); ``config`` holds the paths and the ``java`` command line, ``__main__`` the
command line below.

Layout of a server directory (default ``./.neo4j``)::

    password       the neo4j user's password (mode 0600)
    server.json    what start() returned (mode 0600: it holds the password)
    conf/          neo4j.conf + user-logs.xml, rewritten by the JVM on every start
    data/          databases and transaction logs: survives stop/start
    logs/          neo4j.log (Neo4j's user log), console.log (JVM stdout/stderr), debug.log, ...
    run/           neo4j.pid, ready (written by the JVM once Bolt/HTTP listen)

Command line (for CI and people)::

    python -m graph.store.neo4j_local build [--gds]
    python -m graph.store.neo4j_local start [--dir .neo4j] [--gds] \\
        [--bolt-port 7687] [--http-port 7474] [--heap 2g] [--pagecache 512m]
    python -m graph.store.neo4j_local status [--dir .neo4j]
    python -m graph.store.neo4j_local stop [--dir .neo4j]

Nothing here reads the environment: the heap, page cache and password are arguments, which
`guanxi neo4j local start` fills from `api.settings` (``GUANXI_NEO4J_HEAP``,
``GUANXI_NEO4J_PAGECACHE``, ``NEO4J_PASSWORD``) and this command line from its options.
"""

from graph.store.neo4j_local.config import (
    DEFAULT_DIR,
    DEFAULT_HEAP,
    DEFAULT_PAGECACHE,
    MODULE_DIR,
    java_command,
)
from graph.store.neo4j_local.maven import build, check_prerequisites
from graph.store.neo4j_local.server import start, status, stop

__all__ = [
    "DEFAULT_DIR",
    "DEFAULT_HEAP",
    "DEFAULT_PAGECACHE",
    "MODULE_DIR",
    "build",
    "check_prerequisites",
    "java_command",
    "start",
    "status",
    "stop",
]
