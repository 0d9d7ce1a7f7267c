"""Read the four tables of a Spark run: a folder or URI of Parquet or CSV files, or Hive.

``SRC`` is what Spark reads: ``/data/in``, ``file:///data/in``, ``hdfs:///lake/guanxi``,
``s3a://bucket/guanxi`` (a table is ``<name>.parquet``, ``<name>.csv``, or a folder
``<name>/`` of Parquet part files, as Spark and Hive write them), or ``hive:DB`` (tables
``DB.customers``, ``DB.relations``, ``DB.transactions``, ``DB.events``). CSV is read as text
(header row, no inference) because validation types every column with reason codes.
"""

from __future__ import annotations

from typing import Any

from graph.errors import MissingFile

__all__ = ["TABLES", "is_hive", "read_tables"]

#: The contract's tables; customers and relations are required, the others may be absent.
TABLES: tuple[str, ...] = ("customers", "relations", "transactions", "events")
_REQUIRED = ("customers", "relations")


def is_hive(source: str) -> bool:
    """True for ``hive:DB`` sources (the session then needs Hive support)."""
    return source.startswith("hive:")


def _exists(spark: Any, uri: str) -> str | None:
    """``"file"`` or ``"dir"`` when ``uri`` exists on its file system (Hadoop's view), else None."""
    jvm = spark._jvm
    path = jvm.org.apache.hadoop.fs.Path(uri)
    fs = path.getFileSystem(spark.sparkContext._jsc.hadoopConfiguration())
    if not fs.exists(path):
        return None
    return "dir" if fs.getFileStatus(path).isDirectory() else "file"


def read_tables(spark: Any, source: str) -> dict[str, Any]:
    """The source's tables as DataFrames straight from the scan (validation numbers the rows).

    Raises
    ------
    MissingFile
        customers or relations is absent (the message lists what was looked for).
    """
    if is_hive(source):
        db = source.removeprefix("hive:").strip() or "default"
        have = {t.name for t in spark.catalog.listTables(db)}
        missing = [t for t in _REQUIRED if t not in have]
        if missing:
            raise MissingFile(
                f"Hive database {db!r} has no table(s) {missing}; guanxi reads "
                f"{', '.join(f'{db}.{t}' for t in TABLES)}"
            )
        return {t: spark.table(f"{db}.{t}") for t in TABLES if t in have}
    root = source.rstrip("/")
    out: dict[str, Any] = {}
    for name in TABLES:
        for candidate, fmt in (
            (f"{root}/{name}.parquet", "parquet"),
            (f"{root}/{name}", "parquet"),
            (f"{root}/{name}.csv", "csv"),
        ):
            if _exists(spark, candidate):
                reader = spark.read
                if fmt == "csv":
                    reader = reader.option("header", True).option("inferSchema", False)
                out[name] = reader.format(fmt).load(candidate)
                break
        else:
            if name in _REQUIRED:
                raise MissingFile(
                    f"{source}: no {name}.parquet, {name}/ or {name}.csv; the spark engine "
                    f"needs {' and '.join(_REQUIRED)} (transactions and events are optional)"
                )
    return out
