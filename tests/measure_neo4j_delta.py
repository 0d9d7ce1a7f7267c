"""Measure a daily delta through the driver after a bulk import, at any size (issue 19).

Generates a dataset, splits it with `tests.neo4j_import_server.split_delta` (base, delta,
combined), bulk-imports the combined data into the local server at ``--dir`` (the reference
counts), then the base, then loads the delta through the driver twice; prints each step's
seconds and counts as JSON lines, and whether the counts after each delta load equal the
combined import's. The server must have been started with ``guanxi neo4j local start --dir``;
its data is replaced.

Run: ``python3 -m tests.measure_neo4j_delta --customers 1000000 --dir /tmp/n1m --work /tmp/d1m``
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import time
from pathlib import Path

from graph.store.neo4j.store import Neo4jStore
from graph.store.neo4j_local import status
from loaders.generate import generate, write_dataset
from tests.neo4j_import_server import split_delta


def _guanxi(env: dict, *args: str) -> tuple[dict, float]:
    began = time.monotonic()
    proc = subprocess.run(["guanxi", *args], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise SystemExit(f"guanxi {' '.join(args)} failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout), round(time.monotonic() - began, 1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--fraction", type=float, default=0.01)
    ap.add_argument("--dir", type=Path, required=True, help="the local server's folder")
    ap.add_argument("--work", type=Path, required=True, help="folder for the three datasets")
    args = ap.parse_args()

    info = status(args.dir)
    if "bolt_uri" not in info:
        raise SystemExit(f"no local server at {args.dir}: guanxi neo4j local start --dir ...")
    env = {**os.environ, "NEO4J_USER": info["user"], "NEO4J_PASSWORD": info["password"]}
    uri = info["bolt_uri"]

    began = time.monotonic()
    base, delta, combined = split_delta(
        generate(args.customers, seed=7), fraction=args.fraction, seed=1
    )
    for name, data in (("base", base), ("delta", delta), ("combined", combined)):
        write_dataset(data, args.work / name, fmt="parquet")
    print(
        json.dumps(
            {
                "step": "split",
                "seconds": round(time.monotonic() - began, 1),
                "delta_customers": delta.customers.num_rows,
                "delta_relations": delta.relations.num_rows,
            }
        ),
        flush=True,
    )

    def counts() -> dict:
        store = Neo4jStore(uri, user=info["user"], password=info["password"])
        try:
            return store.counts()
        finally:
            store.close()

    want = None
    for name in ("combined", "base"):
        report, seconds = _guanxi(
            env, "neo4j", "import", str(args.work / name), "--dir", str(args.dir), "--json"
        )
        got = counts()
        want = want or got
        print(
            json.dumps(
                {
                    "step": f"import {name}",
                    "seconds": seconds,
                    "rows_per_second": report["rows_per_second"],
                    "counts": got,
                }
            ),
            flush=True,
        )
    for attempt in (1, 2):
        report, seconds = _guanxi(
            env,
            "load",
            str(args.work / "delta"),
            "--store",
            uri,
            "--json",
            "--quarantine-dir",
            str(args.work / "q"),
        )
        got = counts()
        tables = {
            t: {k: v.get(k) for k in ("inserted", "updated")} for t, v in report["tables"].items()
        }
        print(
            json.dumps(
                {
                    "step": f"delta load {attempt}",
                    "seconds": seconds,
                    "tables": tables,
                    "counts": got,
                    "equal_to_combined": got == want,
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
