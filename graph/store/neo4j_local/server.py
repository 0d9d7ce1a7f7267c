"""Start, stop and report on a local Neo4j server, and keep its password.

What it holds: :func:`start` (password, free ports, build, a detached JVM, ready once a Bolt
login works), :func:`stop` (SIGTERM, then SIGKILL as a last resort), :func:`status`, and the
helpers they share: the password file, ``server.json``, which pid is ours, and the log tails
that failure messages carry.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import psutil

from graph.errors import ConfigError, StoreUnavailable
from graph.store.neo4j_local.config import (
    DEFAULT_DIR,
    DEFAULT_HEAP,
    DEFAULT_PAGECACHE,
    MAIN_CLASS,
    java_command,
    resolve_pagecache,
)
from graph.store.neo4j_local.maven import build, locked, tail

_USER = "neo4j"


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
    with locked(dir / "run" / "start.lock"):
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
        pagecache = resolve_pagecache(pagecache, dir)

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
            "heap": heap,
            "pagecache": pagecache,
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


def _new_password() -> str:
    """A random password not starting with '-', which set-initial-password reads as an option."""
    while True:
        pw = secrets.token_urlsafe(24)
        if not pw.startswith("-"):
            return pw


def _resolve_password(dir: Path, password: str | None) -> str:
    stored = dir / "password"
    pw = password or None
    if pw is None and stored.is_file():
        pw = stored.read_text().strip() or None
    if pw is None:
        pw = _new_password()
    if len(pw) < 8:
        raise ConfigError("the Neo4j password must have at least 8 characters")
    if pw.startswith("-"):
        raise ConfigError("the Neo4j password must not start with '-' (read as an option)")
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
    return MAIN_CLASS in cmd and str(dir) in cmd


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


def _log_tails(dir: Path) -> str:
    logs = dir / "logs"
    return "\n".join(
        f"--- last lines of {logs / name}:\n{tail(logs / name)}"
        for name in ("console.log", "neo4j.log")
        if (logs / name).exists()
    )
