"""The local engine's work inside the DuckDB store equals the same work in memory.

The projection numbers the relations' ends in a store join, and `features_from_sql` runs
`compute_features`' statements on the store's own tables (the fact tables never come into
memory); the references are the engine's path for a store without SQL (tables read and
numbered in Arrow) and `compute_features` on the same tables read whole.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
import pytest

from api import usecases
from api.engines.local import LocalEngine, project_graph
from graph.build import edge_arrays, edge_interactions
from graph.params import AnalysisParams
from graph.store import open_store
from tagging.feature_compute import FEATURE_INPUTS, compute_features, features_from_sql

# sums of many amounts: DuckDB's parallel aggregation may add them in another order
_SUMS = ("monetary", "avg_amount")


class _TablesOnly:
    """The store seen through its table reads only (as a store without SQL is)."""

    def __init__(self, store) -> None:
        self._store = store

    def read_table(self, name, columns=None):
        return self._store.read_table(name, columns)

    def customer_ids(self):
        return self._store.customer_ids()


@pytest.fixture(scope="module")
def store_run(analysed_store_uri):
    with open_store(analysed_store_uri) as st:
        run = usecases.latest_run(st)
        yield st, st.read_metrics(run.run_id), datetime.fromisoformat(run.params["as_of"])


def _assert_same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    assert list(a.columns) == list(b.columns)
    assert a.dtypes.to_dict() == b.dtypes.to_dict()
    exact = [c for c in a.columns if c not in _SUMS]
    pd.testing.assert_frame_equal(a[exact], b[exact], check_exact=True)
    for c in _SUMS:
        np.testing.assert_allclose(b[c].to_numpy(), a[c].to_numpy(), rtol=1e-12, err_msg=c)


def test_features_aggregated_in_the_store_equal_the_in_memory_ones(store_run):
    st, metrics, as_of = store_run
    ref = compute_features(
        st.read_table("customers"),
        st.read_table("transactions"),
        st.read_table("events"),
        metrics,
        as_of=as_of,
        relations=st.read_table("relations"),
    )
    got = features_from_sql(st.select_arrow, metrics, as_of=as_of)
    assert len(got) == st.counts()["customers"]
    assert any(c.startswith("category_share:") for c in got.columns)
    assert got["family_links"].max() > 0 and got["shared_device_customers"].max() > 0
    _assert_same(ref, got)
    # without as_of both take the latest timestamp in the data
    _assert_same(
        compute_features(
            st.read_table("customers"),
            st.read_table("transactions"),
            st.read_table("events"),
            metrics,
            relations=st.read_table("relations"),
        ),
        features_from_sql(st.select_arrow, metrics),
    )


def test_the_local_engine_reads_only_the_feature_columns_of_a_store_without_sql(store_run):
    st, metrics, as_of = store_run
    in_store = LocalEngine().features(st, metrics, as_of=as_of)
    read = LocalEngine().features(_TablesOnly(st), metrics, as_of=as_of.isoformat())
    _assert_same(read, in_store)
    assert "attributes" not in FEATURE_INPUTS["transactions"]


def test_features_aggregated_while_the_graph_is_measured_are_the_same(store_run, monkeypatch):
    """The projection starts the fact aggregates on a thread; the features built on them
    equal those of an engine that aggregates only when asked, and aggregates of another
    reference time are let go rather than used."""
    from tagging import feature_compute

    st, metrics, _ = store_run
    calls = []
    aggregate = feature_compute.aggregate_from_sql
    monkeypatch.setattr(
        feature_compute,
        "aggregate_from_sql",
        lambda *a, **k: calls.append(k["as_of"]) or aggregate(*a, **k),
    )
    eng = LocalEngine()
    as_of = eng.project(st, AnalysisParams(seed=1)).params.as_of
    assert len(calls) == 1  # started by the projection (this store fits in memory)
    got = eng.features(st, metrics, as_of=as_of)
    _assert_same(features_from_sql(st.select_arrow, metrics, as_of=as_of), got)

    eng.project(st, AnalysisParams(seed=1))
    earlier = as_of - pd.Timedelta(days=30)
    got = eng.features(st, metrics, as_of=earlier)
    assert len(calls) == 2  # the second projection's aggregates (at as_of) went unused
    want = features_from_sql(st.select_arrow, metrics, as_of=earlier)
    _assert_same(want, got)
    at_as_of = features_from_sql(st.select_arrow, metrics, as_of=as_of)
    assert not want["recency_days"].equals(at_as_of["recency_days"])  # the two do differ


def test_the_store_numbered_projection_is_the_same_graph(store_run):
    st = store_run[0]
    params = AnalysisParams(seed=1)
    got = project_graph(st, params)
    ref = project_graph(_TablesOnly(st), params)
    assert got.params == ref.params and got.params.as_of is not None
    g, r = got.graph, ref.graph
    assert (g.ids == r.ids).all() and g.stats == r.stats
    assert g.stats["relations_used"] > 0
    for a, b in ((g.graph, r.graph), (g.referral, r.referral), (g.undirected(), r.undirected())):
        for x, y in zip(edge_arrays(a), edge_arrays(b), strict=True):
            np.testing.assert_array_equal(x, y)  # bit for bit: the same sums in the same order
        np.testing.assert_array_equal(edge_interactions(a), edge_interactions(b))


def test_tags_rendered_in_chunks_are_stored_as_in_one_piece(
    analysed_store_uri, tmp_path, monkeypatch
):
    """Re-tagging the run 300 customers at a time (assignments spooled to Parquet, which
    DuckDB reads) stores the very rows and catalog of analyze's one-piece tagging."""
    import shutil
    from pathlib import Path

    from api.engines import local

    copy = tmp_path / "store.duckdb"
    shutil.copy(Path(analysed_store_uri.removeprefix("duckdb:///")), copy)
    rows = "SELECT customer_id, tag_id, score, reason FROM tag_assignments ORDER BY ALL"
    catalog = "SELECT * EXCLUDE (run_id) FROM tag_catalog ORDER BY tag_id"
    spooled = []
    write = local.SpooledAssignments.write
    with open_store(f"duckdb:///{copy}") as st:
        before = st.select_arrow(rows), st.select_arrow(catalog)
        run = usecases.latest_run(st)
        monkeypatch.setattr(local, "TAG_CHUNK_CUSTOMERS", 300)
        monkeypatch.setattr(
            local.SpooledAssignments,
            "write",
            classmethod(lambda cls, chunks: spooled.append(write(chunks)) or spooled[-1]),
        )
        usecases.tag_run(st, run, st.read_metrics(run.run_id))
        after = st.select_arrow(rows), st.select_arrow(catalog)
    assert len(spooled) == 1 and spooled[0].rows == before[0].num_rows > 2000
    assert not spooled[0].path.exists()  # the spool is removed once the store has read it
    assert after[0].equals(before[0])
    assert after[1].equals(before[1])
