"""API load benchmark: one uvicorn worker in a subprocess, load from another process.

`run_api_bench` opens the store read-only to sample customer ids, starts ``guanxi``'s app
under uvicorn on a free port, waits until the current run's serving data is built (the
warm-up, reported), then drives each endpoint at a fixed request rate from a separate
load-generator process and returns the latency percentiles, the rate achieved and the
server's resident memory.

The generator is deliberately lean, because on a small machine it competes with the server
for CPU: an open-loop schedule (request i is due at start + i / rate) served by a few
threads, each holding one keep-alive socket and speaking just enough HTTP/1.1 to read a
``Content-Length`` body. Latency is measured from the moment a request is sent; how late the
generator sent requests is reported separately (``late_ms_p99``, ``p99_from_due_ms``), so a
starved generator shows up as lateness and a lower achieved rate rather than as server
latency. Read the figures together with the load average, which is recorded.

Run as ``python -m api.bench.http_load duckdb:///path/store.duckdb --seconds 20 --rate 300``.
"""

from __future__ import annotations

import json
import os
import random
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import numpy as np

from api.settings import child_environment

BENCH_KEY = "bench-viewer-key"
ENDPOINTS = ("/influencers?limit=20", "/customers/{id}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _sample_ids(store_uri: str, n: int, *, seed: int) -> list[str]:
    from graph.store import open_store

    with open_store(store_uri, read_only=True) as store:
        ids = store.customer_ids().to_pylist()
    rng = random.Random(seed)
    return rng.sample(ids, min(n, len(ids)))


def _wait_ready(base: str, *, timeout: float, proc: subprocess.Popen | None) -> dict:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace")[-2000:] if proc.stderr else ""
            raise RuntimeError(f"API server exited with {proc.returncode}: {err}")
        try:
            r = httpx.get(f"{base}/health", timeout=5)
            last = r.json()
            if r.status_code == 200 and last.get("served_run_id"):
                return last
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"API at {base} not ready after {timeout}s (last health: {last})")


def _memory_mb(pid: int | None) -> dict:
    """Resident and peak resident memory of a Linux process, in MB (empty elsewhere)."""
    if pid is None:
        return {}
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out["rss_mb" if key == "VmRSS" else "peak_rss_mb"] = round(int(value.split()[0]) / 1024)
    return out


