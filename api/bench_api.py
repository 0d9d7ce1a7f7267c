"""API load benchmark: one uvicorn worker in a subprocess, load from another process.

`run_api_bench` opens the store read-only to sample customer ids, starts ``guanxi``'s app
under uvicorn on a free port, waits for the caches to warm, then drives each endpoint at a
fixed request rate from a separate load-generator process (threads with one httpx client
each) and returns the latency percentiles and the rate achieved.

Latency is measured from the moment a request is sent, not from its scheduled time, so when
the generator falls behind the achieved rate drops below the target instead of the
percentiles absorbing the backlog: read both figures together.

Run as ``python -m api.bench_api duckdb:///path/store.duckdb --seconds 20 --rate 300``.
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

BENCH_KEY = "bench-viewer-key"


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


def _wait_ready(base: str, *, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            r = httpx.get(f"{base}/health", timeout=5)
            last = r.json()
            if r.status_code == 200 and last.get("run_id"):
                return last
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"API at {base} not ready after {timeout}s (last health: {last})")


def run_api_bench(
    store_uri: str,
    *,
    seconds: float = 20.0,
    rate: float = 300.0,
    concurrency: int = 16,
    sample: int = 5000,
    seed: int = 0,
) -> dict:
    """Benchmark `/influencers?limit=20` and `/customers/{id}` against one uvicorn worker.

    Parameters
    ----------
    store_uri
        A store holding at least one analysis run.
    seconds, rate, concurrency
        Duration per endpoint, target requests per second, and load-generator threads.
    sample
        How many random customer ids `/customers/{id}` cycles through.

    Returns
    -------
    dict
        ``{"store": ..., "customers": n, "endpoints": {name: {p50_ms, p95_ms, p99_ms,
        achieved_rps, target_rps, requests, errors}}, "warmup_s": ...}``

    Raises
    ------
    RuntimeError
        The server did not become ready.
    """
    ids = _sample_ids(store_uri, sample, seed=seed)
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "GUANXI_API_KEYS": f"viewer:{BENCH_KEY}"}
    server = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"from api.app import serve; serve('127.0.0.1', {port}, {store_uri!r})",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        t = time.perf_counter()
        _wait_ready(base, timeout=600)
        headers = {"X-API-Key": BENCH_KEY}
        with httpx.Client(base_url=base, headers=headers, timeout=600) as c:
            c.get("/influencers?limit=20").raise_for_status()
            c.get(f"/customers/{ids[0]}").raise_for_status()
        warmup = time.perf_counter() - t
        endpoints = {
            "/influencers?limit=20": ["/influencers?limit=20"],
            "/customers/{id}": [f"/customers/{i}" for i in ids],
        }
        out = {}
        for name, paths in endpoints.items():
            out[name] = _drive(base, paths, seconds=seconds, rate=rate, concurrency=concurrency)
        return {
            "store": store_uri,
            "customers_sampled": len(ids),
            "warmup_s": round(warmup, 2),
            "seconds": seconds,
            "concurrency": concurrency,
            "endpoints": out,
        }
    finally:
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
        [sys.executable, "-m", "api.bench_api", "--loadgen"],
        input=spec,
        capture_output=True,
        text=True,
        check=True,
        cwd=str(Path(__file__).resolve().parents[1]),
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _loadgen(spec: dict) -> dict:
    """Open-loop generator: request i is due at start + i / rate, sent by a free thread."""
    paths, rate = spec["paths"], float(spec["rate"])
    total = int(spec["seconds"] * rate)
    lock = threading.Lock()
    nxt = [0]
    lat = np.full(total, np.nan)
    errors = [0]
    headers = {"X-API-Key": BENCH_KEY}
    start = time.perf_counter() + 0.2

    def worker() -> None:
        with httpx.Client(base_url=spec["base"], headers=headers, timeout=30) as c:
            while True:
                with lock:
                    i = nxt[0]
                    nxt[0] += 1
                if i >= total:
                    return
                due = start + i / rate
                delay = due - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                t = time.perf_counter()
                try:
                    r = c.get(paths[i % len(paths)])
                    ok = r.status_code == 200
                except httpx.HTTPError:
                    ok = False
                lat[i] = time.perf_counter() - t
                if not ok:
                    with lock:
                        errors[0] += 1

    threads = [threading.Thread(target=worker) for _ in range(int(spec["concurrency"]))]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    elapsed = time.perf_counter() - start
    ms = lat[~np.isnan(lat)] * 1000
    return {
        "requests": len(ms),
        "errors": errors[0],
        "target_rps": rate,
        "achieved_rps": round(len(ms) / elapsed, 1),
        "p50_ms": round(float(np.percentile(ms, 50)), 2),
        "p95_ms": round(float(np.percentile(ms, 95)), 2),
        "p99_ms": round(float(np.percentile(ms, 99)), 2),
    }


def main(argv: list[str] | None = None) -> None:
    import argparse

    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--loadgen":
        print(json.dumps(_loadgen(json.loads(sys.stdin.read()))))
        return
    p = argparse.ArgumentParser(prog="python -m api.bench_api", description=__doc__)
    p.add_argument("store_uri")
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--rate", type=float, default=300.0)
    p.add_argument("--concurrency", type=int, default=16)
    a = p.parse_args(argv)
    res = run_api_bench(a.store_uri, seconds=a.seconds, rate=a.rate, concurrency=a.concurrency)
    print(json.dumps(res, indent=2))


if __name__ == "__main__":
    main()
