"""Hostile and Unicode customer ids through the loader, the analysis and every read, per store.

Why: ids come from bank files, not from our generator. CJK and emoji (including characters
outside the Basic Multilingual Plane, whose UTF-16 form is a surrogate pair), quotes,
backticks, backslashes, ``%`` and ``_`` (LIKE wildcards), a tab, Cypher and SQL fragments and
1,000-character ids must load, analyse and read back identically on DuckDB and Neo4j,
including the order of ties and the Neo4j store's chunked reads.

Trimming is the loader's: leading and trailing Unicode space separators (category ``Zs``:
U+0020, U+00A0, U+3000, ...) are removed from every text value, ids included, in every table;
a tab is not a space separator and is kept. The stored id is the trimmed one, and lookups are
exact (``get_customer(" A ")`` does not find ``"A"``). The reference here computes the trimmed
form with `unicodedata`, independently of DuckDB's ``trim``.
"""

from __future__ import annotations

import csv
import re
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from api import usecases
from graph.errors import CustomerNotFound
from graph.model import NATURAL_KEYS, TABLES
from graph.store.duckdb_store import DuckDBStore
from loaders.generate import generate
from loaders.ingest import load_folder, load_frames
from tests.graph.store.conftest import open_neo4j

SEED = 7
#: Ids given to generated customers (so they have relations, transactions and events).
HOSTILE = [
    "客户甲",
    "張三🙂",
    "😀",
    "👨‍👩‍👧",  # a ZWJ sequence
    "𠀀𠀁",  # CJK Extension B: outside the BMP
    "Ａ全角",  # full-width: U+FF21 sorts after a surrogate in UTF-16
    "\ue000私用",
    "O'Brien",
    'say "hi"',
    "`tick`",
    "back\\slash",
    "\\",
    "100%",
    "%",
    "_",
    "a_b",
    "tab\there",
    "\tlead-tab",
    "unit\x1fsep",  # the Neo4j store's key separator
    "x" * 1000,
    "客" * 1000,
    "😀" * 1000,  # 4,000 bytes of UTF-8, 2,000 UTF-16 code units
    "MATCH (n) DETACH DELETE n",
    "'); DROP TABLE customers; --",
    "$customer_id",
    "{{x}}",
    "a,b;c|d",
    "a?b#c&d=e",
    "é",  # NFC
    "e\u0301",  # NFD: looks the same, is another id
    "ß",
    "İ",
    "مرحبا",
    "  padded  ",
    "\u3000全角空格\u3000",
    "\u00a0nbsp\u00a0",
    "in side",
]
#: Customers in two groups of equal influence (the hub's spokes, and isolated customers), so
#: within a group only the id orders them. Each group mixes characters outside the BMP with
#: BMP characters from U+E000 up, whose order differs between code points and UTF-16.
TIES = ["z", "ｚ", "Ｚ", "😀z", "🙂", "\ue001", "𠀂", "~", "a", "\uffee", "ä", "\U0010fffd"]
SPOKES = TIES[:6]
HUB = "hub☆"
#: Hostile values of text columns that become tag ids (``interest:<topic>``) or key parts.
TOPICS = ["理财😀", 'it\'s "q" `b` \\ %_', "tab\tin", "𠀀"]


def stored(raw: str) -> str:
    """What the loader keeps of an id: leading/trailing space separators (Zs) removed."""
    i, j = 0, len(raw)
    while i < j and unicodedata.category(raw[i]) == "Zs":
        i += 1
    while j > i and unicodedata.category(raw[j - 1]) == "Zs":
        j -= 1
    return raw[i:j]


def _frames() -> dict[str, pd.DataFrame]:
    """A generated dataset whose first customers carry hostile ids, plus ties and a hub."""
    data = generate(90, seed=3)
    frames = {n: getattr(data, n).to_pandas() for n in TABLES}
    cust = frames["customers"]
    old = sorted(cust["customer_id"])[: len(HOSTILE)]
    mapping = dict(zip(old, HOSTILE, strict=True))
    for name, cols in {
        "customers": ["customer_id"],
        "relations": ["src_id", "dst_id"],
        "transactions": ["customer_id"],
        "events": ["customer_id"],
    }.items():
        for c in cols:
            frames[name][c] = frames[name][c].map(lambda v: mapping.get(v, v))
    template = cust.iloc[0]
    extra = pd.DataFrame([{**template.to_dict(), "customer_id": cid} for cid in [*TIES, HUB]])
    frames["customers"] = pd.concat([frames["customers"], extra], ignore_index=True)
    rel = frames["relations"].iloc[0]
    # the hub: one equal-weight relation to each tie customer and to some hostile ones
    spokes = [*SPOKES, *HOSTILE[:8], "  padded  ".strip()]
    hub_rels = pd.DataFrame(
        [
            {**rel.to_dict(), "src_id": HUB, "dst_id": s, "type": "transfer", "count": 1}
            for s in spokes
        ]
    )
    frames["relations"] = pd.concat([frames["relations"], hub_rels], ignore_index=True)
    ev = frames["events"]
    ev.loc[ev.index[: len(TOPICS) * 3], "topic"] = TOPICS * 3
    return frames


