"""`guanxi bench --engine spark`: the spark engine's stages, timed, with driver memory.

The stages run in one child process (one Spark session, as a run has), after ``generate``
(the Parquet input, only when the folder lacks it) in a child of its own: the generator's
arrays would otherwise stay in the driver's RSS (freed, not returned to the system) and every
later stage would report them as the driver's. Then ``session`` (the JVM and the GraphX jar),
``validate`` (read, checks, first row per key), ``project`` (the weighted projection),
``graph`` (GraphX, Spark SQL and the driver's igraph stages; its own stages are listed
beside), ``tags`` (features and every rule; the assignments materialised on the executors
so that the next stage measures writing) and ``write+register`` (the run's Parquet, then
the input and the run registered in a DuckDB store; the engine's persist step does both,
its detail splits them: ``write_parquet``, ``register_input``, ``persist_*``). Each stage
reports its seconds, rows per second, the peak RSS of the Python driver and of the JVM, and
the JVM heap's peak (the sum of the heap pools' peaks since the stage began: an upper
bound, as pools peak at different times).

In ``local[N]`` mode the executors are threads of the driver's JVM, so the JVM's figures
are the driver's and the executors' together; the Python process's RSS is what the driver
holds of the data itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console

__all__ = ["SPARK_STAGES", "run_spark_bench"]

SPARK_STAGES = ("generate", "session", "validate", "project", "graph", "tags", "write+register")


def run_spark_bench(
    *,
    customers: int,
    workdir: Path,
    master: str,
    conf: dict[str, str],
    console: Console,
) -> dict:
    """Run the stages in a child process; return the figures (``stages``: one row each).

    Raises
    ------
    GuanxiError
        The child failed (its output names the stage).
    """
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    console.print(f"[bold]bench[/bold] spark on {master} ({customers:,} customers)...")
    args = [sys.executable, "-m", "api.bench.spark_stages", str(customers), str(workdir)]
    t = time.perf_counter()
    stages: list[dict] = []
    for child in ([*args, "generate"], [*args, master, json.dumps(conf)]):
        proc = subprocess.Popen(child, stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        for line in proc.stdout:  # one JSON line per finished stage, shown as it comes
            if not line.startswith("{"):
                continue
            row = json.loads(line)
            stages.append(row)
            console.print(
                f"  {row['stage']}: {row['stage_s']:.1f}s, driver {row['peak_rss_mb']:,.0f} MB,"
                f" JVM {row.get('jvm_rss_mb') or 0:,.0f} MB"
            )
        proc.wait()
        if proc.returncode != 0:
            from graph.errors import GuanxiError

            done = stages[-1]["stage"] if stages else "none"
            raise GuanxiError(f"spark bench failed after stage {done} (exit {proc.returncode})")
    return {
        "customers": customers,
        "engine": "spark",
        "master": master,
        "conf": conf,
        "machine": {"cpus": os.cpu_count()},
        "wall_s": round(time.perf_counter() - t, 3),
        "stages": stages,
    }


class _Meter:
    """Per-stage seconds and peaks of the Python driver, the JVM and the JVM heap."""

    def __init__(self) -> None:
        self.jvm_pid: int | None = None
        self.spark: Any = None

    def _heap_pools(self) -> list[Any]:
        if self.spark is None:
            return []
        mf = self.spark._jvm.java.lang.management.ManagementFactory
        heap = self.spark._jvm.java.lang.management.MemoryType.HEAP
        return [p for p in mf.getMemoryPoolMXBeans() if p.getType().equals(heap)]

    def run(self, name: str, fn: Any, rows: Any) -> Any:
        """Run ``fn()`` as stage ``name``; print its JSON line; return its result."""
        from api.bench.peak_rss import PeakRss

        for pool in self._heap_pools():
            pool.resetPeakUsage()
        t = time.perf_counter()
        with PeakRss({"driver": os.getpid(), "jvm": self.jvm_pid}) as peak:
            result = fn()
        seconds = time.perf_counter() - t
        heap = sum(p.getPeakUsage().getUsed() for p in self._heap_pools()) / 2**20
        n, detail = rows(result) if callable(rows) else (rows, None)
        row = {
            "stage": name,
            "stage_s": round(seconds, 3),
            "rows": int(n),
            "rows_per_s": round(n / seconds, 1) if seconds else 0.0,
            "peak_rss_mb": round(peak.peak.get("driver", 0) / 2**20, 1),
            "jvm_rss_mb": round(peak.peak["jvm"] / 2**20, 1) if "jvm" in peak.peak else None,
            "jvm_heap_peak_mb": round(heap, 1) if self.spark is not None else None,
            "detail": detail,
        }
        sys.stdout.write(json.dumps(row, default=str) + "\n")
        sys.stdout.flush()
        return result


def _input_dir(workdir: Path, customers: int) -> Path:
    return workdir / f"spark-input-{customers}"


def _generate(customers: int, workdir: Path) -> None:
    """The ``generate`` stage (its own process, see the module docstring); nothing if the
    folder holds the input already."""
    from loaders.generate import generate, write_dataset

    data = _input_dir(workdir, customers)
    if (data / "customers.parquet").is_file():
        return

    def make() -> int:
        ds = generate(customers, seed=7)
        write_dataset(ds, data, fmt="parquet")
        return sum(t.num_rows for t in ds.tables().values())

    _Meter().run("generate", make, lambda n: (n, {"folder": str(data)}))


def _child(customers: int, workdir: Path, master: str, conf: dict[str, str]) -> None:
    """The stages, in order, in this process (see the module docstring)."""
    from api.engines import get_engine
    from api.engines.spark.graphx_jar import build_jar
    from api.engines.spark.session import start_session
    from api.settings import get_settings
    from api.usecases import new_run_id, open_configured_store
    from api.usecases.analysis import DUCKDB_MEMORY_BUDGET
    from api.usecases.stores import memory_budget
    from graph.model import RunInfo
    from graph.params import AnalysisParams
    from tagging import default_catalog
    from tagging.quality import definition_fingerprints

    settings = get_settings()
    meter = _Meter()
    data = _input_dir(workdir, customers)

    def session() -> Any:
        jar = settings.spark_graphx_jar or build_jar(settings.spark_cache_dir)[0]
        return start_session(master, conf, "guanxi bench", jars=[jar])

    spark = meter.run("session", session, 0)
    meter.spark = spark
    meter.jvm_pid = int(spark._jvm.java.lang.ProcessHandle.current().pid())
    out_dir = workdir / "spark-runs"
    engine = get_engine(
        "spark",
        source=str(data),
        out_dir=str(out_dir),
        session=spark,
        driver_budget_mb=settings.spark_driver_budget_mb,
    )
    report = meter.run(
        "validate",
        engine.validation_report,
        lambda r: (sum(t["read"] for t in r["tables"].values()), r),
    )
    n_customers = report["tables"]["customers"]["inserted"]
    n_relations = report["tables"]["relations"]["inserted"]
    db = workdir / "spark-bench.duckdb"
    for p in workdir.glob("spark-bench.duckdb*"):
        p.unlink()
    # the store works within the budget `guanxi analyze` gives it, so the driver's figures
    # are the command's
    with (
        open_configured_store(f"duckdb:///{db}") as store,
        memory_budget(store, DUCKDB_MEMORY_BUDGET),
    ):
        params = AnalysisParams(seed=42)
        projection = meter.run("project", lambda: engine.project(store, params), n_relations)
        result = meter.run(
            "graph",
            lambda: engine.metrics(projection),
            lambda r: (n_relations, {"timings_s": r.stats.get("timings"),
                                     "left_out": r.stats.get("left_out")}),
        )  # fmt: skip
        catalog = default_catalog()
        now = datetime.now(UTC)
        run = RunInfo(
            run_id=new_run_id(now),
            created_at=now.isoformat(timespec="microseconds"),
            params=projection.params.to_dict(),
            input_counts=engine.input_counts(store),
            stats={
                **{k: v for k, v in result.stats.items() if k != "timings"},
                "tag_definitions": definition_fingerprints(catalog),
            },
        )

        def tags() -> Any:
            features = engine.features(store, result.metrics, as_of=projection.params.as_of)
            return engine.tags(features, catalog, run_id=run.run_id)  # assignments computed

        tagged = meter.run("tags", tags, n_customers)
        timings: dict[str, float] = {}

        def persist() -> dict[str, float]:
            timings.update(engine.persist(store, run, metrics=result, tags=tagged))
            return timings

        # persist writes the Parquet, then registers: split by its own timings
        meter.run(
            "write+register",
            persist,
            lambda t: (n_customers, {k: round(v, 3) for k, v in t.items()}),
        )
    spark.stop()


if __name__ == "__main__":
    if sys.argv[3] == "generate":
        _generate(int(sys.argv[1]), Path(sys.argv[2]))
    else:
        _child(int(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], json.loads(sys.argv[4]))
