"""Read the four tables of a Spark run: a folder or URI of Parquet or CSV files, or Hive.

``SRC`` is what Spark reads: ``/data/in``, ``file:///data/in``, ``hdfs:///lake/guanxi``,
``s3a://bucket/guanxi`` (a table is ``<name>.parquet``, ``<name>.csv``, or a folder
``<name>/`` of Parquet part files, as Spark and Hive write them), or ``hive:DB`` (tables
``DB.customers``, ``DB.relations``, ``DB.transactions``, ``DB.events``). CSV is read as text
(header row, no inference) because validation types every column with reason codes, with
the local reader's dialect (`loaders.readers`): ``"`` quotes, a doubled ``""`` inside quotes
(``escape='"'``), newlines inside quoted values (``multiLine``), and per table the encoding
and delimiter of the folder's ``guanxi-load.toml`` (`loaders.dialect`). Spark does not
detect encodings: ``auto`` reads UTF-8 (a byte-order mark is skipped), so a GBK or Big5
export must be named in ``guanxi-load.toml``.
"""

from __future__ import annotations

from typing import Any

from graph.errors import MissingFile
from loaders.dialect import CONFIG_FILE, Dialect, dialects_for, parse_config

__all__ = ["TABLES", "csv_options", "is_hive", "read_tables"]

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


#: Java's names of the encodings `loaders.dialect` accepts (``auto``: UTF-8, see above).
_CHARSETS = {"auto": "UTF-8", "utf-8": "UTF-8", "utf-8-sig": "UTF-8", "gb18030": "GB18030",
             "gbk": "GBK", "big5": "Big5"}  # fmt: skip


def csv_options(dialect: Dialect) -> dict[str, str]:
    """Spark CSV reader options reading a file as `loaders.readers` reads it (all text)."""
    return {
        "header": "true",
        "inferSchema": "false",
        "quote": '"',
        "escape": '"',
        "multiLine": "true",
        "mode": "PERMISSIVE",
        "sep": dialect.delimiter,
        "encoding": _CHARSETS[dialect.encoding],
    }


def _dialects(spark: Any, root: str) -> dict[str, Dialect]:
    """Each table's dialect from ``<root>/guanxi-load.toml`` when there is one (small file)."""
    uri = f"{root}/{CONFIG_FILE}"
    if _exists(spark, uri) != "file":
        return dialects_for()
    text = spark.read.text(uri, wholetext=True).first()[0]
    return dialects_for(parse_config(text, source=uri))


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
    dialects = _dialects(spark, root)
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
                    options = csv_options(dialects[name])
                    if options["encoding"] != "UTF-8":
                        # Spark 4 reads only Unicode and Latin-1 unless told to use Java's
                        spark.conf.set("spark.sql.legacy.javaCharsets", "true")
                    reader = reader.options(**options)
                out[name] = reader.format(fmt).load(candidate)
                break
        else:
            if name in _REQUIRED:
                raise MissingFile(
                    f"{source}: no {name}.parquet, {name}/ or {name}.csv; the spark engine "
                    f"needs {' and '.join(_REQUIRED)} (transactions and events are optional)"
                )
    return out