def _write_csv(frames: dict[str, pd.DataFrame], folder: Path) -> Path:
    """CSV files written with Python's csv module (quotes where needed), not our writer."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, df in frames.items():
        with (folder / f"{name}.csv").open("w", encoding="utf-8", newline="") as fh:
            w = csv.writer(fh)
            w.writerow(df.columns)
            for row in df.itertuples(index=False):
                w.writerow(["" if _missing(v) else _text(v) for v in row])
    return folder


def _missing(v) -> bool:
    return v is None or (isinstance(v, float) and np.isnan(v))


def _text(v) -> str:
    if isinstance(v, bool | np.bool_):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v)) if abs(v) < 1e15 else repr(v)
    return str(v)


EXPECTED_IDS = sorted({stored(c) for c in [*HOSTILE, *TIES, HUB]})


@pytest.fixture(scope="module")
def csv_dir(tmp_path_factory) -> Path:
    return _write_csv(_frames(), tmp_path_factory.mktemp("hostile_csv"))


@pytest.fixture(scope="module")
def reference(tmp_path_factory, csv_dir):
    """DuckDB, loaded from the CSV files and analysed: what every store must match."""
    path = tmp_path_factory.mktemp("hostile_ref") / "ref.duckdb"
    s = DuckDBStore(path)
    report = load_folder(s, csv_dir, quarantine_dir=path.parent / "q")
    run = usecases.analyze(s, seed=SEED).run
    yield {"store": s, "report": report, "run": run}
    s.close()


def _round_numbers(text: str) -> str:
    return re.sub(r"\d+(?:\.\d+)?", lambda m: f"{float(m.group()):.4g}", text)


def _sorted(t: pa.Table) -> pa.Table:
    return t.sort_by([(c, "ascending") for c in t.column_names])


# --------------------------------------------------------------------------- loading


def test_csv_and_dataframes_load_the_same_trimmed_ids(tmp_path, reference):
    report = reference["report"]
    assert report.quarantined == 0, report.reasons
    ref = reference["store"]
    for c in HOSTILE:
        assert stored(c) in set(ref.customer_ids().to_pylist())
    ids = ref.customer_ids().to_pylist()
    assert len(ids) == len(set(ids)) == 90 + len(TIES) + 1
    assert set(EXPECTED_IDS) <= set(ids)
    assert {c for c in HOSTILE if c != stored(c)}.isdisjoint(ids)  # padded forms are gone
    assert "tab\there" in ids and "\tlead-tab" in ids  # a tab is kept
    s = DuckDBStore(tmp_path / "frames.duckdb")
    try:
        got = load_frames(s, _frames(), quarantine_dir=tmp_path / "q")
        assert got.as_dict()["tables"] == report.as_dict()["tables"]
        for name in TABLES:
            assert _sorted(s.read_table(name)).equals(_sorted(ref.read_table(name))), name
    finally:
        s.close()


def test_load_counts_and_tables_match_reference(store, csv_dir, tmp_path, reference):
    report = load_folder(store, csv_dir, quarantine_dir=tmp_path / "q")
    assert report.as_dict()["tables"] == reference["report"].as_dict()["tables"]
    ref = reference["store"]
    assert store.counts() == ref.counts()
    assert sorted(store.customer_ids().to_pylist()) == sorted(ref.customer_ids().to_pylist())
    for name in TABLES:
        assert _sorted(store.read_table(name)).equals(_sorted(ref.read_table(name))), name


@pytest.mark.neo4j
def test_neo4j_chunked_reads_with_hostile_ids(neo4j_server, csv_dir, tmp_path, reference):
    """Cut at every size from 1 customer up: each row read exactly once, whatever the ids."""
    store = open_neo4j(neo4j_server)
    try:
        store.clear()
        load_folder(store, csv_dir, quarantine_dir=tmp_path / "q")
        _check_chunked_reads(store, reference["store"])
    finally:
        store.close()


def _check_chunked_reads(store, ref) -> None:
    want = {name: _sorted(ref.read_table(name)) for name in TABLES}
    n = store.counts()["customers"]
    for chunk in (1, 2, 3, 7, 50, n - 1, n, n + 1):
        store.read_chunk = chunk
        bounds = store._chunk_bounds()
        # cuts where code point and UTF-16 order disagree are merged away, never added
        assert len(bounds) <= -(-n // chunk)
        his = [hi for _, hi in bounds[:-1]]
        assert his == sorted(his) == sorted(his, key=lambda t: t.encode("utf-16-be"))
        for name in TABLES:
            got = store.read_table(name)
            assert got.num_rows == want[name].num_rows, (name, chunk)
            assert _sorted(got).equals(want[name]), (name, chunk)
            keys = got.select(list(NATURAL_KEYS[name])).to_pylist()
            assert len({tuple(k.values()) for k in keys}) == got.num_rows, (name, chunk)


# --------------------------------------------------------------------------- analysis and reads


@pytest.fixture
def analysed(store, csv_dir, tmp_path):
    load_folder(store, csv_dir, quarantine_dir=tmp_path / "q")
    return store, usecases.analyze(store, seed=SEED).run


def _strip(df: pd.DataFrame) -> pd.DataFrame:
    df = df.drop(columns=[c for c in ("run_id",) if c in df.columns]).reset_index(drop=True)
    if "reason" in df.columns:
        df["reason"] = df["reason"].map(_round_numbers)
    return df


def test_reads_with_hostile_ids_match_reference(analysed, reference):
    store, run = analysed
    ref, ref_run = reference["store"], reference["run"]
    ids = [stored(c) for c in HOSTILE]

    for cid in [*ids, *TIES, HUB]:
        a, b = store.get_customer(cid), ref.get_customer(cid)
        assert a["customer_id"] == b["customer_id"] == cid
        assert {k: str(v) for k, v in a.items()} == {k: str(v) for k, v in b.items()}, cid
        pd.testing.assert_frame_equal(
            _strip(store.read_tags(run.run_id, customer_id=cid)),
            _strip(ref.read_tags(ref_run.run_id, customer_id=cid)),
            check_exact=False,
        )
    for raw in HOSTILE:
        if raw != stored(raw):
            with pytest.raises(CustomerNotFound):
                store.get_customer(raw)  # lookups are exact: the padded form is not an id
    for missing in ("x" * 999, "客" * 1001, "é".upper(), "%%", "_" * 2, "😀😀", ""):
        with pytest.raises(CustomerNotFound):
            store.get_customer(missing)

    ma = store.read_metrics(run.run_id, customer_ids=[*ids, "no such id"])
    mb = ref.read_metrics(ref_run.run_id, customer_ids=[*ids, "no such id"])
    assert sorted(ma["customer_id"]) == sorted(ids)
    pd.testing.assert_frame_equal(
        ma.sort_values("customer_id").reset_index(drop=True),
        mb.sort_values("customer_id").reset_index(drop=True),
        check_exact=False,
        atol=1e-9,
        rtol=0,
    )
    full_a = store.read_metrics(run.run_id)
    full_b = ref.read_metrics(ref_run.run_id)
    assert sorted(full_a["customer_id"]) == sorted(full_b["customer_id"])


def test_orderings_with_ties_match_reference(analysed, reference):
    """Influencers, tags and ego networks sort ties by id the same way on every store."""
    store, run = analysed
    ref, ref_run = reference["store"], reference["run"]
    n = store.counts()["customers"]
    a = store.top_influencers(run.run_id, limit=n)
    b = ref.top_influencers(ref_run.run_id, limit=n)
    # the spokes share one influence and the isolated customers another: only the id orders
    # the customers within each group
    ties = b[b["customer_id"].isin(TIES)].groupby("influence")["customer_id"].apply(set)
    assert {frozenset(g) for g in ties} == {frozenset(SPOKES), frozenset(TIES) - set(SPOKES)}
    assert a["customer_id"].tolist() == b["customer_id"].tolist()
    assert b["customer_id"].tolist() == _by_influence_then_id(b)
    for offset, limit in ((0, 5), (len(b) - len(TIES) - 3, 7), (len(b) - 4, 10)):
        pa_ = store.top_influencers(run.run_id, limit=limit, offset=offset)
        pb = ref.top_influencers(ref_run.run_id, limit=limit, offset=offset)
        assert pa_["customer_id"].tolist() == pb["customer_id"].tolist(), (offset, limit)

    ta = _strip(store.read_tags(run.run_id))
    tb = _strip(ref.read_tags(ref_run.run_id))
    pd.testing.assert_frame_equal(ta, tb, check_exact=False)
    topic_tags = sorted(t for t in tb["tag_id"].unique() if t.startswith("interest:"))
    assert {f"interest:{t}" for t in TOPICS} & set(topic_tags)
    for tag in topic_tags:
        pd.testing.assert_frame_equal(
            _strip(store.read_tags(run.run_id, tag_id=tag, limit=3, offset=1)),
            _strip(ref.read_tags(ref_run.run_id, tag_id=tag, limit=3, offset=1)),
            check_exact=False,
            check_dtype=False,  # an empty page: object on DuckDB, str on Neo4j
        )

    for tag in topic_tags:
        pa_ = store.top_influencers(run.run_id, limit=4, offset=1, tag_id=tag)
        pb = ref.top_influencers(ref_run.run_id, limit=4, offset=1, tag_id=tag)
        assert pa_["customer_id"].tolist() == pb["customer_id"].tolist(), tag
    # tag ids with emoji, quotes, backslashes and a tab work in segments (spaces cannot:
    # they separate the words of a segment)
    words = [t for t in topic_tags if " " not in t]
    assert len(words) >= 2
    for expr in (f"{words[0]} OR NOT {words[1]}", " AND ".join(words), f"NOT ({words[0]})"):
        sa, sb = usecases.segment(store, expr)[1], usecases.segment(ref, expr)[1]
        assert sa == sb == sorted(sb), expr

    for hops in (1, 2):
        for limit in (3, 8, 40):
            ea = store.ego_network(HUB, hops=hops, limit=limit)
            eb = ref.ego_network(HUB, hops=hops, limit=limit)
            pd.testing.assert_frame_equal(ea.nodes, eb.nodes, check_dtype=False)
            pd.testing.assert_frame_equal(ea.edges, eb.edges, check_dtype=False)
    for cid in (stored(c) for c in HOSTILE[:10]):
        ea, eb = store.ego_network(cid, hops=2, limit=15), ref.ego_network(cid, hops=2, limit=15)
        pd.testing.assert_frame_equal(ea.nodes, eb.nodes, check_dtype=False)
        pd.testing.assert_frame_equal(ea.edges, eb.edges, check_dtype=False)


def _by_influence_then_id(df: pd.DataFrame) -> list[str]:
    """Python's order: influence descending, then the id by code point (UTF-8 byte order)."""
    rows = sorted(zip(df["influence"], df["customer_id"], strict=True), key=lambda r: (-r[0], r[1]))
    return [cid for _, cid in rows]