def _cpu_s(pid: int | None) -> float | None:
    """User plus system CPU seconds a Linux process has used (None elsewhere)."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_api_bench(
    store_uri: str,
    *,
    seconds: float = 20.0,
    rate: float = 300.0,
    concurrency: int = 8,
    sample: int = 5000,
    seed: int = 0,
    base_url: str | None = None,
    server_pid: int | None = None,
) -> dict:
    """Benchmark `/influencers?limit=20` and `/customers/{id}` against one uvicorn worker.

    Parameters
    ----------
    store_uri
        A store holding at least one analysis run.
    seconds, rate, concurrency
        Duration per endpoint, target requests per second, and load-generator threads
        (each with one keep-alive connection).
    sample
        How many random customer ids `/customers/{id}` cycles through.
    base_url, server_pid
        Benchmark an API already running there (its key must be ``viewer:bench-viewer-key``)
        instead of starting one; `server_pid` lets its memory be reported.

    Returns
    -------
    dict
        ``{"store", "warmup_s", "server": {rss_mb, peak_rss_mb}, "endpoints": {name:
        {p50_ms, p95_ms, p99_ms, achieved_rps, target_rps, requests, errors, ...}}, ...}``

    Raises
    ------
    RuntimeError
        The server exited or did not become ready.
    """
    ids = _sample_ids(store_uri, sample, seed=seed)
    server = None
    if base_url is None:
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        # the server is a separate process, configured as an operator would: its environment
        env = child_environment(GUANXI_API_KEYS=f"viewer:{BENCH_KEY}", GUANXI_STORE=store_uri)
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "api.http.app:create_app_from_settings",
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--workers",
                "1",
                "--no-access-log",
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        server_pid = server.pid
    else:
        base = base_url.rstrip("/")
    try:
        t = time.perf_counter()
        health = _wait_ready(base, timeout=1800, proc=server)
        ready = time.perf_counter() - t
        headers = {"X-API-Key": BENCH_KEY}
        with httpx.Client(base_url=base, headers=headers, timeout=600) as c:
            c.get("/influencers?limit=20").raise_for_status()
            c.get(f"/customers/{ids[0]}").raise_for_status()
        warmup = time.perf_counter() - t
        paths = {
            ENDPOINTS[0]: [ENDPOINTS[0]],
            ENDPOINTS[1]: [f"/customers/{i}" for i in ids],
        }
        out = {}
        for name in ENDPOINTS:
            load, cpu = os.getloadavg()[0], _cpu_s(server_pid)
            res = _drive(base, paths[name], seconds=seconds, rate=rate, concurrency=concurrency)
            cpu_after = _cpu_s(server_pid)
            if cpu is not None and cpu_after is not None and res["requests"]:
                res["server_cpu_ms_per_request"] = round(
                    (cpu_after - cpu) * 1000 / res["requests"], 3
                )
            res["load_avg_1m"] = round(load, 2)
            out[name] = res
        return {
            "store": store_uri,
            "run_id": health.get("served_run_id"),
            "customers_sampled": len(ids),
            "ready_s": round(ready, 2),
            "warmup_s": round(warmup, 2),
            "seconds": seconds,
            "concurrency": concurrency,
            "cpus": os.cpu_count(),
            "server": _memory_mb(server_pid),
            "endpoints": out,
        }
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()


def _drive(base: str, paths: list[str], *, seconds: float, rate: float, concurrency: int) -> dict:
    """Run the load generator in its own process and return its figures."""
    spec = json.dumps(
        {
            "base": base,
            "paths": paths,
            "seconds": seconds,
            "rate": rate,
            "concurrency": concurrency,
        }
    )
    proc = subprocess.run(
        [sys.executable, "-m", "api.bench.http_load", "--loadgen"],
        input=spec,
        capture_output=True,
        text=True,
        check=True,
        # the repository root: from api/ itself, api/http would shadow the standard library's http
        cwd=str(Path(__file__).resolve().parents[2]),
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


class _Conn:
    """One keep-alive HTTP/1.1 connection that reads Content-Length bodies, nothing more."""

    def __init__(self, host: str, port: int) -> None:
        self.addr = (host, port)
        self.sock: socket.socket | None = None
        self.buf = b""

    def _connect(self) -> socket.socket:
        sock = socket.create_connection(self.addr, timeout=30)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock, self.buf = sock, b""
        return sock

    def get(self, request: bytes) -> int:
        """Send one request and read the whole response; the status code (0 on failure)."""
        try:
            sock = self.sock or self._connect()
            sock.sendall(request)
            while b"\r\n\r\n" not in self.buf:
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionError("closed")
                self.buf += chunk
            head, _, rest = self.buf.partition(b"\r\n\r\n")
            lines = head.split(b"\r\n")
            status = int(lines[0].split()[1])
            length = 0
            for line in lines[1:]:
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length":
                    length = int(v)
            while len(rest) < length:
                chunk = sock.recv(65536)
                if not chunk:
                    raise ConnectionError("closed")
                rest += chunk
            self.buf = rest[length:]
            return status
        except (OSError, ValueError, IndexError):
            if self.sock is not None:
                self.sock.close()
            self.sock = None
            return 0


def _loadgen(spec: dict) -> dict:
    """Open-loop generator: request i is due at start + i / rate, sent by a free thread."""
    from urllib.parse import urlsplit

    url = urlsplit(spec["base"])
    host, port = url.hostname or "127.0.0.1", url.port or 80
    requests = [
        (
            f"GET {p} HTTP/1.1\r\nHost: {host}:{port}\r\nX-API-Key: {BENCH_KEY}\r\n"
            "Accept: application/json\r\n\r\n"
        ).encode()
        for p in spec["paths"]
    ]
    rate = float(spec["rate"])
    total = int(spec["seconds"] * rate)
    lock = threading.Lock()
    nxt = [0]
    lat = np.full(total, np.nan)
    late = np.full(total, np.nan)
    errors = [0]
    start = time.perf_counter() + 0.2

    def worker() -> None:
        conn = _Conn(host, port)
        while True:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= total:
                break
            due = start + i / rate
            delay = due - time.perf_counter()
            if delay > 0:
                time.sleep(delay)
            t = time.perf_counter()
            ok = conn.get(requests[i % len(requests)]) == 200
            lat[i] = time.perf_counter() - t
            late[i] = max(t - due, 0.0)
            if not ok:
                with lock:
                    errors[0] += 1
        if conn.sock is not None:
            conn.sock.close()

    threads = [threading.Thread(target=worker) for _ in range(int(spec["concurrency"]))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed = time.perf_counter() - start
    done = ~np.isnan(lat)
    ms, late_ms = lat[done] * 1000, late[done] * 1000

    def pct(a: np.ndarray, q: float) -> float:
        return round(float(np.percentile(a, q)), 2) if len(a) else float("nan")

    return {
        "requests": int(done.sum()),
        "errors": errors[0],
        "target_rps": rate,
        "achieved_rps": round(int(done.sum()) / elapsed, 1),
        "p50_ms": pct(ms, 50),
        "p95_ms": pct(ms, 95),
        "p99_ms": pct(ms, 99),
        "max_ms": pct(ms, 100),
        "late_ms_p99": pct(late_ms, 99),
        "p99_from_due_ms": pct(ms + late_ms, 99),
    }


def main(argv: list[str] | None = None) -> None:
    import argparse

    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--loadgen":
        print(json.dumps(_loadgen(json.loads(sys.stdin.read()))))
        return
    p = argparse.ArgumentParser(prog="python -m api.bench.http_load", description=__doc__)
    p.add_argument("store_uri")
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--rate", type=float, default=300.0)
    p.add_argument("--concurrency", type=int, default=8)
    p.add_argument("--server-url", default=None, help="benchmark an API already running")
    p.add_argument("--server-pid", type=int, default=None, help="its pid, to report memory")
    a = p.parse_args(argv)
    res = run_api_bench(
        a.store_uri,
        seconds=a.seconds,
        rate=a.rate,
        concurrency=a.concurrency,
        base_url=a.server_url,
        server_pid=a.server_pid,
    )
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
