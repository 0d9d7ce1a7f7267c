"""Where the local Neo4j server's pieces live and the ``java`` command line that runs it.

What it holds: the defaults of a server directory, heap and page cache; the layout of the
built Maven module (``graph/store/neo4j_server/target``: thin jar, ``lib/``, ``plugins/``,
build markers); the JVM flags Neo4j's own launcher passes; and :func:`java_command`, which
assembles them. Neo4j writes its own ``neo4j.conf`` from the command line's arguments on every
start, so this command line is the whole configuration.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Where a server keeps its data when no directory is given (gitignored).
DEFAULT_DIR = Path(".neo4j")
#: JVM heap of a server started without other values (a laptop's share).
DEFAULT_HEAP = "2g"
#: Page cache sized at each start from the database on disk (`resolve_pagecache`).
DEFAULT_PAGECACHE = "auto"
#: The smallest page cache ``auto`` gives (an empty or small database).
MIN_PAGECACHE_MB = 512
#: The Maven module that assembles the server.
MODULE_DIR = Path(__file__).resolve().parent.parent / "neo4j_server"

TARGET = MODULE_DIR / "target"
JAR = TARGET / "guanxi-neo4j-server.jar"
LIB = TARGET / "lib"
PLUGINS = TARGET / "plugins"
BUILD_OK = TARGET / ".guanxi-build-ok"
BUILD_GDS_OK = TARGET / ".guanxi-build-gds-ok"
MAIN_CLASS = "guanxi.neo4j.Main"


def resolve_pagecache(pagecache: str, dir: Path) -> str:
    """The page cache to start with: ``auto`` becomes the database's store files plus a
    quarter, at least 512 MB and at most half of the memory available now.

    Why: every read of the projection walks all relationships and their properties; a page
    cache smaller than the store makes each read go to disk again (at 1,000,000 customers
    the store is ~2.5 GB against the old fixed 512 MB). Sizing at each start follows the
    data, so a restart after a bulk import fits what was imported. Any other value (``1g``,
    ``512m``) is passed on as given.
    """
    if pagecache != "auto":
        return pagecache
    store = dir / "data" / "databases" / "neo4j"
    size = sum(f.stat().st_size for f in store.rglob("*") if f.is_file()) if store.is_dir() else 0
    return f"{pagecache_mb(size, _available_bytes())}m"


def pagecache_mb(store_bytes: int, available_bytes: int | None) -> int:
    """Page cache in MB for a store of `store_bytes` (see `resolve_pagecache`)."""
    want = max(MIN_PAGECACHE_MB, -(-store_bytes * 5 // 4 // 2**20))
    if available_bytes is None:
        return want
    return max(MIN_PAGECACHE_MB, min(want, available_bytes // 2 // 2**20))


def _available_bytes() -> int | None:
    """MemAvailable of /proc/meminfo (Linux), else None (no cap)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


# What Neo4j 5.26's own launcher passes to the JVM (neo4j.conf defaults plus the flags its
# bootloader always adds), less -XX:+AlwaysPreTouch, which would make the whole heap resident
# at start on a developer's laptop.
_JVM_FLAGS = [
    "-XX:+UseG1GC",
    "-XX:-OmitStackTraceInFastThrow",
    "-XX:+UnlockExperimentalVMOptions",
    "-XX:+TrustFinalNonStaticFields",
    "-XX:+DisableExplicitGC",
    "-Djdk.nio.maxCachedBufferSize=1024",
    "-Dio.netty.tryReflectionSetAccessible=true",
    "-Djdk.tls.ephemeralDHKeySize=2048",
    "-Djdk.tls.rejectClientInitiatedRenegotiation=true",
    "-Dlog4j2.disable.jmx=true",
    "-Dlog4j.layout.jsonTemplate.maxStringLength=32768",
    "-Dfile.encoding=UTF-8",
    "--add-opens=java.base/java.nio=ALL-UNNAMED",
    "--add-opens=java.base/java.io=ALL-UNNAMED",
    "--add-opens=java.base/sun.nio.ch=ALL-UNNAMED",
    "--add-opens=java.base/java.lang=ALL-UNNAMED",
    "--add-opens=java.base/java.util=ALL-UNNAMED",
    "--add-opens=java.base/java.util.concurrent=ALL-UNNAMED",
    "--enable-native-access=ALL-UNNAMED",
]


def java_command(
    dir: Path,
    *,
    bolt_port: int,
    http_port: int,
    gds: bool,
    heap: str = DEFAULT_HEAP,
    pagecache: str = DEFAULT_PAGECACHE,
) -> list[str]:
    """The ``java`` command line that runs the server for ``dir``.

    Why public: CI and people debugging a JVM problem can print and run it by hand.
    """
    classpath = [str(JAR), str(LIB / "*")]
    if gds:
        # Same as bin/neo4j: plugins are on the class path and scanned for procedures.
        classpath.insert(0, str(PLUGINS / "*"))
    cmd = [
        "java",
        f"-Xmx{heap}",
        *_JVM_FLAGS,
        "-cp",
        os.pathsep.join(classpath),
        MAIN_CLASS,
        "--home",
        str(dir),
        "--bolt-port",
        str(bolt_port),
        "--http-port",
        str(http_port),
        "--password-file",
        str(dir / "password"),
        "--pagecache",
        resolve_pagecache(pagecache, dir),
    ]
    if gds:
        cmd += ["--plugins", str(PLUGINS)]
    return cmd
