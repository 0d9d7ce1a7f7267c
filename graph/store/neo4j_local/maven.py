"""Build the Maven module that assembles the local Neo4j server, once, and check its tools.

What it holds: :func:`check_prerequisites` (java 17+ and mvn on PATH), :func:`build` (``mvn
package``, skipped while the build markers are newer than the module's sources), the advisory
file lock that keeps two processes from building or launching twice, and the log tail that
error messages end with.
"""

from __future__ import annotations

import contextlib
import fcntl
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

from graph.errors import ConfigError, StoreUnavailable
from graph.store.neo4j_local.config import (
    BUILD_GDS_OK,
    BUILD_OK,
    JAR,
    LIB,
    MODULE_DIR,
    TARGET,
)

_MIN_JAVA = 17

_INSTALL_HINT = (
    "The local Neo4j server needs a Java 17 (or 21) JDK and Maven 3 on PATH "
    "(Debian/Ubuntu: apt-get install openjdk-17-jdk-headless maven). "
    "Without them, run `docker compose up neo4j` or point guanxi at your own server "
    "with --store bolt://HOST:7687."
)


# --------------------------------------------------------------------------- prerequisites


def check_prerequisites() -> None:
    """Fail early, with one message, when the tools the local server needs are missing.

    Why: without this, a missing ``mvn`` or an old ``java`` shows up as a confusing build
    or JVM error minutes later; the message names what to install and the alternatives.

    Raises
    ------
    ConfigError
        If ``java`` or ``mvn`` is not on PATH, or ``java`` is older than 17.
    """
    missing = [tool for tool in ("java", "mvn") if shutil.which(tool) is None]
    if missing:
        raise ConfigError(f"{' and '.join(missing)} not found. {_INSTALL_HINT}")
    major = _java_major()
    if major is not None and major < _MIN_JAVA:
        raise ConfigError(f"java is version {major}, Neo4j 5.26 needs 17 or 21. {_INSTALL_HINT}")


def _java_major() -> int | None:
    """Major version of the ``java`` on PATH, or None when it cannot be told."""
    try:
        out = subprocess.run(
            ["java", "-version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out.stderr + out.stdout)
    if not m:
        return None
    major = int(m.group(1))
    return int(m.group(2) or 0) if major == 1 else major


# --------------------------------------------------------------------------- build


def _built(gds: bool) -> bool:
    """True when the jar, its libs (and plugins for GDS) are built and newer than the sources."""
    markers = [BUILD_OK, BUILD_GDS_OK] if gds else [BUILD_OK]
    if not (JAR.is_file() and LIB.is_dir() and all(m.is_file() for m in markers)):
        return False
    sources = [MODULE_DIR / "pom.xml", *MODULE_DIR.joinpath("src").rglob("*.java")]
    newest_source = max(p.stat().st_mtime for p in sources)
    return min(m.stat().st_mtime for m in markers) >= newest_source


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive advisory lock on ``path`` (two starts must not build or launch twice)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def build(*, gds: bool = False, force: bool = False) -> float:
    """Build the Maven module once (thin jar + ``target/lib``, plus ``target/plugins`` for GDS).

    Why: the first build downloads ~140 MB (~250 MB with GDS) from Maven Central; later calls
    must cost nothing, so a build is skipped while the marker files are newer than the
    module's sources.

    Parameters
    ----------
    gds : bool
        Also build the ``gds`` profile (Graph Data Science into ``target/plugins``).
    force : bool
        Rebuild even when an up-to-date build exists.

    Returns
    -------
    float
        Seconds spent building (0.0 when the cached build was reused).

    Raises
    ------
    ConfigError
        If java or mvn is missing.
    StoreUnavailable
        If Maven fails (the message ends with the last lines of ``target/build.log``).
    """
    if not force and _built(gds):
        return 0.0
    check_prerequisites()
    TARGET.mkdir(parents=True, exist_ok=True)
    with locked(MODULE_DIR / "target" / ".build.lock"):
        if not force and _built(gds):  # another process built it while we waited
            return 0.0
        began = time.monotonic()
        for marker in (BUILD_OK, BUILD_GDS_OK):
            marker.unlink(missing_ok=True)
        cmd = ["mvn", "-B", "-q", "package"] + (["-Pgds"] if gds else [])
        log = TARGET / "build.log"
        with log.open("w") as out:
            rc = subprocess.run(
                cmd, cwd=MODULE_DIR, stdout=out, stderr=subprocess.STDOUT, check=False
            ).returncode
        if rc != 0:
            raise StoreUnavailable(
                f"building the local Neo4j server failed ({' '.join(cmd)} in {MODULE_DIR}, "
                f"exit {rc}); last lines of {log}:\n{tail(log)}"
            )
        BUILD_OK.touch()
        if gds:
            BUILD_GDS_OK.touch()
        return time.monotonic() - began


def tail(path: Path, lines: int = 25) -> str:
    """The last ``lines`` lines of a log, for error messages that must show why a step failed."""
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"({path} not readable)"
    return "\n".join(text[-lines:]) or f"({path} is empty)"
