"""Referral campaign history: who invited whom, in which campaign, and who converted.

The history is campaign-operations data beside the four graph tables: one row per
invitation (an *exposure*), ``campaign_id, inviter_id, invitee_id, invited_at, converted_at``
(``converted_at`` empty when the invitee did not convert). Planners learn activation
probabilities from it (:mod:`graph.activation`), so the plan's Independent Cascade runs on
what customers actually did rather than on a fixed mapping of tie weight.

:func:`simulate_history` makes such a history for generated data, from hidden true
probabilities it returns beside it, so the learning can be scored against the truth: each
campaign seeds a few customers, every converted customer invites all the customers they
interact with, and each invitation converts with its hidden probability. The true
probability of a tie is the weighted-cascade share the planner assumes by default, scaled
down (conversion is rarer than the mapping's "every customer is convinced by someone"
assumes) and by the inviter's persuasiveness (lognormal: a few customers convert far more of
the people they invite), and capped.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from graph.errors import LoaderError, MissingColumns
from graph.model import DUCKDB_QUIET
from loaders.generate import AS_OF, GeneratedData

__all__ = [
    "HISTORY_COLUMNS",
    "HISTORY_FILE",
    "TRUTH_FILE",
    "read_history",
    "simulate_history",
]

#: Columns of a referral history, in order.
HISTORY_COLUMNS: tuple[str, ...] = (
    "campaign_id",
    "inviter_id",
    "invitee_id",
    "invited_at",
    "converted_at",
)
HISTORY_SCHEMA = pa.schema(
    [
        ("campaign_id", pa.string()),
        ("inviter_id", pa.string()),
        ("invitee_id", pa.string()),
        ("invited_at", pa.timestamp("us")),
        ("converted_at", pa.timestamp("us")),
    ]
)
#: File names `guanxi generate` writes the history and its hidden truth to.
HISTORY_FILE, TRUTH_FILE = "referral_history", "referral_truth"

_DAY_US = 86_400 * 1_000_000
_PERSUASION_SIGMA = 1.0
_CONVERSION_SCALE = 0.3
_MAX_P = 0.9


def simulate_history(
    data: GeneratedData, *, campaigns: int = 24, seed: int = 0
) -> tuple[pa.Table, pa.Table]:
    """Past referral campaigns on generated data, and the hidden probabilities behind them.

    Parameters
    ----------
    data
        A generated dataset (:func:`loaders.generate.generate`).
    campaigns
        How many campaigns, one every fortnight back from the data's reference time.
    seed
        Seeds the probabilities and the cascades.

    Returns
    -------
    history : pyarrow.Table
        Columns :data:`HISTORY_COLUMNS`, one row per invitation, in campaign order.
    truth : pyarrow.Table
        ``src_id, dst_id, p_true``: the hidden activation probability of every directed tie.
    """
    rng = np.random.default_rng(seed)
    # ids sorted (Arrow compares strings by code point, as Python does) and relations mapped
    # to positions in them, in Arrow: no Python string per row
    cid = data.customers.column("customer_id")
    ids = pc.take(cid, pc.sort_indices(cid)).combine_chunks()
    n = len(ids)
    rel = data.relations
    src = pc.index_in(rel.column("src_id"), value_set=ids).to_numpy(zero_copy_only=False)
    dst = pc.index_in(rel.column("dst_id"), value_set=ids).to_numpy(zero_copy_only=False)
    count = np.asarray(rel.column("count").fill_null(1).to_numpy(zero_copy_only=False), float)
    keep = src != dst
    key = src[keep].astype(np.int64) * n + dst[keep]
    pair, inv = np.unique(key, return_inverse=True)
    weight = np.bincount(inv, weights=count[keep])
    s, d = pair // n, pair % n
    in_strength = np.bincount(d, weights=weight, minlength=n)
    persuasion = rng.lognormal(-(_PERSUASION_SIGMA**2) / 2, _PERSUASION_SIGMA, n)
    p_true = np.minimum(_CONVERSION_SCALE * weight / in_strength[d] * persuasion[s], _MAX_P)

    indptr = np.zeros(n + 1, np.int64)
    np.cumsum(np.bincount(s, minlength=n), out=indptr[1:])  # pairs are sorted by src
    as_of_us = int(AS_OF.timestamp() * 1_000_000)
    k = max(5, n // 200)
    parts: list[tuple[np.ndarray, ...]] = []
    for c in range(campaigns):
        start = as_of_us - (campaigns - c) * 14 * _DAY_US
        parts.append(_campaign(rng, c, start, k, n, indptr, d, p_true))
    cid, inviter, invitee, hop, converted = (np.concatenate(x) for x in zip(*parts, strict=True))
    campaign_start = as_of_us - (campaigns - cid) * 14 * _DAY_US
    invited = campaign_start + hop * _DAY_US + rng.integers(0, _DAY_US, cid.size)
    conv = invited + rng.integers(_DAY_US // 24, 3 * _DAY_US, cid.size)
    history = pa.table(
        {
            "campaign_id": pa.array([f"cmp{c:03d}" for c in cid], pa.string()),
            "inviter_id": pc.take(ids, inviter),
            "invitee_id": pc.take(ids, invitee),
            "invited_at": pa.array(invited, pa.timestamp("us")),
            "converted_at": pa.array(conv, pa.timestamp("us"), mask=~converted),
        }
    )
    truth = pa.table(
        {
            "src_id": pc.take(ids, s),
            "dst_id": pc.take(ids, d),
            "p_true": pa.array(p_true),
        }
    )
    return history, truth


def _campaign(rng, c, start, k, n, indptr, dst, p) -> tuple[np.ndarray, ...]:
    """One Independent Cascade from ``k`` random seeds, level by level, recording every
    invitation: each customer converted at a level invites all their contacts who have not
    converted yet; a contact invited by several converts at that level converts at most
    once (the first successful invitation in a random order gets the credit)."""
    active = np.zeros(n, bool)
    frontier = rng.choice(n, size=min(k, n), replace=False)
    active[frontier] = True
    out: list[tuple[np.ndarray, ...]] = []
    hop = 0
    while frontier.size:
        lo, cnt = indptr[frontier], indptr[frontier + 1] - indptr[frontier]
        total = int(cnt.sum())
        if total == 0:
            break
        pos = np.arange(total) + np.repeat(lo - (np.cumsum(cnt) - cnt), cnt)
        u, v = np.repeat(frontier, cnt), dst[pos]
        fresh = ~active[v]
        u, v, pos = u[fresh], v[fresh], pos[fresh]
        shuffle = rng.permutation(u.size)
        u, v, pos = u[shuffle], v[shuffle], pos[shuffle]
        success = rng.random(u.size) < p[pos]
        first = np.zeros(u.size, bool)
        hit = np.flatnonzero(success)
        _, at = np.unique(v[hit], return_index=True)
        first[hit[at]] = True
        out.append((np.full(u.size, c), u, v, np.full(u.size, hop), first))
        frontier = v[first]
        active[frontier] = True
        hop += 1
    if not out:
        return (*(np.zeros(0, np.int64) for _ in range(4)), np.zeros(0, bool))
    return tuple(np.concatenate(x) for x in zip(*out, strict=True))


def read_history(path: Path) -> pa.Table:
    """Read a referral history (CSV with a header, or Parquet), checked row by row.

    Raises
    ------
    LoaderError
        The file is missing, lacks a required column (:class:`MissingColumns`), or has a
        row with a blank id or an unreadable time (naming the row, column and value).
    """
    if not path.exists():
        raise LoaderError(f"{path}: no such referral history file", path=str(path))
    con = duckdb.connect()
    con.execute(DUCKDB_QUIET)
    try:
        if path.suffix == ".parquet":
            rel = con.read_parquet(str(path))
        else:
            rel = con.read_csv(str(path), header=True, all_varchar=True)
        raw = rel.to_arrow_table()
        missing = [c for c in HISTORY_COLUMNS if c != "converted_at" and c not in raw.column_names]
        if missing:
            raise MissingColumns(str(path), missing)
        con.register("h", raw)
        conv = "converted_at" if "converted_at" in raw.column_names else "NULL"
        bad = con.execute(
            f"""
            SELECT n, col, val FROM (
              SELECT row_number() OVER () + 1 AS n, *, {conv} AS conv_raw FROM h
            ) UNPIVOT INCLUDE NULLS (
                val FOR col IN (campaign_id, inviter_id, invitee_id, invited_at, conv_raw)
            )
            WHERE (col <> 'conv_raw' AND nullif(trim(CAST(val AS VARCHAR)), '') IS NULL)
               OR (col IN ('invited_at', 'conv_raw')
                   AND nullif(trim(CAST(val AS VARCHAR)), '') IS NOT NULL
                   AND TRY_CAST(val AS TIMESTAMP) IS NULL)
            ORDER BY n LIMIT 1
            """
        ).fetchall()
        if bad:
            n, col, val = bad[0]
            col = "converted_at" if col == "conv_raw" else col
            what = "an ISO-8601 time" if col.endswith("_at") else "a customer or campaign id"
            problem = (
                "is blank" if val is None or not str(val).strip() else f"{val!r} is not {what}"
            )
            raise LoaderError(f"{path} row {n}, column {col}: {problem}", path=str(path))
        table = con.sql(
            f"""
            SELECT trim(CAST(campaign_id AS VARCHAR)) AS campaign_id,
                   trim(CAST(inviter_id AS VARCHAR)) AS inviter_id,
                   trim(CAST(invitee_id AS VARCHAR)) AS invitee_id,
                   CAST(invited_at AS TIMESTAMP) AS invited_at,
                   TRY_CAST(nullif(trim(CAST({conv} AS VARCHAR)), '') AS TIMESTAMP)
                     AS converted_at
            FROM h
            """
        ).to_arrow_table()
        return table.cast(HISTORY_SCHEMA)
    finally:
        con.close()
