"""`guanxi bench`: time each stage in its own process (wall time, rows/s, peak memory).

Each stage runs in a child process so that its peak RSS is its own (the child's ru_maxrss),
not the high-water mark of earlier stages.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console

STAGES = ("generate", "load", "reload", "analyze", "tagging", "plan", "api", "networkx", "neo4j")


def _stage(name: str, customers: int, workdir: Path) -> dict:
    """Run one stage in this process; returns rows and extra figures."""
    from api import usecases
    from loaders.generate import BLOCK_CUSTOMERS

    data = workdir / "data"
    store_uri = f"duckdb:///{workdir / 'bench.duckdb'}"
    if name == "generate":
        shutil.rmtree(data, ignore_errors=True)
        # Parquet above one block: ten million customers are ~23 GB as CSV, ~4 GB as Parquet
        fmt = "csv" if customers <= BLOCK_CUSTOMERS else "parquet"
        info = usecases.generate_dataset(customers, seed=7, out=data, fmt=fmt)
        return {"rows": sum(info["rows"].values()), "detail": info}
    if name in ("load", "reload"):
        if name == "load":
            for p in workdir.glob("bench.duckdb*"):
                p.unlink()
        with usecases.open_configured_store(store_uri) as st:
            rep = usecases.load(st, data)
            return {"rows": sum(t.read for t in rep.tables.values()), "detail": rep.as_dict()}
    if name == "analyze":
        with usecases.open_configured_store(store_uri) as st:
            res = usecases.analyze(st, seed=42)
            return {
                "rows": res.run.input_counts.get("relations", 0),
                "detail": {
                    "run_id": res.run.run_id,
                    "timings_s": res.timings,
                    "peak_rss_mb": res.peak_rss_mb,
                    "stats": res.run.stats,
                },
            }
    if name == "tagging":
        # features + all rules + persistence again for the latest run (issue 4's budget)
        with usecases.open_configured_store(store_uri) as st:
            run = usecases.latest_run(st)
            timings = usecases.tag_run(st, run, st.read_metrics(run.run_id))
            return {
                "rows": run.input_counts.get("customers", 0),
                "detail": {k: round(v, 3) for k, v in timings.items()},
            }
    if name == "plan":
        from api.usecases.campaign_setup import CampaignParams
        from api.usecases.campaigns import plan_referral

        with usecases.open_configured_store(store_uri, read_only=True) as st:
            plan = plan_referral(st, CampaignParams(k=50))
            return {
                "rows": plan["customers"],
                "detail": {
                    k: plan[k]
                    for k in ("expected_reach", "reach_ci", "baselines", "timings_s", "eligible")
                },
            }
    if name == "api":
        from api.bench.http_load import run_api_bench

        return {"rows": customers, "detail": run_api_bench(store_uri, seconds=20, rate=300)}
    if name == "neo4j":
        return _neo4j_stage(data, workdir)
    if name == "networkx":
        from api.bench.vs_networkx import side_by_side

        with usecases.open_configured_store(store_uri) as st:
            return side_by_side(st)
    raise ValueError(f"unknown stage {name!r}; choose from {', '.join(STAGES)}")


def _neo4j_stage(data: Path, workdir: Path) -> dict:
    """Load the same files into Neo4j (``NEO4J_URI``, or a local server started here)."""
    from api.bench.neo4j_load import run_neo4j_bench
    from api.settings import get_settings
    from graph.store import neo4j_local

    neo4j = get_settings().neo4j
    if neo4j.uri:
        res = run_neo4j_bench(data, bolt_uri=neo4j.uri, options=neo4j.store_options())
        return {"rows": sum(res.get("rows", {}).values()), "detail": res}
    neo_dir = workdir / "neo4j"
    info = neo4j_local.start(
        neo_dir, bolt_port=17787, http_port=17574, heap=neo4j.heap, pagecache=neo4j.pagecache
    )
    try:
        res = run_neo4j_bench(
            data,
            bolt_uri=info["bolt_uri"],
            options=dataclasses.replace(
                neo4j.store_options(), user=info["user"], password=info["password"]
            ),
            server_pid=info["pid"],
            server_dir=neo_dir,
        )
    finally:
        neo4j_local.stop(neo_dir)
    return {"rows": sum(res.get("rows", {}).values()), "detail": res}


def run_bench(
    *, customers: int, workdir: Path, stages: list[str], networkx: bool, console: Console
) -> dict:
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    if networkx and "networkx" not in stages:
        stages = [*stages, "networkx"]
    results = []
    for name in stages:
        name = name.strip()
        if name not in STAGES:
            from graph.errors import ConfigError

            raise ConfigError(f"unknown bench stage {name!r}; choose from {', '.join(STAGES)}")
        console.print(f"[bold]bench[/bold] {name} ({customers:,} customers)...")
        t = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "api.bench.runner", name, str(customers), str(workdir)],
            stdout=subprocess.PIPE,
            text=True,
        )
        stdout, _ = proc.communicate()
        wall = time.perf_counter() - t
        if proc.returncode != 0:
            from graph.errors import GuanxiError

            raise GuanxiError(f"bench stage {name} failed (exit {proc.returncode})")
        payload = json.loads(stdout.strip().splitlines()[-1])
        rows = payload.get("rows", 0)
        if name == "analyze":
            _print_substages(payload.get("detail") or {}, console)
        results.append(
            {
                "stage": name,
                "wall_s": round(wall, 3),
                "stage_s": payload["stage_s"],
                "rows": rows,
                "rows_per_s": round(rows / payload["stage_s"], 1) if payload["stage_s"] else 0,
                "peak_rss_mb": payload["peak_rss_mb"],
                "peak_tree_mb": payload["peak_tree_mb"],
                "detail": payload.get("detail"),
            }
        )
    return {"customers": customers, "machine": {"cpus": os.cpu_count()}, "stages": results}


def substage_rows(detail: dict) -> list[tuple[str, float | None, float | None]]:
    """(stage, seconds, peak RSS MB) for each stage of an analyze run, in run order.

    The peak of a stage is its own (the high-water mark reset when it started), so the
    rows show where the run's memory goes, not only how much it reached.
    """
    timings = detail.get("timings_s") or {}
    peaks = detail.get("peak_rss_mb") or {}
    names = [*timings, *(k for k in peaks if k not in timings)]
    return [(k, timings.get(k), peaks.get(k)) for k in names]


def _print_substages(detail: dict, console: Console) -> None:
    from rich.table import Table

    t = Table(title="analyze stages")
    for c in ("stage", "s", "peak RSS MB"):
        t.add_column(c, justify="right" if c != "stage" else "left")
    for name, seconds, mb in substage_rows(detail):
        t.add_row(
            name,
            "" if seconds is None else f"{seconds:.2f}",
            "" if mb is None else f"{mb:,.0f}",
        )
    console.print(t)


def _main() -> None:
    import resource

    from api.bench.peak_rss import TreeMemory

    name, customers, workdir = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
    t = time.perf_counter()
    with TreeMemory() as tree:
        res = _stage(name, customers, workdir)
    res["stage_s"] = round(time.perf_counter() - t, 3)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # analyze resets the high-water mark per stage (which lowers ru_maxrss): its maximum
    stage_max = ((res.get("detail") or {}).get("peak_rss_mb") or {}).get("max")
    res["peak_rss_mb"] = round(max(peak, stage_max or 0.0), 1)
    # the stage's process tree (forked metric workers, a server it started), shared pages once
    res["peak_tree_mb"] = round(max(tree.peak / 2**20, res["peak_rss_mb"]), 1)
    text = json.dumps(res, default=str)
    # Also on disk: a stage can run for an hour, and its figures must outlive a failure of the
    # parent process that collects them.
    (workdir / f"stage-{name}.json").write_text(text + "\n")
    sys.stdout.write("\n" + text + "\n")


if __name__ == "__main__":
    _main()
