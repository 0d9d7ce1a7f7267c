"""The ``spark`` engine: the pipeline's stages on a Spark session, input read from ``source``.

Unlike the local engine, which reads the store, this engine reads its input where the bank
keeps it (``source``: Parquet/CSV under a file, HDFS or S3 URI, or Hive) and uses the store
only to register the finished run, so every read command works on it. Its stages hand Spark
DataFrames to each other; the results are written by the executors as Parquet under
``out_dir/<run_id>/`` and then registered in the store (:mod:`api.engines.spark.persist`).
"""

from __future__ import annotations

import atexit
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

from api.engines.base import MetricsResult, Progress, Projection, TagsResult, reference_time
from graph.errors import ConfigError
from graph.model import RunInfo
from graph.params import AnalysisParams
from graph.store import GraphStore

__all__ = ["SparkEngine"]


class SparkEngine:
    """Spark SQL and GraphX behind the :class:`api.engines.base.Engine` stages.

    Parameters
    ----------
    source
        Where the four tables are (see :mod:`api.engines.spark.input`).
    master
        Spark master: ``local[*]``, ``yarn``, ``spark://...``, ``k8s://...``.
    conf
        Spark settings passed through (``--conf k=v``).
    out_dir
        Folder or URI the run's Parquet goes to (``<out_dir>/<run_id>/``); by default a
        ``guanxi-spark-runs`` folder in the working directory.
    driver_budget_mb
        Driver memory the single-machine stages may use (``Settings.spark_driver_budget_mb``).
    cache_dir, graphx_jar
        Where the GraphX module is built, or a prebuilt jar (``Settings``).
    session
        An existing session (tests); it must carry the GraphX jar.
    """

    name = "spark"

    def __init__(
        self,
        source: str | None = None,
        *,
        master: str = "local[*]",
        conf: dict[str, str] | None = None,
        out_dir: str | None = None,
        driver_budget_mb: int = 2048,
        cache_dir: Path | None = None,
        graphx_jar: Path | None = None,
        session: Any = None,
    ) -> None:
        if not source:
            raise ConfigError(
                "the spark engine reads its input itself: pass --input SRC (a folder or URI "
                "of customers, relations, transactions and events as Parquet or CSV, or hive:DB)"
            )
        self.source = source
        self.master = master
        self.conf = dict(conf or {})
        self.out_dir = out_dir or str(Path("guanxi-spark-runs").resolve())
        self.driver_budget_mb = driver_budget_mb
        self.cache_dir = cache_dir
        self.graphx_jar = graphx_jar
        self._spark = session
        self._good: dict[str, Any] | None = None
        self._quarantine: Any = None
        self._counts: dict[str, dict[str, int]] | None = None
        self._reasons: dict[str, dict[str, int]] = {}
        self._left_out: dict[str, str] = {}
        self._not_evaluated: dict[str, str] = {}

    # ------------------------------------------------------------------ session and input

    @property
    def spark(self) -> Any:
        """The session, started on first use with the GraphX jar (built once, cached)."""
        if self._spark is None:
            from api.engines.spark.graphx_jar import build_jar
            from api.engines.spark.input import is_hive
            from api.engines.spark.session import check_prerequisites, start_session

            check_prerequisites()
            if self.graphx_jar is None and self.cache_dir is None:
                raise ConfigError(
                    "the spark engine needs a GraphX jar or a cache folder to build it"
                )
            jar = self.graphx_jar or build_jar(self.cache_dir)[0]
            self._spark = start_session(
                self.master, self.conf, "guanxi analyze", jars=[jar], hive=is_hive(self.source)
            )
        return self._spark

    def _validated(self) -> dict[str, Any]:
        """The source's good rows per table (validated once per engine), and the quarantine.

        As a load into an empty store: rows failing a check are quarantined with their
        reason, and of the good rows sharing a natural key the first is kept
        (`relational.first_per_key`); :meth:`validation_report` gives the load report's
        counts.
        """
        if self._good is None:
            from pyspark.sql import functions as F

            from api.engines.spark import relational
            from api.engines.spark.input import read_tables
            from api.engines.spark.projection import cut

            if not self.spark.sparkContext.getCheckpointDir():
                self.spark.sparkContext.setCheckpointDir(self._checkpoint_dir())
            tables = read_tables(self.spark, self.source)
            good, quarantine = relational.validate(self.spark, tables, rows=True)
            self._quarantine = cut(quarantine)
            reasons: dict[str, dict[str, int]] = {}
            for r in (
                self._quarantine.groupBy("table", "reason").agg(F.count("*").alias("n")).collect()
            ):
                reasons.setdefault(r["table"], {})[r["reason"]] = int(r["n"])
            self._good, self._counts = {}, {}
            for name, df in good.items():
                n_loaded = df.count()  # validation's result is materialised: a cheap count
                self._good[name] = cut(relational.first_per_key(name, df))
                bad = sum(reasons.get(name, {}).values())
                self._counts[name] = {
                    "read": n_loaded + bad,
                    "loaded": n_loaded,
                    "quarantined": bad,
                    "inserted": self._good[name].count(),
                    "updated": 0,
                }
            self._reasons = {t: dict(sorted(r.items())) for t, r in sorted(reasons.items())}
        return self._good

    def validation_report(self) -> dict[str, Any]:
        """The load report of this run's input, in the shape of ``guanxi load --json``.

        ``tables``: per table ``read`` (= ``loaded`` + ``quarantined``), ``loaded`` (rows
        passing validation), ``quarantined``, ``inserted`` (the first row of each natural
        key: what a load into an empty store inserts) and ``updated`` (0); ``reasons``: per
        table, quarantined rows per reason code.
        """
        self._validated()
        return {"tables": dict(self._counts or {}), "reasons": dict(self._reasons)}

    def _checkpoint_dir(self) -> str:
        """Where stages cut their lineage: ``spark.checkpoint.dir``, else beside the output on
        a cluster (every executor must reach it), else a temporary folder (local mode),
        removed when the process exits (the session, which may outlive this engine, keeps
        pointing at it): a run's checkpoints are as large as its input, and no later process
        reads them."""
        if self.conf.get("spark.checkpoint.dir"):
            return self.conf["spark.checkpoint.dir"]
        if not self.master.startswith("local"):
            return f"{self.out_dir.rstrip('/')}/_checkpoints"
        folder = tempfile.mkdtemp(prefix="guanxi-spark-ckpt-")
        atexit.register(shutil.rmtree, folder, ignore_errors=True)
        return folder

    def input_counts(self, store: GraphStore) -> dict[str, Any]:
        """Rows per table of this run's input as a load stores them (first row per key)."""
        self._validated()
        return {name: c["inserted"] for name, c in (self._counts or {}).items()}

    # ------------------------------------------------------------------ stages

    def project(self, store: GraphStore, params: AnalysisParams) -> Projection:
        """Validate the source and project it (``store`` is not read: input is ``source``)."""
        from api.engines.spark.projection import newest_timestamp, project_tables

        good = self._validated()
        if params.as_of is None:
            dated = [good[t] for t in ("relations", "transactions", "events") if t in good]
            params = replace(params, as_of=newest_timestamp(*dated))
        if params.as_of is None:
            raise ConfigError(f"{self.source}: no dated row in relations, transactions or events")
        g = project_tables(
            self.spark,
            good["customers"],
            good["relations"],
            type_weights=params.type_weights,
            half_life_days=params.half_life_days,
            as_of=params.as_of,
        )
        return Projection(params=params, graph=g)

    def metrics(self, projection: Projection, *, progress: Progress | None = None) -> MetricsResult:
        """GraphX, Spark SQL and (within the driver budget) igraph metrics; see ``metrics.py``."""
        from api.engines.spark.metrics import spark_metrics

        result = spark_metrics(
            self.spark,
            projection.graph,
            projection.params,
            driver_budget_mb=self.driver_budget_mb,
            progress=progress,
        )
        self._left_out = dict(result.stats.get("left_out") or {})
        # the run record keeps the load report of its input (the store held no load of it)
        return replace(result, stats={**result.stats, "validation": self.validation_report()})

    def features(self, store: GraphStore, metrics: Any, *, as_of: Any) -> Any:
        """The rules' features in Spark SQL (``relational.features``) from the source's tables."""
        from api.engines.spark import relational

        return relational.features(self.spark, self._validated(), metrics, reference_time(as_of))

    def tags(self, features: Any, catalog: Any, *, run_id: str) -> TagsResult:
        """Every rule compiled to Spark SQL (``relational.tags``).

        Tags reading a measure :meth:`metrics` left out are recorded
        (`relational.not_evaluated`); :meth:`persist` writes them into the run record.
        """
        from api.engines.spark import relational

        self._not_evaluated = relational.not_evaluated(catalog, self._left_out)
        assignments, definitions = relational.tags(self.spark, features, catalog, run_id)
        return TagsResult(assignments=assignments, definitions=definitions)

    def persist(
        self, store: GraphStore, run: RunInfo, *, metrics: MetricsResult | None, tags: TagsResult
    ) -> dict[str, float]:
        """Write the run's Parquet (executors), then register it in ``store``."""
        from api.engines.spark.persist import persist_spark_run

        if self._not_evaluated:
            run = replace(run, stats={**run.stats, "tags_not_evaluated": dict(self._not_evaluated)})
        return persist_spark_run(
            store,
            run,
            out_dir=self.out_dir,
            metrics=metrics,
            tags=tags,
            quarantine=self._quarantine,
            inputs=self._good if metrics is not None else None,
        )
