"""History: which tags each customer gained or lost between two runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from graph.arrays import member, unique

KEYS = ["customer_id", "tag_id"]


def _key_table(t: pa.Table | pd.DataFrame) -> pa.Table:
    """The (customer_id, tag_id) columns of an assignment table, as strings."""
    if isinstance(t, pd.DataFrame):
        t = pa.Table.from_pandas(t[KEYS], preserve_index=False)
    return pa.table({k: pc.cast(t.column(k), pa.string()) for k in KEYS})


def _codes(a: pa.ChunkedArray, b: pa.ChunkedArray) -> tuple[np.ndarray, np.ndarray, pa.Array]:
    """Integer codes of two string columns over one shared dictionary, and the dictionary."""
    both = pc.dictionary_encode(pa.chunked_array(a.chunks + b.chunks, pa.string()).combine_chunks())
    codes = both.indices.to_numpy(zero_copy_only=False).astype(np.int64)
    return codes[: len(a)], codes[len(a) :], both.dictionary


def diff_assignments(
    a: pa.Table | pd.DataFrame, b: pa.Table | pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Compare the assignments of run A (before) with run B (after).

    Each (customer, tag) pair becomes one integer (codes over a dictionary shared by both
    runs) and the sets are compared sorted, because at a million customers each run holds
    ~10M assignments: a pandas outer merge of two such runs, or a hash join on the two
    string columns, takes tens of seconds; sorted integer sets take a few.

    Parameters
    ----------
    a, b
        Assignment tables (Arrow or pandas) with at least ``customer_id`` and ``tag_id``;
        other columns (scores, reasons) are ignored: a changed score is not a change of tag.

    Returns
    -------
    per_customer : pandas.DataFrame
        ``customer_id, tag_id, change`` with change ``'gained'`` (in B, not in A) or
        ``'lost'`` (in A, not in B), sorted by customer, tag.
    totals : pandas.DataFrame
        ``tag_id, gained, lost`` for every tag that changed, sorted by tag.

    Examples
    --------
    >>> a = pd.DataFrame({"customer_id": ["c1", "c2"], "tag_id": ["x", "x"]})
    >>> b = pd.DataFrame({"customer_id": ["c1", "c1"], "tag_id": ["x", "y"]})
    >>> per, tot = diff_assignments(a, b)
    >>> per.values.tolist()
    [['c1', 'y', 'gained'], ['c2', 'x', 'lost']]
    """
    left, right = _key_table(a), _key_table(b)
    cust_a, cust_b, customers = _codes(left.column("customer_id"), right.column("customer_id"))
    tag_a, tag_b, tags = _codes(left.column("tag_id"), right.column("tag_id"))
    width = max(len(tags), 1)
    key_a, key_b = unique(cust_a * width + tag_a), unique(cust_b * width + tag_b)
    gained = key_b[~member(key_b, key_a)]
    lost = key_a[~member(key_a, key_b)]
    keys = np.concatenate([gained, lost])
    changed = pa.table(
        {
            "customer_id": customers.take(pa.array(keys // width)),
            "tag_id": tags.take(pa.array(keys % width)),
            "change": pa.array(["gained"] * len(gained) + ["lost"] * len(lost), pa.string()),
        }
    ).sort_by([(k, "ascending") for k in KEYS])
    per = changed.to_pandas()
    per = per.astype({"customer_id": "str", "tag_id": "str", "change": "str"})
    is_gained = pc.cast(pc.equal(changed.column("change"), "gained"), pa.int64())
    totals = (
        pa.table(
            {
                "tag_id": changed.column("tag_id"),
                "gained": is_gained,
                "lost": pc.subtract(1, is_gained),
            }
        )
        .group_by("tag_id", use_threads=False)
        .aggregate([("gained", "sum"), ("lost", "sum")])
        .select(["tag_id", "gained_sum", "lost_sum"])
        .rename_columns(["tag_id", "gained", "lost"])
        .sort_by("tag_id")
        .to_pandas()
    )
    totals["tag_id"] = totals["tag_id"].astype("str")
    return per, totals.astype({"gained": "int64", "lost": "int64"}).reset_index(drop=True)
