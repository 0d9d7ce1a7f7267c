"""One tie rule for the influencer ranking: both stores and the read model agree on ties.

Why: a ranking is read page by page from three places (the DuckDB store, the Neo4j store,
the API's read model), so customers with equal influence must come in one order everywhere,
or a page boundary inside a tie shows a customer twice or never. The rule is
`graph.ranking`'s: influence descending, then customer id ascending by code point. The run
here is written by hand with very many tied values and ids whose code-point and UTF-16
orders differ (characters outside the BMP beside full-width forms), and every answer is
compared with a plain Python sort, not with another store.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from api.http.readmodel.run_cache import RunCache
from graph.model import SCHEMAS, RunInfo
from graph.ranking import influence_ranking

# ids whose order differs between code point and UTF-16 (𠀀, 😀 vs Ａ, \ue000), plus plain ones
ODD = ["𠀀a", "😀", "Ａ", "\ue000x", "客户", "Z", "a", "_", "%", "O'Brien", "tab\tx", "\\"]
IDS = ODD + [f"C{i:03d}" for i in range(90)] + [f"c{i:02d}" for i in range(20)]
LEVELS = np.array([0.75, 0.5, 0.5, 0.25, 1 / 3, 0.0])


def _run_frames() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(16)
    n = len(IDS)
    influence = LEVELS[rng.integers(0, len(LEVELS), n)]
    metrics = pd.DataFrame(
        {
            "customer_id": pd.array(IDS, dtype="str"),
            "community_id": pd.array([str(i % 3) for i in range(n)], dtype="str"),
            "influence": influence,
            "pagerank": rng.random(n),
        }
    )
    communities = pd.DataFrame(
        {
            "community_id": pd.array(["0", "1", "2"], dtype="str"),
            "size": np.bincount(np.arange(n) % 3).astype("int64"),
        }
    )
    tagged = metrics["customer_id"][::2]
    assignments = pd.DataFrame(
        {"customer_id": tagged, "tag_id": "bridge", "score": 1.0, "reason": "r"}
    ).reset_index(drop=True)
    return metrics, communities, assignments


def _reference(metrics: pd.DataFrame, mask: np.ndarray | None = None) -> list[str]:
    rows = [
        (-float(i), c)
        for k, (c, i) in enumerate(zip(metrics["customer_id"], metrics["influence"], strict=True))
        if mask is None or mask[k]
    ]
    return [c for _, c in sorted(rows)]


@pytest.fixture
def tied_run(store):
    metrics, communities, assignments = _run_frames()
    schema = SCHEMAS["customers"]
    n = len(IDS)
    customers = pa.Table.from_arrays(
        [pa.array(IDS, pa.string())] + [pa.nulls(n, f.type) for f in list(schema)[1:]],
        schema=schema,
    )
    store.upsert_customers(customers)
    run = RunInfo("ties", "2026-01-01T00:00:00+00:00", {"seed": 0}, {"customers": n}, {})
    store.write_run(run, metrics=metrics, communities=communities)
    catalog = pd.DataFrame(
        {
            "tag_id": ["bridge"],
            "name_zh": ["桥梁客户"],
            "name_en": ["Bridge"],
            "category": ["social"],
            "rule": ["test"],
        }
    )
    store.write_tags(run.run_id, assignments, catalog)
    store.publish_run(run.run_id)
    return store, run, metrics, assignments


def test_ties_break_by_customer_id_in_both_stores_and_the_read_model(tied_run):
    store, run, metrics, assignments = tied_run
    n = len(IDS)
    assert metrics["influence"].duplicated().sum() > n - len(LEVELS)  # nearly all tied
    want = _reference(metrics)

    got = store.top_influencers(run.run_id, limit=n)["customer_id"].tolist()
    assert got == want
    # pages that cut through ties, read one after the other, give the same order
    pages = [
        store.top_influencers(run.run_id, limit=7, offset=o)["customer_id"].tolist()
        for o in range(0, n, 7)
    ]
    assert [c for p in pages for c in p] == want

    in_community = (metrics["community_id"] == "1").to_numpy()
    got = store.top_influencers(run.run_id, limit=n, community_id="1")["customer_id"].tolist()
    assert got == _reference(metrics, in_community)
    tagged = metrics["customer_id"].isin(assignments["customer_id"]).to_numpy()
    got = store.top_influencers(run.run_id, limit=n, tag_id="bridge")["customer_id"].tolist()
    assert got == _reference(metrics, tagged)

    cache = RunCache.read(store, run)
    assert [str(cache.ids[r]) for r in cache.ranking] == want


def test_numpy_rule_matches_a_python_sort_in_any_row_order():
    metrics, _, _ = _run_frames()
    rng = np.random.default_rng(3)
    for _ in range(5):
        shuffled = metrics.iloc[rng.permutation(len(metrics))].reset_index(drop=True)
        order = influence_ranking(shuffled["influence"].to_numpy(), shuffled["customer_id"])
        assert shuffled["customer_id"].iloc[order].tolist() == _reference(metrics)
    # a missing value ranks last, and no influence column means id order
    infl = np.array([np.nan, 0.5, 0.5])
    assert influence_ranking(infl, ["a", "c", "b"]).tolist() == [2, 1, 0]
    assert influence_ranking(None, ["b", "😀", "Ａ"]).tolist() == [0, 2, 1]
