"""Loading: every input row accounted for, bad rows quarantined with reasons, idempotent."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from graph.errors import MissingColumns, MissingFile
from graph.store import open_store
from loaders import readers
from loaders.generate import write_dataset
from loaders.ingest import load_folder, load_frames

CORPUS = Path(__file__).parent / "corpus" / "bad"


@pytest.fixture
def store(tmp_path):
    with open_store(f"duckdb:///{tmp_path / 'g.duckdb'}") as s:
        yield s


def _quarantine(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def test_bad_row_corpus_each_row_quarantined_with_its_reason(store, tmp_path):
    report = load_folder(store, CORPUS, quarantine_dir=tmp_path / "q")
    t = report.tables
    for name, counts in t.items():
        assert counts.read == counts.loaded + counts.quarantined, name
    assert (t["customers"].read, t["customers"].loaded, t["customers"].quarantined) == (11, 5, 6)
    assert (t["relations"].read, t["relations"].loaded, t["relations"].quarantined) == (12, 5, 7)
    assert (t["transactions"].read, t["transactions"].quarantined) == (5, 3)
    assert (t["events"].read, t["events"].quarantined) == (4, 1)

    cust = _quarantine(tmp_path / "q" / "customers.quarantine.csv")
    assert dict(zip(cust["row"].astype(int), cust["reason"], strict=True)) == {
        5: "missing_value",
        6: "bad_date",
        7: "bad_number",
        8: "bad_timestamp",
        9: "bad_boolean",
        11: "duplicate_customer_conflict",
    }
    assert cust.set_index("reason").loc["bad_number", "column"] == "aum"
    assert cust.set_index("reason").loc["bad_number", "value"] == "lots"

    rel = _quarantine(tmp_path / "q" / "relations.quarantine.csv")
    assert dict(zip(rel["row"].astype(int), rel["reason"], strict=True)) == {
        5: "unknown_relation_type",
        6: "unknown_customer",
        7: "self_relation",
        8: "bad_timestamp",
        9: "missing_value",
        10: "bad_number",
        11: "malformed_row",
    }
    msg = rel.set_index("reason").loc["unknown_customer", "message"]
    assert msg.startswith("relations.csv row 6: dst_id 'C99' names no known customer")

    tx = _quarantine(tmp_path / "q" / "transactions.quarantine.csv")
    assert sorted(tx["reason"]) == ["bad_number", "missing_value", "unknown_customer"]
    ev = _quarantine(tmp_path / "q" / "events.quarantine.csv")
    assert list(ev["reason"]) == ["unknown_event_type"]

    assert store.counts() == {"customers": 4, "relations": 5, "transactions": 2, "events": 3}


def test_extra_columns_are_kept_as_attributes(store, tmp_path):
    load_folder(store, CORPUS, quarantine_dir=tmp_path / "q")
    assert store.get_customer("C1")["attributes"] == '{"branch":"B01"}'


def test_reload_changes_nothing(store, small_csv_dir, tmp_path):
    first = load_folder(store, small_csv_dir, quarantine_dir=tmp_path / "q")
    counts = store.counts()
    second = load_folder(store, small_csv_dir, quarantine_dir=tmp_path / "q")
    assert store.counts() == counts
    assert all(c.inserted == 0 and c.updated == 0 for c in second.tables.values())
    assert {k: v.read for k, v in first.tables.items()} == {
        k: v.read for k, v in second.tables.items()
    }
    assert counts["customers"] == 2000


def test_parquet_loads_the_same_as_csv(small_csv_dir, small_parquet_dir, tmp_path):
    with open_store(f"duckdb:///{tmp_path / 'a.duckdb'}") as a:
        load_folder(a, small_csv_dir, quarantine_dir=tmp_path / "qa")
        ca = a.counts()
        rel_a = a.read_table("relations").sort_by(
            [
                ("src_id", "ascending"),
                ("dst_id", "ascending"),
                ("occurred_at", "ascending"),
                ("type", "ascending"),
            ]
        )
    with open_store(f"duckdb:///{tmp_path / 'b.duckdb'}") as b:
        rep = load_folder(b, small_parquet_dir, quarantine_dir=tmp_path / "qb")
        assert rep.quarantined == 0
        assert b.counts() == ca
        rel_b = b.read_table("relations").sort_by(
            [
                ("src_id", "ascending"),
                ("dst_id", "ascending"),
                ("occurred_at", "ascending"),
                ("type", "ascending"),
            ]
        )
    assert rel_a.equals(rel_b)


def test_newer_customers_file_updates_attributes(store, tmp_path):
    load_folder(store, CORPUS, quarantine_dir=tmp_path / "q")
    newer = tmp_path / "newer"
    shutil.copytree(CORPUS, newer)
    text = (
        (newer / "customers.csv")
        .read_text()
        .replace(
            "C4,赵强,13612345678,1999-09-09,上海,50,", "C4,赵强,13612345678,1999-09-09,杭州,50,"
        )
    )
    (newer / "customers.csv").write_text(text)
    rep = load_folder(store, newer, quarantine_dir=tmp_path / "q2")
    assert rep.tables["customers"].updated == 1
    assert rep.tables["customers"].inserted == 0
    assert store.get_customer("C4")["city"] == "杭州"
    assert store.counts()["customers"] == 4


def test_missing_file_fails_naming_it_and_writes_nothing(store, tmp_path):
    d = tmp_path / "in"
    shutil.copytree(CORPUS, d)
    (d / "events.csv").unlink()
    with pytest.raises(MissingFile, match="events"):
        load_folder(store, d, quarantine_dir=tmp_path / "q")
    assert store.counts() == {"customers": 0, "relations": 0, "transactions": 0, "events": 0}


def test_missing_required_column_fails_naming_file_and_column(store, tmp_path):
    d = tmp_path / "in"
    shutil.copytree(CORPUS, d)
    lines = (d / "relations.csv").read_text().splitlines()
    lines[0] = lines[0].replace("occurred_at", "when")
    (d / "relations.csv").write_text("\n".join(lines) + "\n")
    with pytest.raises(MissingColumns) as exc:
        load_folder(store, d, quarantine_dir=tmp_path / "q")
    assert "relations.csv" in str(exc.value) and "occurred_at" in str(exc.value)
    assert store.counts()["customers"] == 0


def test_header_only_table_is_an_empty_table(store, tmp_path):
    d = tmp_path / "in"
    shutil.copytree(CORPUS, d)
    (d / "events.csv").write_text("customer_id,occurred_at,event_type\n")
    rep = load_folder(store, d, quarantine_dir=tmp_path / "q")
    assert rep.tables["events"].read == 0
    assert rep.tables["customers"].loaded == 5


def test_dataframes_load_like_files(store):
    frames = {
        "customers": pd.DataFrame({"customer_id": ["A", "B", ""], "aum": [1.0, 2.0, 3.0]}),
        "relations": pd.DataFrame(
            {
                "src_id": ["A"],
                "dst_id": ["B"],
                "type": ["like"],
                "occurred_at": ["2024-01-01T00:00:00"],
            }
        ),
        "transactions": pd.DataFrame(columns=["customer_id", "occurred_at", "amount"]),
        "events": pd.DataFrame(columns=["customer_id", "occurred_at", "event_type"]),
    }
    rep = load_frames(store, frames)
    assert rep.tables["customers"].as_dict()["quarantined"] == 1
    assert rep.tables["relations"].loaded == 1
    assert store.counts()["relations"] == 1


def test_a_parquet_table_in_batches_loads_as_in_one(small_data, tmp_path, monkeypatch):
    """Relations read 4,000 rows at a time (spooled between batches) give the store, the
    report and the quarantine of one whole read: faults in later batches keep their row
    numbers, and of two rows sharing a key across batches the first is kept."""
    folder = tmp_path / "in"
    write_dataset(small_data, folder, fmt="parquet")
    rel = small_data.relations.to_pandas()
    rel.loc[7000, "occurred_at"] = "not a time"
    rel.loc[12_000, "src_id"] = "C9999999"
    repeat = rel.loc[[5]].assign(amount=1.0, count=99)  # the key of row 5, other values
    # at the start of a batch: before row 5 by its place in the batch, after it in the file
    rel = pd.concat([rel.iloc[:16_000], repeat, rel.iloc[16_000:]], ignore_index=True)
    pq.write_table(pa.Table.from_pandas(rel, preserve_index=False), folder / "relations.parquet")

    def loaded(name: str) -> tuple[dict, dict[str, pa.Table], str]:
        with open_store(f"duckdb:///{tmp_path / f'{name}.duckdb'}") as st:
            rep = load_folder(st, folder, quarantine_dir=tmp_path / f"q{name}")
            tables = {t: st.read_table(t) for t in ("relations", "transactions", "events")}
        quarantine = (tmp_path / f"q{name}" / "relations.quarantine.csv").read_text()
        return rep.as_dict()["tables"], tables, quarantine

    whole = loaded("whole")
    monkeypatch.setattr(readers, "BATCH_ROWS", 4_000)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    assert len(list(readers.read_raw_batches("relations", folder / "relations.parquet"))) > 5
    batched = loaded("batched")
    assert batched[0] == whole[0]
    assert whole[0]["relations"]["quarantined"] == 2
    assert batched[2] == whole[2]
    assert "row 7001" in whole[2] and "row 12001" in whole[2]
    for name, table in whole[1].items():
        keys = [(c, "ascending") for c in table.column_names if c != "attributes"]
        assert batched[1][name].sort_by(keys).equals(table.sort_by(keys)), name
    kept = batched[1]["relations"].to_pandas().merge(repeat[["src_id", "dst_id", "type"]])
    assert 99 not in kept["count"].tolist()
    assert list((tmp_path / "tmp").iterdir()) == []  # the spool is gone
