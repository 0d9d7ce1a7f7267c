"""Build guanxi's GraphX module (api/engines/spark/graphx) once, into a cache folder.

GraphX has no Python API, so the graph stages are a small Scala module compiled with Maven
against Spark 4.1.0 (provided scope: pyspark's own jars run it). The build copies the module
into ``CACHE/graphx-<digest of its sources>`` and packages it there, so the installed
package is never written to, an edited source builds afresh, and later runs cost nothing.
Model: :mod:`graph.store.neo4j_local.maven` (its lock and log tail are reused).
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import time
from pathlib import Path

from graph.errors import ConfigError
from graph.store.neo4j_local.maven import locked, tail

__all__ = ["MODULE_DIR", "build_jar", "jar_path"]

#: The Maven module in the repository (pom.xml and src/main/scala).
MODULE_DIR = Path(__file__).resolve().parent / "graphx"

_JAR_NAME = "guanxi-graphx.jar"
_OK = ".guanxi-build-ok"

_INSTALL_HINT = (
    "Building the GraphX module needs Maven 3 and a JDK 17+ on PATH "
    "(Debian/Ubuntu: apt-get install maven openjdk-17-jdk-headless) and Maven Central "
    "reachable once; or set GUANXI_SPARK_GRAPHX_JAR to a jar built elsewhere with "
    "`mvn package` in api/engines/spark/graphx."
)


def _sources() -> list[Path]:
    return [MODULE_DIR / "pom.xml", *sorted(MODULE_DIR.joinpath("src").rglob("*.scala"))]


def _digest() -> str:
    h = hashlib.sha256()
    for p in _sources():
        h.update(p.relative_to(MODULE_DIR).as_posix().encode())
        h.update(p.read_bytes())
    return h.hexdigest()[:16]


def jar_path(cache_dir: Path) -> Path:
    """Where the jar of the current sources lives (built or not) under ``cache_dir``."""
    return cache_dir / f"graphx-{_digest()}" / "target" / _JAR_NAME


def build_jar(cache_dir: Path, *, force: bool = False) -> tuple[Path, float]:
    """The GraphX jar for the current sources, built with Maven when not cached yet.

    Why a cache keyed by the sources' digest: the first build downloads Scala and Spark's
    compile-time jars from Maven Central and compiles for tens of seconds; every later run
    must start at once, and a changed source must never run a stale jar.

    Parameters
    ----------
    cache_dir : Path
        The cache folder (``Settings.spark_cache``).
    force : bool
        Rebuild even when a built jar exists.

    Returns
    -------
    (Path, float)
        The jar and the seconds spent building (0.0 when the cached jar was reused).

    Raises
    ------
    ConfigError
        ``mvn`` or ``java`` is not on PATH, or Maven failed (the message ends with the last
        lines of the build log).
    """
    jar = jar_path(cache_dir)
    work = jar.parent.parent
    if not force and (work / _OK).is_file() and jar.is_file():
        return jar, 0.0
    missing = [tool for tool in ("mvn", "java") if shutil.which(tool) is None]
    if missing:
        raise ConfigError(f"{' and '.join(missing)} not found. {_INSTALL_HINT}")
    cache_dir.mkdir(parents=True, exist_ok=True)
    with locked(cache_dir / ".build.lock"):
        if not force and (work / _OK).is_file() and jar.is_file():
            return jar, 0.0  # another process built it while we waited
        began = time.monotonic()
        shutil.rmtree(work, ignore_errors=True)
        shutil.copytree(MODULE_DIR, work, ignore=shutil.ignore_patterns("target"))
        log = cache_dir / f"build-{work.name}.log"
        cmd = ["mvn", "-B", "-q", "package"]
        with log.open("w") as out:
            rc = subprocess.run(
                cmd, cwd=work, stdout=out, stderr=subprocess.STDOUT, check=False
            ).returncode
        if rc != 0 or not jar.is_file():
            raise ConfigError(
                f"building the GraphX module failed ({' '.join(cmd)} in {work}, exit {rc}); "
                f"last lines of {log}:\n{tail(log)}\n{_INSTALL_HINT}"
            )
        (work / _OK).touch()
        return jar, time.monotonic() - began
