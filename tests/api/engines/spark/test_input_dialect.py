"""The Spark reader reads CSV as the local reader does, and keeps the first row per key.

A small generated dataset is written as CSV with what bank exports hold: quoted values with
doubled quotes and newlines inside them, a byte-order mark, one table in GBK with a pipe
delimiter named in ``guanxi-load.toml``, rows repeated (the same key again, some with other
values) and a few bad rows. ``guanxi load`` of the folder into DuckDB is the reference: the
Spark engine's load report (counts and reasons), its good rows (first per natural key) and
its quarantine must equal it.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from api.engines import get_engine
from graph.store import open_store
from loaders.generate import generate
from loaders.ingest import load_folder
from tests.api.engines.spark.test_relational_validate import _put, _text


def _dataset(folder: Path) -> Path:
    # the generator repeats natural keys on purpose (relations, events), as exports do
    tables = {name: _text(t) for name, t in generate(250, seed=13).tables().items()}
    cust = tables["customers"]
    cust = _put(cust, "name", 3, 'Wang "Lao" Wu')  # doubled quotes in the file
    cust = _put(cust, "name", 4, "Li\nSecond line, with a comma")  # a quoted newline
    cust = _put(cust, "city", 6, "上海")
    cust = _put(cust, "birth_date", 9, "1990/13/01")  # bad date
    again = cust.slice(10, 2)  # the same two customers again: identical, then a conflict
    tables["customers"] = pa.concat_tables([cust, again.slice(0, 1), _put(again, "name", 1, "x")])
    rel = tables["relations"]
    tables["relations"] = pa.concat_tables([rel, rel.slice(20, 5)])  # repeated keys
    tables["relations"] = _put(tables["relations"], "type", 2, "telepathy")
    ev = tables["events"]
    tables["events"] = _put(ev, "topic", 5, "理财\n讲座")
    folder.mkdir()
    for name, t in tables.items():
        if name not in ("customers", "relations", "transactions", "events"):
            continue
        opts = pacsv.WriteOptions(
            quoting_style="needed", delimiter="|" if name == "events" else ","
        )
        pacsv.write_csv(t, folder / f"{name}.csv", write_options=opts)
    raw = (folder / "customers.csv").read_bytes()
    (folder / "customers.csv").write_bytes(b"\xef\xbb\xbf" + raw)  # utf-8 with a BOM
    ev_text = (folder / "events.csv").read_text("utf-8")
    (folder / "events.csv").write_bytes(ev_text.encode("gbk"))
    (folder / "guanxi-load.toml").write_text('[events]\nencoding = "gbk"\ndelimiter = "|"\n')
    return folder


@pytest.fixture(scope="module")
def both(spark, tmp_path_factory):
    d = tmp_path_factory.mktemp("dialect")
    src = _dataset(d / "in")
    ref = open_store(f"duckdb:///{d / 'local.duckdb'}")
    report = load_folder(ref, src, quarantine_dir=d / "q", quarantine_raw=True)
    engine = get_engine("spark", source=str(src), out_dir=str(d / "runs"), session=spark)
    yield ref, report, engine
    ref.close()


def test_load_report_counts_and_reasons_equal_the_local_load(both):
    ref, report, engine = both
    got = engine.validation_report()
    want = report.as_dict()
    assert got["tables"] == want["tables"]
    assert got["reasons"] == want["reasons"]
    assert want["tables"]["relations"]["inserted"] < want["tables"]["relations"]["loaded"]
    assert want["reasons"]["customers"] == {"bad_date": 1, "duplicate_customer_conflict": 1}
    assert engine.input_counts(None) == ref.counts()


def _sorted(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for c in out.columns:
        out[c] = out[c].astype(object).where(out[c].notna(), None)
    return out.sort_values(list(out.columns), key=lambda s: s.astype(str)).reset_index(drop=True)


@pytest.mark.parametrize("name", ["customers", "relations", "transactions", "events"])
def test_good_rows_are_the_rows_the_load_stored(both, name):
    ref, _, engine = both
    want = ref.read_table(name).to_pandas()
    got = engine._validated()[name].toPandas()
    assert list(got.columns) == list(want.columns)
    pd.testing.assert_frame_equal(_sorted(got), _sorted(want), check_dtype=False, obj=name)
    if name == "customers":
        names = set(got["name"])
        assert {'Wang "Lao" Wu', "Li\nSecond line, with a comma"} <= names
        assert "上海" in set(got["city"])
    if name == "events":
        assert "理财\n讲座" in set(got["topic"])


def test_quarantine_rows_are_the_local_loads(both, tmp_path):
    _, report, engine = both
    want = pd.concat(
        [pd.read_csv(p, dtype=str, keep_default_na=False) for p in report.quarantine_files.values()]
    )
    got = engine._quarantine.toPandas().astype(str)
    cols = ["table", "row", "reason", "column", "value"]
    assert _sorted(got[cols]).equals(_sorted(want[cols].astype(str)))
