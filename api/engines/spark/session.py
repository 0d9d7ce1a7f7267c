"""Start the Spark session a run uses, after checking what Spark needs on this machine.

Why a check first: without it, a missing pyspark is an ImportError deep in a stage and a
missing or old Java is a py4j "Java gateway process exited" with no hint; the message here
names both remedies at once.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from graph.errors import ConfigError
from graph.store.neo4j_local.maven import _java_major as java_major

__all__ = ["INSTALL_HINT", "MIN_JAVA", "check_prerequisites", "java_major", "start_session"]

#: The oldest Java Spark 4.1 runs on.
MIN_JAVA = 17

INSTALL_HINT = (
    "The spark engine needs pyspark 4.1 (pip install 'guanxi[spark]') and a JDK 17 or newer "
    "on PATH (Debian/Ubuntu: apt-get install openjdk-17-jdk-headless); "
    "without them use --engine local."
)


def check_prerequisites() -> None:
    """Fail with one message naming what to install when pyspark or Java 17+ is missing.

    Raises
    ------
    ConfigError
        pyspark is not importable, ``java`` is not on PATH, or it is older than 17.
    """
    problems = []
    try:
        import pyspark  # noqa: F401
    except ImportError:
        problems.append("pyspark is not installed")
    if shutil.which("java") is None:
        problems.append("java is not on PATH")
    else:
        major = java_major()
        if major is not None and major < MIN_JAVA:
            problems.append(f"java on PATH is version {major}, Spark 4.1 needs {MIN_JAVA}+")
    if problems:
        raise ConfigError(f"{'; '.join(problems)}. {INSTALL_HINT}")


def start_session(
    master: str = "local[*]",
    conf: dict[str, str] | None = None,
    app_name: str = "guanxi",
    *,
    jars: Sequence[Path] = (),
    hive: bool = False,
) -> Any:
    """The Spark session for one run (created, or the active one reconfigured).

    Parameters
    ----------
    master : str
        ``local[*]``, ``local[N]``, ``yarn``, ``spark://HOST:PORT``, ``k8s://...``.
    conf : dict, optional
        Spark settings passed through (``--conf k=v``); they override the defaults here.
    app_name : str
        The application name shown in the Spark UI and the cluster manager.
    jars : sequence of Path
        Jars for the driver and executors (``spark.jars``): the GraphX module
        (:func:`api.engines.spark.graphx_jar.build_jar`). They must be known when the JVM
        starts, because py4j only sees classes on the driver's class path.
    hive : bool
        Enable Hive support (``hive:DB`` input reads the metastore's tables).

    Returns
    -------
    pyspark.sql.SparkSession
        With ``spark.sql.session.timeZone`` UTC (timestamps mean the same on every executor
        as in the local engine) and the JVM's log level at WARN.

    Raises
    ------
    ConfigError
        The prerequisites are missing (see :func:`check_prerequisites`).
    """
    check_prerequisites()
    from pyspark.sql import SparkSession

    settings = {
        "spark.sql.session.timeZone": "UTC",
        "spark.ui.showConsoleProgress": "false",
        "spark.sql.ansi.enabled": "false",
        "spark.log.level": "WARN",
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        # Pregel stages (coreness, components, referral trees) cut their lineage this often
        # once the engine has set a checkpoint folder
        "spark.graphx.pregel.checkpointInterval": "10",
    }
    if jars:
        settings["spark.jars"] = ",".join(str(j) for j in jars)
    settings.update(conf or {})
    builder = SparkSession.builder.master(master).appName(app_name)
    if hive:
        builder = builder.enableHiveSupport()
    for key, value in settings.items():
        builder = builder.config(key, str(value))
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    return spark
