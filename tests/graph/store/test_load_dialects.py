"""Bank export dialects load the same on every store: the corpus of tests/loaders/corpus/dialects.

Why: a real export arrives in GBK, GB18030 or Big5, pipe- or tab-separated, with a BOM or
CRLF line ends, sometimes with a corrupt row. Each variant must load the rows that decode,
quarantine the rest as ``bad_encoding`` with the byte offset of the bad byte, report the
encoding and delimiter used, and store exactly the text that was written (the names are
compared with the corpus's own Unicode strings, not with another read of the files).
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from graph.errors import UnreadableFile
from loaders.ingest import load_folder
from tests.loaders.dialect_corpus import RELATIONS, ROOT, VARIANTS, Variant, variant_bytes

#: what each variant produced, by store, for the closing comparison across stores
OUTCOMES: dict[str, dict[str, tuple]] = {}
# that comparison reads OUTCOMES of this process: under xdist every test of the module runs
# in the worker of the Neo4j cases (tests/conftest.py)
pytestmark = pytest.mark.xdist_group("neo4j")


def _bad_offset(v: Variant, row: int) -> int:
    """Byte offset of the first undecodable byte of `row`, computed from the corpus bytes."""
    data = variant_bytes(v)["customers.csv"]
    start = data.index(v.raw_rows[row]) if row in v.raw_rows else None
    if start is None:  # a whole row written in the wrong encoding: find its first bad byte
        lines = data.split(b"\n")
        start = sum(len(x) + 1 for x in lines[:row])
        line = lines[row]
    else:
        line = v.raw_rows[row]
    try:
        line.decode(v.read_as[0].replace("-", "_"))
    except UnicodeDecodeError as exc:
        return start + exc.start
    raise AssertionError(f"row {row} of {v.name} decodes")


@pytest.mark.parametrize("v", VARIANTS, ids=[v.name for v in VARIANTS])
def test_dialect_variant(store, store_kind, tmp_path, v: Variant) -> None:
    assert {p.name: p.read_bytes() for p in (ROOT / v.name).iterdir()} == variant_bytes(v), (
        "corpus files differ from tests/loaders/dialect_corpus.py: regenerate them"
    )
    q = tmp_path / "q"
    if v.fails:
        with pytest.raises(UnreadableFile, match=v.fails) as info:
            load_folder(store, ROOT / v.name, quarantine_dir=q, **v.options)
        assert "customers.csv" in str(info.value)
        assert store.counts()["customers"] == 0
        OUTCOMES.setdefault(v.name, {})[store_kind] = ("fails", str(info.value).split(": ", 1)[1])
        return
    report = load_folder(store, ROOT / v.name, quarantine_dir=q, quarantine_raw=True, **v.options)

    cust = report.tables["customers"]
    assert cust.read == cust.loaded + cust.quarantined
    assert (cust.loaded, cust.quarantined) == (v.loaded, len(v.quarantined))
    d = report.dialects["customers"]
    assert (d.encoding, d.detected) == v.read_as
    assert d.delimiter == v.delimiter
    rel = report.tables["relations"]
    assert (rel.loaded, rel.quarantined) == (
        v.relations_loaded,
        sum(v.relations_quarantined.values()),
    )
    assert report.reasons.get("relations", {}) == v.relations_quarantined

    offsets = {}
    if v.quarantined:
        qc = pd.read_csv(q / "customers.quarantine.csv", dtype=str, keep_default_na=False)
        assert dict(zip(qc["row"].astype(int), qc["reason"], strict=True)) == v.quarantined
        for row, msg in zip(qc["row"].astype(int), qc["message"], strict=True):
            offsets[row] = _bad_offset(v, row)
            assert f"customers.csv row {row}:" in msg
            assert f"at byte offset {offsets[row]}" in msg

    stored = store.read_table("customers").to_pandas().set_index("customer_id").sort_index()
    expected = [r for r in v.customer_lines() if int(r[0][1:]) not in v.quarantined]
    assert list(stored.index) == [r[0] for r in expected]
    assert stored["name"].tolist() == [r[1] for r in expected]
    assert stored["city"].tolist() == [r[3] for r in expected]
    notes = stored["attributes"].map(lambda a: json.loads(a)["note"]).tolist()
    assert notes == [r[4] for r in expected]
    if v.relations_loaded:
        got = store.read_table("relations", ["src_id", "dst_id", "type"]).to_pylist()
        assert sorted((r["src_id"], r["dst_id"], r["type"]) for r in got) == sorted(
            r[:3] for r in RELATIONS
        )
    OUTCOMES.setdefault(v.name, {})[store_kind] = (
        cust.read,
        cust.loaded,
        tuple(sorted(v.quarantined.items())),
        tuple(sorted(offsets.items())),
        d.encoding,
        d.detected,
        d.delimiter,
        rel.loaded,
    )


def test_outcomes_identical_on_both_stores() -> None:
    """Runs after the variants (same module, pytest's order): every variant that ran on both
    stores came out the same on both."""
    both = {k: v for k, v in OUTCOMES.items() if len(v) == 2}
    for name, by_store in both.items():
        assert by_store["duckdb"] == by_store["neo4j"], name
    if len(both) != len(VARIANTS):
        pytest.skip(f"only {len(both)} of {len(VARIANTS)} variants ran on both stores")
