"""Run a real local Neo4j 5.26 server built from Maven Central artifacts.

Why this exists: guanxi needs a real Neo4j (Bolt for the store, Browser for people looking at
the graph, optionally Graph Data Science) on machines that reach package registries but not the
Neo4j download site, and without Docker. The Maven module next to this file
(``graph/store/neo4j_server``) assembles the community server from the same jars the official
tarball ships; this module builds it once, starts it as a detached JVM, and stops it.

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

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil

from graph.errors import ConfigError, StoreUnavailable

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

#: Where a server keeps its data when no directory is given (gitignored).
DEFAULT_DIR = Path(".neo4j")
#: JVM heap and page cache of a server started without other values (a laptop's share).
DEFAULT_HEAP = "2g"
DEFAULT_PAGECACHE = "512m"
#: The Maven module that assembles the server.
MODULE_DIR = Path(__file__).resolve().parent / "neo4j_server"

_TARGET = MODULE_DIR / "target"
_JAR = _TARGET / "guanxi-neo4j-server.jar"
_LIB = _TARGET / "lib"
_PLUGINS = _TARGET / "plugins"
_BUILD_OK = _TARGET / ".guanxi-build-ok"
_BUILD_GDS_OK = _TARGET / ".guanxi-build-gds-ok"
_MAIN_CLASS = "guanxi.neo4j.Main"
_USER = "neo4j"
_MIN_JAVA = 17

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
    markers = [_BUILD_OK, _BUILD_GDS_OK] if gds else [_BUILD_OK]
    if not (_JAR.is_file() and _LIB.is_dir() and all(m.is_file() for m in markers)):
        return False
    sources = [MODULE_DIR / "pom.xml", *MODULE_DIR.joinpath("src").rglob("*.java")]
    newest_source = max(p.stat().st_mtime for p in sources)
    return min(m.stat().st_mtime for m in markers) >= newest_source


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
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
    _TARGET.mkdir(parents=True, exist_ok=True)
    with _locked(MODULE_DIR / "target" / ".build.lock"):
        if not force and _built(gds):  # another process built it while we waited
            return 0.0
        began = time.monotonic()
        for marker in (_BUILD_OK, _BUILD_GDS_OK):
            marker.unlink(missing_ok=True)
        cmd = ["mvn", "-B", "-q", "package"] + (["-Pgds"] if gds else [])
        log = _TARGET / "build.log"
        with log.open("w") as out:
            rc = subprocess.run(
                cmd, cwd=MODULE_DIR, stdout=out, stderr=subprocess.STDOUT, check=False
            ).returncode
        if rc != 0:
            raise StoreUnavailable(
                f"building the local Neo4j server failed ({' '.join(cmd)} in {MODULE_DIR}, "
                f"exit {rc}); last lines of {log}:\n{_tail(log)}"
            )
        _BUILD_OK.touch()
        if gds:
            _BUILD_GDS_OK.touch()
        return time.monotonic() - began


# --------------------------------------------------------------------------- start / stop


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
    classpath = [str(_JAR), str(_LIB / "*")]
    if gds:
        # Same as bin/neo4j: plugins are on the class path and scanned for procedures.
        classpath.insert(0, str(_PLUGINS / "*"))
    cmd = [
        "java",
        f"-Xmx{heap}",
        *_JVM_FLAGS,
        "-cp",
        os.pathsep.join(classpath),
        _MAIN_CLASS,
        "--home",
        str(dir),
        "--bolt-port",
        str(bolt_port),
        "--http-port",
        str(http_port),
        "--password-file",
        str(dir / "password"),
        "--pagecache",
        pagecache,
    ]
    if gds:
        cmd += ["--plugins", str(_PLUGINS)]
    return cmd


def start(
    dir: Path = DEFAULT_DIR,
    *,
    bolt_port: int = 7687,
    http_port: int = 7474,
    gds: bool = False,
    password: str | None = None,
    heap: str = DEFAULT_HEAP,
    pagecache: str = DEFAULT_PAGECACHE,
    timeout: float = 180,
) -> dict[str, Any]:
    """Start (or find running) a local Neo4j server keeping its data in ``dir``.

    Why: gives guanxi a real Neo4j 5.26 on any machine with a JDK and Maven, no Docker, with
    authentication on and data that survives restarts. Ready means a real Bolt login with the
    password works, not that some time has passed.

    Parameters
    ----------
    dir : Path
        Server directory (created if needed); ``data/`` inside it is kept across restarts.
    bolt_port, http_port : int
        Ports bound on 127.0.0.1 only.
    gds : bool
        Load Graph Data Science 2.13 (built with the ``gds`` Maven profile on first use).
    password : str or None
        Password of user ``neo4j`` (at least 8 characters). Default: the one stored in
        ``dir/password``, else a new random one. The one used is stored in ``dir/password``
        (mode 0600) and applied to the server on start.
    heap, pagecache : str
        JVM maximum heap (``-Xmx``) and Neo4j page cache, as ``512m`` or ``2g``. They apply
        when a server starts; a server already running keeps its own.
    timeout : float
        Seconds to wait for Bolt to accept the login (the build is not counted).

    Returns
    -------
    dict
        ``bolt_uri``, ``http_uri``, ``browser_uri``, ``pid``, ``dir``, ``user``, ``password``,
        ``gds``; also written to ``dir/server.json``. When a server is already running for
        ``dir``, its info is returned as is (its ports and password win).

    Raises
    ------
    ConfigError
        Missing java/mvn, a port already taken, a too-short password, or a running server
        without GDS when ``gds=True`` is asked.
    StoreUnavailable
        The build failed, or the JVM died or was not ready within ``timeout`` (the message
        carries the last log lines).
    """
    dir = Path(dir).expanduser().resolve()
    dir.mkdir(parents=True, exist_ok=True)
    with _locked(dir / "run" / "start.lock"):
        running = _running_info(dir)
        if running is not None:
            if gds and not running.get("gds"):
                raise ConfigError(
                    f"a Neo4j server without GDS is already running for {dir} "
                    f"(pid {running['pid']}); stop it first to start one with GDS"
                )
            return running

        pw = _resolve_password(dir, password)
        for name, port in (("bolt", bolt_port), ("http", http_port)):
            if not _port_free(port):
                raise ConfigError(
                    f"{name} port {port} on 127.0.0.1 is already in use; choose another "
                    f"({name}_port=...) or stop what listens there"
                )
        build(gds=gds)

        logs = dir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        (dir / "run" / "ready").unlink(missing_ok=True)
        console = logs / "console.log"
        began = time.monotonic()
        with console.open("ab") as out:
            proc = subprocess.Popen(
                java_command(
                    dir,
                    bolt_port=bolt_port,
                    http_port=http_port,
                    gds=gds,
                    heap=heap,
                    pagecache=pagecache,
                ),
                cwd=dir,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # detached: survives the caller, not hit by its Ctrl-C
            )
        info: dict[str, Any] = {
            "bolt_uri": f"bolt://127.0.0.1:{bolt_port}",
            "http_uri": f"http://127.0.0.1:{http_port}",
            "browser_uri": f"http://127.0.0.1:{http_port}/browser/",
            "pid": proc.pid,
            "dir": str(dir),
            "user": _USER,
            "password": pw,
            "gds": gds,
        }
        try:
            _wait_ready(proc, dir, info, timeout)
        except BaseException:
            _terminate(proc.pid, 30, proc)
            raise
        info["startup_seconds"] = round(time.monotonic() - began, 1)
        _write_private(dir / "server.json", json.dumps(info, indent=2) + "\n")
        return info


def stop(dir: Path = DEFAULT_DIR, timeout: float = 60) -> bool:
    """Stop the server running for ``dir``: SIGTERM, wait, SIGKILL as a last resort.

    Why SIGTERM first: Neo4j's shutdown hook checkpoints and closes the store, so the next
    start needs no recovery; SIGKILL only when that does not end within ``timeout``.

    Returns
    -------
    bool
        True if a server was running (and is now stopped), False if none was.
    """
    dir = Path(dir).expanduser().resolve()
    pid = _server_pid(dir)
    if pid is None:
        return False
    _terminate(pid, timeout)
    (dir / "run" / "ready").unlink(missing_ok=True)
    return True


def status(dir: Path = DEFAULT_DIR) -> dict[str, Any]:
    """Whether a server runs for ``dir``, with what ``start`` recorded in ``server.json``.

    Returns
    -------
    dict
        ``running`` (bool), ``dir``, and, when ``server.json`` exists, its keys (``pid`` is the
        live process's, or None when not running).
    """
    dir = Path(dir).expanduser().resolve()
    info: dict[str, Any] = _read_json(dir / "server.json") or {}
    pid = _server_pid(dir)
    info.update({"running": pid is not None, "pid": pid, "dir": str(dir)})
    return info


# --------------------------------------------------------------------------- helpers


def _resolve_password(dir: Path, password: str | None) -> str:
    stored = dir / "password"
    pw = password or None
    if pw is None and stored.is_file():
        pw = stored.read_text().strip() or None
    if pw is None:
        pw = secrets.token_urlsafe(24)
    if len(pw) < 8:
        raise ConfigError("the Neo4j password must have at least 8 characters")
    if "\n" in pw or pw != pw.strip():
        raise ConfigError("the Neo4j password must not start/end with blanks or hold newlines")
    _write_private(stored, pw + "\n")
    return pw


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` readable by the owner only (it holds a password)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _is_our_server(pid: int, dir: Path) -> bool:
    """True if ``pid`` is a live (not zombie) guanxi Neo4j JVM for ``dir`` (pids get reused)."""
    try:
        p = psutil.Process(pid)
        if p.status() == psutil.STATUS_ZOMBIE:
            return False
        cmd = p.cmdline()
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False
    return _MAIN_CLASS in cmd and str(dir) in cmd


def _server_pid(dir: Path) -> int | None:
    """Pid of the server running for ``dir``, from server.json or Neo4j's own pid file."""
    candidates: list[int] = []
    info = _read_json(dir / "server.json")
    if info and isinstance(info.get("pid"), int):
        candidates.append(info["pid"])
    with contextlib.suppress(OSError, ValueError):
        candidates.append(int((dir / "run" / "neo4j.pid").read_text().strip()))
    for pid in candidates:
        if _is_our_server(pid, dir):
            return pid
    return None


def _running_info(dir: Path) -> dict[str, Any] | None:
    pid = _server_pid(dir)
    if pid is None:
        return None
    info = _read_json(dir / "server.json")
    if info is None or info.get("pid") != pid:
        # Running but started by a start() that has not finished (or lost server.json).
        raise StoreUnavailable(
            f"a Neo4j server (pid {pid}) is running for {dir} but {dir / 'server.json'} "
            "does not describe it; wait for its start to finish or stop it"
        )
    return info


def _wait_ready(proc: subprocess.Popen[bytes], dir: Path, info: dict[str, Any], timeout: float):
    """Poll until a Bolt login with the password works; fail fast if the JVM dies."""
    from neo4j import GraphDatabase
    from neo4j.exceptions import AuthError, Neo4jError, ServiceUnavailable

    deadline = time.monotonic() + timeout
    ready_file = dir / "run" / "ready"
    last_error: Exception | None = None
    while True:
        rc = proc.poll()
        if rc is not None:
            raise StoreUnavailable(
                f"the Neo4j JVM exited with code {rc} while starting.\n{_log_tails(dir)}"
            )
        if ready_file.exists():
            try:
                with GraphDatabase.driver(
                    info["bolt_uri"],
                    auth=(info["user"], info["password"]),
                    connection_timeout=5,
                    max_connection_lifetime=30,
                ) as driver:
                    driver.verify_connectivity()
                return
            except AuthError as e:
                raise StoreUnavailable(
                    f"Neo4j for {dir} is up but refuses the password in {dir / 'password'}: {e}"
                ) from e
            except (ServiceUnavailable, Neo4jError, OSError) as e:
                last_error = e
        if time.monotonic() > deadline:
            raise StoreUnavailable(
                f"Neo4j for {dir} was not ready on {info['bolt_uri']} within {timeout:.0f} s"
                f" (last error: {last_error}).\n{_log_tails(dir)}"
            )
        time.sleep(0.25)


def _terminate(pid: int, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    """SIGTERM ``pid``, wait up to ``timeout`` s, then SIGKILL; reap it if it is our child."""
    try:
        p = psutil.Process(pid)
    except psutil.NoSuchProcess:
        return
    with contextlib.suppress(psutil.NoSuchProcess):
        p.send_signal(signal.SIGTERM)
    if not _wait_gone(p, timeout, proc):
        with contextlib.suppress(psutil.NoSuchProcess):
            p.send_signal(signal.SIGKILL)
        _wait_gone(p, 10, proc)


def _wait_gone(p: psutil.Process, timeout: float, proc: subprocess.Popen[bytes] | None) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None:
            if proc.poll() is not None:
                return True
        else:
            with contextlib.suppress(ChildProcessError, OSError):
                os.waitpid(p.pid, os.WNOHANG)  # reap if we are its parent (e.g. in tests)
        try:
            if not p.is_running() or p.status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        time.sleep(0.2)
    return False


def _tail(path: Path, lines: int = 25) -> str:
    try:
        text = path.read_text(errors="replace").splitlines()
    except OSError:
        return f"({path} not readable)"
    return "\n".join(text[-lines:]) or f"({path} is empty)"


def _log_tails(dir: Path) -> str:
    logs = dir / "logs"
    return "\n".join(
        f"--- last lines of {logs / name}:\n{_tail(logs / name)}"
        for name in ("console.log", "neo4j.log")
        if (logs / name).exists()
    )


# --------------------------------------------------------------------------- command line


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m graph.store.neo4j_local", description="Local Neo4j 5.26 server."
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("build", "start", "stop", "status"):
        p = sub.add_parser(name)
        if name != "build":
            p.add_argument("--dir", type=Path, default=DEFAULT_DIR)
        if name in ("build", "start"):
            p.add_argument("--gds", action="store_true")
        if name == "start":
            p.add_argument("--bolt-port", type=int, default=7687)
            p.add_argument("--http-port", type=int, default=7474)
            p.add_argument("--timeout", type=float, default=180)
            p.add_argument("--heap", default=DEFAULT_HEAP, help="JVM -Xmx, e.g. 1g")
            p.add_argument("--pagecache", default=DEFAULT_PAGECACHE, help="e.g. 512m")
    args = parser.parse_args(argv)
    try:
        if args.command == "build":
            print(json.dumps({"build_seconds": round(build(gds=args.gds), 1)}))
        elif args.command == "start":
            info = start(
                args.dir,
                bolt_port=args.bolt_port,
                http_port=args.http_port,
                gds=args.gds,
                heap=args.heap,
                pagecache=args.pagecache,
                timeout=args.timeout,
            )
            print(json.dumps({k: v for k, v in info.items() if k != "password"}, indent=2))
        elif args.command == "stop":
            print("stopped" if stop(args.dir) else "not running")
        else:
            info = status(args.dir)
            info.pop("password", None)
            print(json.dumps(info, indent=2))
    except (ConfigError, StoreUnavailable) as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(_main())
