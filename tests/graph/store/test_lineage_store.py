"""Community lineage and memberships on both stores: written with the run, read back alike.

Why: a run's lineage (continue / split / merge / birth / death) is what `guanxi communities
diff` reports, and it must follow the run's crash-safety rule: invisible until the publish,
gone with the run when it never gets published. The lineage is computed by `graph.lineage`
on constructed partitions, written by each store and compared with what was computed; the
memberships are compared with the metrics written.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from graph.errors import RunNotFound
from graph.lineage import LINEAGE_COLUMNS, match_communities
from graph.model import SCHEMAS, RunInfo
from graph.store.lineage_rows import LINEAGE_FIELDS, typed_lineage

IDS = [f"C{i:02d}" for i in range(12)] + ["客户", "O'Brien"]
CATALOG = pd.DataFrame(
    {"tag_id": ["bridge"], "name_zh": ["桥梁"], "name_en": ["Bridge"], "category": ["social"]}
).assign(rule="test")


def _customers(store) -> None:
    schema = SCHEMAS["customers"]
    n = len(IDS)
    store.upsert_customers(
        pa.Table.from_arrays(
            [pa.array(IDS, pa.string())] + [pa.nulls(n, f.type) for f in list(schema)[1:]],
            schema=schema,
        )
    )


def _run(store, run_id: str, labels: list[str], lineage: pd.DataFrame, *, publish=True) -> None:
    n = len(IDS)
    metrics = pd.DataFrame(
        {
            "customer_id": pd.array(IDS, dtype="str"),
            "community_id": pd.array(labels, dtype="str"),
            "influence": np.linspace(0, 1, n),
        }
    )
    sizes = pd.Series(labels).value_counts()
    communities = pd.DataFrame(
        {"community_id": pd.array(sizes.index, dtype="str"), "size": sizes.to_numpy("int64")}
    )
    created = f"2026-01-0{run_id[-1]}T00:00:00+00:00"
    run = RunInfo(run_id, created, {"seed": 0}, {"customers": n}, {"n_vertices": n})
    store.write_run(run, metrics=metrics, communities=communities)
    store.write_lineage(run_id, lineage)
    assignments = pd.DataFrame({"customer_id": IDS[:2], "tag_id": "bridge", "score": 1.0})
    store.write_tags(run_id, assignments.assign(reason="r"), CATALOG)
    if publish:
        store.publish_run(run_id)


def _history():
    """Three runs' labels and lineage: births, then a split, then a merge and a death."""
    none = np.full(len(IDS), None, dtype=object)
    start = np.array([0] * 6 + [1] * 6 + [2] * 2)
    m1 = match_communities(none, start, threshold=0.3, next_number=0)
    labels1 = m1.labels[start].tolist()
    m2 = match_communities(
        np.array(labels1, dtype=object),
        np.array([0] * 3 + [1] * 3 + [2] * 6 + [3] * 2),
        threshold=0.3,
        next_number=m1.next_number,
    )
    labels2 = m2.labels[np.array([0] * 3 + [1] * 3 + [2] * 6 + [3] * 2)].tolist()
    m3 = match_communities(
        np.array(labels2, dtype=object),
        np.array([0] * 6 + [1] * 6 + [0, 1]),
        threshold=0.3,
        next_number=m2.next_number,
    )
    labels3 = m3.labels[np.array([0] * 6 + [1] * 6 + [0, 1])].tolist()
    return [(labels1, m1.lineage), (labels2, m2.lineage), (labels3, m3.lineage)]


def test_the_stores_restate_the_lineage_columns():
    assert LINEAGE_FIELDS == LINEAGE_COLUMNS


def test_lineage_and_memberships_read_back_as_written(store, store_kind):
    _customers(store)
    history = _history()
    assert {"split", "merge", "birth", "death", "continue"} <= {
        e for _, lin in history for e in lin["event"]
    }
    for i, (labels, lineage) in enumerate(history, start=1):
        _run(store, f"r{i}", labels, lineage)
    for i, (_, lineage) in enumerate(history, start=1):
        got = store.read_lineage(f"r{i}")
        pd.testing.assert_frame_equal(got, typed_lineage(lineage))
        assert got["from_ids"].map(type).eq(list).all()
    for i in (3, 2):  # the latest run and the one before it, on both stores
        labels = history[i - 1][0]
        got = store.read_membership(f"r{i}")
        assert got["customer_id"].tolist() == sorted(IDS)
        want = dict(zip(IDS, labels, strict=True))
        assert got["community_id"].tolist() == [want[c] for c in sorted(IDS)]
    if store_kind == "duckdb":
        assert store.read_membership("r1")["community_id"].notna().all()
    else:  # Neo4j keeps only the latest run's values and the previous run's prev_* copies
        with pytest.raises(RunNotFound, match="only those of the latest run"):
            store.read_membership("r1")
    with pytest.raises(RunNotFound):
        store.read_lineage("nope")


def test_a_crash_before_publish_leaves_no_lineage_visible(make_store, store_kind):
    store = make_store()
    _customers(store)
    history = _history()
    _run(store, "r1", *history[0])
    _run(store, "r2", *history[1], publish=False)  # killed before its publish
    store.close()
    store = make_store()  # a new process opens the store
    assert [r.run_id for r in store.list_runs()] == ["r1"]
    with pytest.raises(RunNotFound):
        store.read_lineage("r2")
    pd.testing.assert_frame_equal(store.read_lineage("r1"), typed_lineage(history[0][1]))
    # the next analyze removes what the dead one left, lineage included
    _run(store, "r3", *history[1])
    assert _raw_lineage_runs(store, store_kind) == ["r1", "r3"]


def _raw_lineage_runs(store, store_kind) -> list[str]:
    """Run ids that own lineage rows, read past the store's own API."""
    if store_kind == "duckdb":
        q = "SELECT DISTINCT run_id FROM community_lineage ORDER BY run_id"
        return [r[0] for r in store._cur().execute(q).fetchall()]
    with store._bolt.driver.session() as s:  # the raw driver, not a registered statement
        rows = s.run("MATCH (l:CommunityLineage) RETURN DISTINCT l.run_id AS r ORDER BY r")
        return [r["r"] for r in rows]


def _two_analyses(store, folder, tmp):
    """Load, analyze, add 1% relations, reload, analyze; the diff of the two runs."""
    from api import usecases
    from api.bench.community_churn import write_with_added_relations
    from loaders.generate import generate, write_dataset

    data = generate(600, seed=11)
    write_dataset(data, folder, fmt="csv")
    usecases.load(store, folder, quarantine_dir=tmp / "q")
    first = usecases.analyze(store, seed=3).run
    write_with_added_relations(data, folder, share=0.01, seed=12)
    usecases.load(store, folder, quarantine_dir=tmp / "q")
    second = usecases.analyze(store, seed=3).run
    diff = usecases.communities_diff(store, first.run_id, second.run_id, limit=1000)
    return {k: v for k, v in diff.items() if k not in ("from_run", "to_run")}


def test_analyze_twice_gives_the_same_diff_on_both_stores(store, store_kind, tmp_path):
    """The real write path (warm start read back, lineage written, the previous run's
    memberships kept) answers on each store what it answers on a fresh DuckDB file."""
    from graph.store.duckdb_store import DuckDBStore

    got = _two_analyses(store, tmp_path / "a", tmp_path)
    with DuckDBStore(tmp_path / "ref.duckdb") as ref:
        want = _two_analyses(ref, tmp_path / "b", tmp_path)
    assert got == want
    assert got["lineage_source"] == "stored" and got["customers_compared"] == 600