def test_separator_inside_key_values_keeps_rows_distinct(store, tmp_path):
    """Rows whose natural keys differ only in where a control character falls stay two rows.

    The Neo4j store joins key columns with U+001F; unescaped, ``("d\x1fvX", "t")`` and
    ``("d", "X\x1fvt")`` made one key and the second event was silently dropped.
    """
    ts = "2025-01-01T00:00:00"
    frames = {
        "customers": pd.DataFrame({"customer_id": ["A", "B\x1fvC"]}),
        "relations": pd.DataFrame(
            {"src_id": ["A"], "dst_id": ["B\x1fvC"], "type": ["transfer"], "occurred_at": [ts]}
        ),
        "transactions": pd.DataFrame(
            {
                "customer_id": ["A", "A"],
                "occurred_at": [ts, ts],
                "amount": ["1", "1"],
                "category": ["c\x1fvb", "c"],
                "brand": ["x", "b\x1fvx"],
            }
        ),
        "events": pd.DataFrame(
            {
                "customer_id": ["A", "A", "A"],
                "occurred_at": [ts] * 3,
                "event_type": ["login"] * 3,
                "device_id": ["d\x1fvX", "d", "d\x1f\x1fvX"],
                "topic": ["t", "X\x1fvt", "t"],
            }
        ),
    }
    want = {"customers": 2, "relations": 1, "transactions": 2, "events": 3}
    report = load_frames(store, frames, quarantine_dir=tmp_path / "q")
    assert {n: t["inserted"] for n, t in report.as_dict()["tables"].items()} == want
    assert store.counts() == want
    load_frames(store, frames, quarantine_dir=tmp_path / "q")  # a reload adds nothing
    assert store.counts() == want
    got = store.read_table("events").select(["device_id", "topic"]).to_pylist()
    assert sorted((r["device_id"], r["topic"]) for r in got) == sorted(
        zip(frames["events"]["device_id"], frames["events"]["topic"], strict=True)
    )
