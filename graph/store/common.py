"""What both stores do the same way, written once: read checks and ego-network assembly.

A store renders its own queries, but the rules around them are the contract's, not the
store's: which table columns exist, which bounds a page or a neighbourhood takes, how a
blank PII column name is refused, and how neighbour rows become the `EgoNetwork` frames
(hop bookkeeping, the second hop filling up to `limit`, the edge order, the metrics merge).
Keeping them here is what keeps the two stores' answers equal (tests/graph/store).
The influencer order lives in `graph.ranking`, which the read model shares too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pandas as pd

from graph.errors import ConfigError, RunNotFound
from graph.model import SCHEMAS, TABLES
from graph.store.base import EgoNetwork, RunRepository

__all__ = [
    "assemble_ego_network",
    "checked_columns",
    "checked_ego_bounds",
    "checked_page",
    "checked_pii_columns",
]

#: Order of an ego network's edges: strongest first, then by endpoints and type (code point).
EDGE_ORDER = (["weight", "src_id", "dst_id", "type"], [False, True, True, True])


def checked_pii_columns(columns: Sequence[str]) -> list[str]:
    """Column names to declare PII, stripped; both stores check them the same way.

    Raises
    ------
    ConfigError
        A name is not a string or is blank (a stray comma in ``--pii-columns a,,b``).
    """
    if isinstance(columns, str):
        raise ConfigError(f"PII columns must be a list of names, not the string {columns!r}")
    out = []
    for c in columns:
        if not isinstance(c, str) or not c.strip():
            raise ConfigError(f"PII column name {c!r} is blank or not a string; name a column")
        out.append(c.strip())
    return out


def checked_columns(name: str, columns: Sequence[str] | None) -> list[str]:
    """The columns of input table `name` to read (all of them when `columns` is empty).

    Raises
    ------
    ValueError
        `name` is not an input table, or a column is not one of its columns (a caller's
        mistake, not a data problem).
    """
    if name not in TABLES:
        raise ValueError(f"unknown table {name!r}; input tables are {list(TABLES)}")
    allowed = SCHEMAS[name].names
    cols = list(columns) if columns else list(allowed)
    bad = [c for c in cols if c not in allowed]
    if bad:
        raise ValueError(f"unknown column(s) {bad} for {name}")
    return cols


def checked_page(*, limit: int | None, offset: int) -> None:
    """Refuse a negative page size or offset (a query would fail or read from the end).

    Raises
    ------
    ValueError
    """
    if (limit is not None and int(limit) < 0) or int(offset) < 0:
        raise ValueError(f"limit {limit!r} and offset {offset!r} must not be negative")


def checked_ego_bounds(*, hops: int, limit: int) -> None:
    """Refuse a neighbourhood the stores do not compute: `hops` 1 or 2, `limit` at least 1.

    Raises
    ------
    ValueError
    """
    if int(hops) not in (1, 2):
        raise ValueError(f"hops {hops!r} must be 1 or 2")
    if int(limit) < 1:
        raise ValueError(f"limit {limit!r} must be at least 1")


def assemble_ego_network(
    customer_id: str,
    *,
    hops: int,
    limit: int,
    first_hop: Callable[[str, int], list[str]],
    second_hop: Callable[[list[str], list[str], int], list[str]],
    edges_among: Callable[[list[str]], pd.DataFrame],
    runs: RunRepository,
) -> EgoNetwork:
    """A customer's neighbourhood from a store's neighbour queries, the same for every store.

    Parameters
    ----------
    customer_id
        The centre (the store has checked that it exists).
    hops, limit
        Checked with :func:`checked_ego_bounds`; at most `limit` customers besides the centre.
    first_hop
        ``(customer_id, limit) -> ids``: neighbours by summed interaction count, strongest
        first, ties by id.
    second_hop
        ``(frontier, exclude, limit) -> ids``: neighbours of the frontier not in `exclude`,
        in the same order; asked only while the first hop left room.
    edges_among
        ``ids -> frame`` of src_id, dst_id, type, interactions, weight between those ids.
    runs
        The store's run repository: nodes carry community and influence of its latest
        complete run, or none when it holds no run.

    Returns
    -------
    EgoNetwork
        Nodes in hop order (centre, first hop, second hop) and edges strongest first,
        ties by src_id, dst_id and type by code point.
    """
    checked_ego_bounds(hops=hops, limit=limit)
    others = first_hop(customer_id, int(limit))
    ids = [customer_id, *others]
    hop = {customer_id: 0, **{c: 1 for c in others}}
    if hops >= 2 and len(ids) < limit + 1:
        second = second_hop(ids[1:], ids, int(limit) + 1 - len(ids))
        hop.update({c: 2 for c in second})
        ids += second
    edges = edges_among(ids)
    # sorted here, by code point, whatever order the query engine compared ids in
    edges = edges.sort_values(
        EDGE_ORDER[0], ascending=EDGE_ORDER[1], kind="stable", ignore_index=True
    )
    nodes = pd.DataFrame({"customer_id": ids, "hop": [hop[c] for c in ids]})
    try:
        complete = runs.list_runs()
        metrics = runs.read_metrics(complete[0].run_id, customer_ids=ids) if complete else None
    except RunNotFound:
        metrics = None
    if metrics is None:
        nodes = nodes.assign(community_id=None, influence=None)
    else:
        nodes = nodes.merge(
            metrics[["customer_id", "community_id", "influence"]], on="customer_id", how="left"
        )
    return EgoNetwork(nodes=nodes, edges=edges)
