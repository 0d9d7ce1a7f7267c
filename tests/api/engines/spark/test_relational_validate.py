"""Spark validation gives the local loader's verdicts: same good rows, same quarantine rows.

A generated dataset gets bad values of every reason code validation gives (and a few that
one engine's casts would read differently from the other's), is written as CSV, read by the
local reader + DuckDB validation and by Spark (files split into several blocks, so row
numbering across blocks is exercised), and the two results are compared row for row.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pytest

from api.engines.spark.relational import number_rows, validate
from loaders.generate import generate
from loaders.ingest import validate_all
from loaders.readers import read_raw
from loaders.specs import Reason

#: (table, column, value) written over a row each; the reason the local loader gives it.
INJECTED: list[tuple[str, str, str, str | None]] = [
    ("customers", "customer_id", "", Reason.MISSING_VALUE),
    ("customers", "birth_date", "31/12/1990", Reason.BAD_DATE),
    ("customers", "birth_date", "1990", Reason.BAD_DATE),  # Spark's cast reads a bare year
    ("customers", "age", "forty", Reason.BAD_NUMBER),
    ("customers", "age", "1.5", None),  # DuckDB reads it as 2
    ("customers", "age", "4'0", Reason.BAD_NUMBER),  # quoted in the message as repr does
    ("customers", "aum", "1,000", Reason.BAD_NUMBER),
    ("customers", "aum", "12.5d", Reason.BAD_NUMBER),  # Java's parser reads a 'd' suffix
    ("customers", "aum", "\u3000 42.5\u00a0", None),  # Unicode spaces trimmed
    ("customers", "registered_at", "yesterday", Reason.BAD_TIMESTAMP),
    ("customers", "registered_at", "2024-01-01T10:00:00+08:00", None),
    ("customers", "marketing_consent", "maybe", Reason.BAD_BOOLEAN),
    ("relations", "type", "telepathy", Reason.UNKNOWN_RELATION_TYPE),
    ("relations", "occurred_at", "2024-13-01T00:00:00", Reason.BAD_TIMESTAMP),
    ("relations", "occurred_at", "", Reason.MISSING_VALUE),
    ("relations", "amount", "abc", Reason.BAD_NUMBER),
    ("relations", "amount", "NaN", Reason.NON_FINITE_NUMBER),  # parses, but no sum holds it
    ("transactions", "amount", "inf", Reason.NON_FINITE_NUMBER),
    ("transactions", "amount", "-Infinity", Reason.NON_FINITE_NUMBER),
    ("customers", "aum", " nan", Reason.NON_FINITE_NUMBER),
    ("relations", "count", "1e3", None),
    ("relations", "dst_id", "NOBODY", Reason.UNKNOWN_CUSTOMER),
    ("transactions", "customer_id", "GHOST", Reason.UNKNOWN_CUSTOMER),
    ("transactions", "promo", "perhaps", Reason.BAD_BOOLEAN),
    ("transactions", "occurred_at", "2024", Reason.BAD_TIMESTAMP),
    ("transactions", "amount", "", None),
    ("events", "event_type", "teleport", Reason.UNKNOWN_EVENT_TYPE),
    ("events", "event_type", "", Reason.MISSING_VALUE),
]


def _text(table: pa.Table) -> pa.Table:
    cols = {}
    for name in table.column_names:
        col = table.column(name)
        if pa.types.is_timestamp(col.type):
            col = pc.strftime(col, format="%Y-%m-%dT%H:%M:%S")
        cols[name] = pc.cast(col, pa.string())
    return pa.table(cols)


def _put(table: pa.Table, column: str, row: int, value: str) -> pa.Table:
    values = table.column(column).to_pylist()
    values[row] = value
    i = table.column_names.index(column)
    return table.set_column(i, column, pa.array(values, pa.string()))


def _dataset(tmp_path: Path) -> Path:
    data = generate(300, seed=11, relations_per_customer=4.0)
    tables = {name: _text(t) for name, t in data.tables().items()}
    tables["customers"] = (
        tables["customers"]
        .append_column("age", pa.array([str(20 + i % 60) for i in range(300)], pa.string()))
        .append_column(
            "vip_note", pa.array([None if i % 3 else f"note {i}" for i in range(300)], pa.string())
        )
    )
    used: dict[str, int] = {}
    for table, column, value, _ in INJECTED:
        row = 7 + 13 * used.get(table, 0)
        used[table] = used.get(table, 0) + 1
        tables[table] = _put(tables[table], column, row, value)
    rel = tables["relations"]
    tables["relations"] = _put(rel, "dst_id", 250, rel.column("src_id")[250].as_py())
    cust = tables["customers"]
    first = cust.slice(5, 1)
    conflict = _put(first, "name", 0, "someone else")
    tables["customers"] = pa.concat_tables([cust, first, conflict])  # repeat, then conflict
    folder = tmp_path / "in"
    folder.mkdir()
    for name, t in tables.items():
        pacsv.write_csv(
            t, folder / f"{name}.csv", write_options=pacsv.WriteOptions(quoting_style="needed")
        )
    return folder


def _local(folder: Path):
    results = validate_all(
        lambda name: [read_raw(name, folder / f"{name}.csv")], pa.array([], pa.string())
    )
    good = {
        name: res.valid.drop_columns(["_pos"]).to_pandas() for name, (res, _, _) in results.items()
    }
    bad = pa.concat_tables([res.quarantined for res, _, _ in results.values()]).to_pandas()
    return good, bad


def _spark(spark, folder: Path):
    spark.conf.set("spark.sql.files.maxPartitionBytes", "32768")
    spark.conf.set("spark.sql.files.openCostInBytes", "0")
    try:
        tables = {
            name: number_rows(spark.read.csv(str(folder / f"{name}.csv"), header=True, escape='"'))
            for name in ("customers", "relations", "transactions", "events")
        }
        blocks = tables["relations"].rdd.getNumPartitions()
        good, bad = validate(spark, tables)
        good = {name: df.toPandas() for name, df in good.items()}
        bad = bad.toPandas()
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")
        spark.conf.unset("spark.sql.files.openCostInBytes")
    return good, bad, blocks


def _rows(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c in out.columns:
        out[c] = out[c].astype(object).where(out[c].notna(), None)
    return out.sort_values(list(out.columns), key=lambda s: s.astype(str)).reset_index(drop=True)


@pytest.fixture(scope="module")
def results(spark, tmp_path_factory):
    folder = _dataset(tmp_path_factory.mktemp("validate"))
    return _local(folder), _spark(spark, folder)


def test_quarantine_rows_are_the_local_loaders(results):
    (_, local_bad), (_, spark_bad, blocks) = results
    assert blocks > 1  # the files were read in several blocks
    assert len(local_bad) > 0
    pd.testing.assert_frame_equal(_rows(spark_bad), _rows(local_bad))


def test_every_reason_code_occurs_where_injected(results):
    (_, local_bad), _ = results
    expected = {str(r) for _, _, _, r in INJECTED if r is not None}
    expected |= {Reason.SELF_RELATION, Reason.DUPLICATE_CONFLICT}
    assert set(local_bad["reason"]) == expected


def test_good_rows_are_the_local_loaders(results):
    (local_good, _), (spark_good, _, _) = results
    for name, local in local_good.items():
        spark = spark_good[name]
        assert list(spark.columns) == list(local.columns), name
        assert len(spark) == len(local), name
        pd.testing.assert_frame_equal(_rows(spark), _rows(local), check_dtype=False, obj=name)
