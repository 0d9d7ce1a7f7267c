"""The in-memory tag index against a pandas reference, over random assignments in batches."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from api.http.readmodel.tag_index import build_tag_index

CATALOG = ["vip", "bridge", "churn_risk", "family"]  # catalog order is not name order


def _assignments(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 600
    return pd.DataFrame(
        {
            # C000..C079 have metrics; X... do not (dropped); some customers hold nothing
            "customer_id": [f"C{i:03d}" if i < 80 else f"X{i}" for i in rng.integers(0, 90, n)],
            # "legacy" and "aaa" are missing from the catalog: they get codes after it
            "tag_id": rng.choice([*CATALOG, "legacy", "aaa"], n),
            # few distinct scores, so ties are ordered by tag id
            "score": rng.choice([0.25, 0.5, 1.0], n),
            "reason": rng.choice(["a shared reason", "另一个理由", None], n),
        }
    ).drop_duplicates(["customer_id", "tag_id"])


def _batches(df: pd.DataFrame, size: int) -> list[pa.RecordBatch]:
    table = pa.Table.from_pandas(df, preserve_index=False)
    return table.to_batches(max_chunksize=size)


@pytest.mark.parametrize(("seed", "batch"), [(1, 1000), (2, 37), (3, 1)])
def test_tag_index_matches_pandas(seed, batch):
    df = _assignments(seed)
    ids = pd.Index([f"C{i:03d}" for i in range(80)][::-1])  # metrics rows not in id order
    index = build_tag_index(_batches(df, batch), ids, CATALOG)
    ref = df[df["customer_id"].isin(ids)].assign(reason=lambda d: d["reason"].fillna(""))
    ref = ref.sort_values(["customer_id", "score", "tag_id"], ascending=[True, False, True])
    for row, cid in enumerate(ids):
        mine = ref[ref["customer_id"] == cid]
        expected = [
            {"tag_id": t, "score": s, "reason": r}
            for t, s, r in zip(mine["tag_id"], mine["score"], mine["reason"], strict=True)
        ]
        assert index.tags_of(row) == expected, cid
        held = set(mine["tag_id"])
        assert index.catalog_tags_of(row) == [t for t in CATALOG if t in held], cid
    for tag in [*CATALOG, "legacy", "aaa", "unknown"]:
        holders = ref.loc[ref["tag_id"] == tag, "customer_id"]
        assert index.holders(tag).tolist() == sorted(ids.get_indexer(holders).tolist()), tag
    assert len(index.rows_of()) == len(index.codes) == len(ref)
    assert index.names[: len(CATALOG)] == CATALOG


def test_empty_run():
    index = build_tag_index([], pd.Index(["C1", "C2"]), CATALOG)
    assert index.tags_of(0) == index.tags_of(1) == []
    assert index.catalog_tags_of(1) == []
    assert index.holders("vip").tolist() == []
