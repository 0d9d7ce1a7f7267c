"""History: which tags each customer gained or lost between two runs."""

from __future__ import annotations

import pandas as pd


def diff_assignments(a: pd.DataFrame, b: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Compare the assignments of run A (before) with run B (after).

    Parameters
    ----------
    a, b
        Assignment tables with at least ``customer_id`` and ``tag_id``; scores and reasons
        are ignored (a changed score is not a change of tag).

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
    keys = ["customer_id", "tag_id"]
    left = a[keys].astype("str").drop_duplicates()
    right = b[keys].astype("str").drop_duplicates()
    m = left.merge(right, on=keys, how="outer", indicator=True)
    changed = m[m["_merge"] != "both"]
    per = pd.DataFrame(
        {
            "customer_id": changed["customer_id"].astype("str"),
            "tag_id": changed["tag_id"].astype("str"),
            "change": (changed["_merge"] == "right_only").map({True: "gained", False: "lost"}),
        }
    )
    per["change"] = per["change"].astype("str")
    per = per.sort_values(keys, kind="stable").reset_index(drop=True)
    gained = (per["change"] == "gained").astype("int64")
    totals = (
        pd.DataFrame({"tag_id": per["tag_id"], "gained": gained, "lost": 1 - gained})
        .groupby("tag_id", sort=True, as_index=False)[["gained", "lost"]]
        .sum()
    )
    totals["tag_id"] = totals["tag_id"].astype("str")
    return per, totals.astype({"gained": "int64", "lost": "int64"}).reset_index(drop=True)
