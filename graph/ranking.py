"""The influencer ranking's one order, for every place that ranks: the stores and the read model.

A ranking is shown page by page, and the pages of one store must not disagree with the pages
the API serves from its read model, so ties need one rule, written here once:

1. influence, highest first; a customer without an influence value comes last;
2. then customer id, ascending by Unicode code point (Python's string order, DuckDB's
   VARCHAR order and Cypher's ``ORDER BY`` on a stored string all agree on it).

`influence_ranking` is the numpy implementation (the read model ranks a run's metrics in
memory); `sql_influence_order` and `cypher_influence_order` render the same rule as the
``ORDER BY`` of the DuckDB and the Neo4j store.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["cypher_influence_order", "influence_ranking", "sql_influence_order"]


def influence_ranking(influence: np.ndarray | None, customer_ids: Sequence[str]) -> np.ndarray:
    """Row positions strongest influence first, ties by customer id (code point), missing last.

    Parameters
    ----------
    influence
        One value per row (NaN or None: no value), or None when the run has no influence
        column (then the order is by customer id alone).
    customer_ids
        The rows' customer ids, in row order.

    Returns
    -------
    numpy.ndarray
        int64 row positions, first ranked first.

    Examples
    --------
    >>> influence_ranking(np.array([0.5, 0.9, 0.5, np.nan]), ["b", "z", "a", "c"]).tolist()
    [1, 2, 0, 3]
    """
    ids = pd.Index(customer_ids, dtype=object)
    n = len(ids)
    if influence is None:
        key = np.zeros(n)
    else:
        key = -pd.to_numeric(pd.Series(influence), errors="coerce").to_numpy(dtype=np.float64)
    # a stable sort keeps row order among equal keys: enough when rows are already by id
    if ids.is_monotonic_increasing:
        order = np.argsort(key, kind="stable")
    else:
        id_rank = np.argsort(np.argsort(ids.to_numpy(dtype=object), kind="stable"), kind="stable")
        order = np.lexsort((id_rank, key))
    return order.astype(np.int64)


def sql_influence_order(*, influence: str, customer_id: str) -> str:
    """The rule as a SQL ``ORDER BY`` list (DuckDB compares VARCHAR by code point)."""
    return f"{influence} DESC NULLS LAST, {customer_id} ASC"


def cypher_influence_order(*, influence: str, customer_id: str) -> str:
    """The rule as a Cypher ``ORDER BY`` list.

    Cypher sorts null above every number, so a descending sort would put customers without a
    value first; the leading ``IS NULL`` key puts them last, as the rule says.
    """
    return f"{influence} IS NULL, {influence} DESC, {customer_id} ASC"
