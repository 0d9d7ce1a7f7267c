"""Tag health (pure): coverage, overlap within a category, stability between runs, and why a
tag's count moved.

Operations teams act on tag counts week after week; a tag that suddenly halves, or that is
held by exactly the customers of another tag, needs a look before a campaign is built on it.
Everything here works on assignment tables (``customer_id, tag_id``) and catalog rows; the
use case reads them from the store.

Why a count moved is answered from two fingerprints kept with each run: one per tag
definition (:func:`definition_fingerprints`: the rule, its score, group and the values of the
parameters it reads) and one of the data (the run's input counts and reference time). Same
data and a new definition: the change is the definition's; same definition and new data:
the data's; both changed: both, and the two cannot be told apart without re-running the old
rules on the new data; neither changed: the analysis (another seed or parameter) made the
metrics or communities the rules read come out differently.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from graph.arrays import unique
from tagging.rule_tree import names_in
from tagging.rules import Catalog

__all__ = [
    "DEFAULT_MOVE_SHARE",
    "QUALITY_COLUMNS",
    "attribute_changes",
    "definition_fingerprints",
    "tag_quality",
]

#: A tag is flagged when its count moved by more than this share of the previous count.
DEFAULT_MOVE_SHARE = 0.2

#: Columns of :func:`tag_quality`, in order.
QUALITY_COLUMNS: tuple[str, ...] = (
    "tag_id",
    "category",
    "count",
    "coverage",
    "overlap_tag",
    "overlap_jaccard",
    "previous_count",
    "count_change",
    "stability",
    "flagged",
)


def definition_fingerprints(catalog: Catalog) -> dict[str, str]:
    """A short digest of each enabled tag's and family's definition, by tag or family id.

    The digest covers what decides who holds the tag: the ``when`` and ``score`` texts, the
    values of the ``[params]`` they name, and for a tag in a mutually exclusive group the
    group's mode and fallback and every member's rule and priority (a rival's new rule moves
    this tag's holders too). Names and reason wording are left out: rewording a reason
    changes no assignment.

    Examples
    --------
    >>> from tagging import default_catalog
    >>> fp = definition_fingerprints(default_catalog())
    >>> len(fp["opinion_leader"])
    12
    """

    def params_of(*exprs) -> dict[str, Any]:
        used: set[str] = set()
        for e in exprs:
            if e is not None:
                used |= names_in(e.tree)
        return {p: catalog.params[p] for p in sorted(used) if p in catalog.params}

    def own(rule) -> dict[str, Any]:
        score = getattr(rule, "score", None)
        return {
            "when": rule.when.text,
            "score": None if score is None else score.text,
            "params": params_of(rule.when, score),
        }

    members: dict[str, list] = {}
    for t in catalog.tags:
        if t.enabled and t.group is not None:
            members.setdefault(t.group, []).append(t)
    out: dict[str, str] = {}
    for t in catalog.tags:
        if not t.enabled:
            continue
        body: dict[str, Any] = own(t)
        if t.group is not None:
            g = catalog.groups.get(t.group)
            body["group"] = {
                "id": t.group,
                "mode": None if g is None else g.mode,
                "fallback": None if g is None else g.fallback,
                "members": [
                    {"id": m.id, "priority": m.priority, **own(m)}
                    for m in sorted(members[t.group], key=lambda m: m.id)
                ],
            }
        out[t.id] = _digest(body)
    for f in catalog.families:
        if f.enabled:
            out[f.id] = _digest({**own(f), "source": f.source, "kind": f.kind})
    return out


def tag_quality(
    current: pd.DataFrame,
    catalog: pd.DataFrame,
    *,
    customers: int,
    previous: pd.DataFrame | None = None,
    move_share: float = DEFAULT_MOVE_SHARE,
) -> pd.DataFrame:
    """Per tag of ``catalog``: coverage, the most overlapping tag of its category, stability.

    Parameters
    ----------
    current
        The run's assignments (``customer_id, tag_id``).
    catalog
        The run's catalog rows (``tag_id, category``), one per tag, held or not.
    customers
        Customers in the run (the coverage denominator).
    previous
        The previous run's assignments, or None for a first run.
    move_share
        Flag a tag whose count moved by more than this share of its previous count (a tag
        that appears or disappears is flagged too).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`QUALITY_COLUMNS`, in catalog order: ``coverage`` the share of
        customers holding the tag; ``overlap_tag`` / ``overlap_jaccard`` the other tag of
        the same category with the largest Jaccard similarity of holders (None when the
        tag or its category is empty); ``stability`` the share of the previous run's
        holders who still hold it (None without a previous run or previous holders);
        ``count_change`` (count - previous) / previous.

    Examples
    --------
    >>> cur = pd.DataFrame({"customer_id": ["a", "b", "b"], "tag_id": ["x", "x", "y"]})
    >>> prev = pd.DataFrame({"customer_id": ["a", "c"], "tag_id": ["x", "x"]})
    >>> cat = pd.DataFrame({"tag_id": ["x", "y"], "category": ["k", "k"]})
    >>> q = tag_quality(cur, cat, customers=4, previous=prev)
    >>> q[["tag_id", "coverage", "overlap_tag", "overlap_jaccard", "stability"]].values.tolist()
    [['x', 0.5, 'y', 0.5, 0.5], ['y', 0.25, 'x', 0.5, None]]
    """
    tags = catalog["tag_id"].astype(str).to_numpy()
    index = pd.Index(tags)
    category = catalog["category"].astype(str).to_numpy()
    cur = _held(current, index)
    count = np.bincount(cur.tag, minlength=tags.size).astype(np.int64)
    overlap_tag, overlap_j = _overlaps(cur, tags, category, count)
    out = pd.DataFrame(
        {
            "tag_id": tags,
            "category": category,
            "count": count,
            "coverage": count / max(customers, 1),
            "overlap_tag": overlap_tag,
            "overlap_jaccard": overlap_j,
        }
    )
    if previous is None:
        out["previous_count"] = pd.array([None] * tags.size, dtype="Int64")
        out["count_change"] = np.nan
        out["stability"] = None
        out["flagged"] = False
        return out[list(QUALITY_COLUMNS)]
    prev = _held(previous, index)
    before = np.bincount(prev.tag, minlength=tags.size).astype(np.int64)
    kept = np.bincount(_common(cur, prev), minlength=tags.size)
    with np.errstate(divide="ignore", invalid="ignore"):
        change = np.where(before > 0, (count - before) / before, np.nan)
        stability = np.where(before > 0, kept / before, np.nan)
    out["previous_count"] = before
    out["count_change"] = change
    out["stability"] = pd.Series(stability).astype(object).where(before > 0, None).to_numpy()
    moved = np.where(before > 0, np.abs(change) > move_share, count > 0)
    out["flagged"] = moved
    return out[list(QUALITY_COLUMNS)]


def attribute_changes(
    totals: pd.DataFrame,
    defs_a: dict[str, str] | None,
    defs_b: dict[str, str] | None,
    *,
    data_changed: bool,
) -> pd.Series:
    """Why each changed tag of ``totals`` (``tag_id``, from `diff_assignments`) changed.

    Returns
    -------
    pandas.Series
        Per row: ``"definition"`` (the definition changed, the data did not),
        ``"data"`` (the data changed, the definition did not), ``"definition+data"``,
        ``"analysis"`` (neither: the run's metrics or communities came out differently,
        from another seed or analysis parameter), or ``"unknown"`` when a run kept no
        definitions (runs made before they were recorded). A family tag (``prefers:x``)
        is judged by its family's definition.

    Examples
    --------
    >>> t = pd.DataFrame({"tag_id": ["x", "prefers:tea"]})
    >>> attribute_changes(t, {"x": "1", "prefers": "p"}, {"x": "2", "prefers": "p"},
    ...                   data_changed=True).tolist()
    ['definition+data', 'data']
    """
    if defs_a is None or defs_b is None:
        return pd.Series(["unknown"] * len(totals), index=totals.index, dtype=object)
    causes = []
    for tid in totals["tag_id"].astype(str):
        key = tid.split(":", 1)[0] if tid not in defs_a and tid not in defs_b else tid
        redefined = defs_a.get(key) != defs_b.get(key)
        if redefined:
            causes.append("definition+data" if data_changed else "definition")
        else:
            causes.append("data" if data_changed else "analysis")
    return pd.Series(causes, index=totals.index, dtype=object)


# --- helpers ------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Held:
    """Distinct (customer, tag) pairs as codes: ``tag`` positions in the catalog, and
    ``customer`` codes into ``ids``."""

    customer: np.ndarray
    tag: np.ndarray
    ids: np.ndarray


def _digest(body: dict[str, Any]) -> str:
    text = json.dumps(body, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]


def _held(assignments: pd.DataFrame, tags: pd.Index) -> _Held:
    """The distinct assignments to tags of ``tags`` (others are not the catalog's)."""
    tid = tags.get_indexer(assignments["tag_id"].astype(str))
    keep = tid >= 0
    codes, ids = pd.factorize(assignments["customer_id"].astype(str).to_numpy()[keep])
    pairs = unique(codes.astype(np.int64) * max(tags.size, 1) + tid[keep])
    return _Held(pairs // max(tags.size, 1), pairs % max(tags.size, 1), np.asarray(ids))


def _common(cur: _Held, prev: _Held) -> np.ndarray:
    """Tag positions of the (customer, tag) pairs held in both runs."""
    a = pd.MultiIndex.from_arrays([cur.ids[cur.customer], cur.tag])
    b = pd.MultiIndex.from_arrays([prev.ids[prev.customer], prev.tag])
    return np.asarray(a.intersection(b).get_level_values(1), dtype=np.int64)


def _overlaps(
    cur: _Held, tags: np.ndarray, category: np.ndarray, count: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per tag, the same-category tag with the largest Jaccard similarity, and that value.

    Only pairs that share a holder are ever formed (a sparse product), so a category with
    thousands of family tags (``community:*``) stays cheap.
    """
    t = tags.size
    best_tag = np.full(t, None, dtype=object)
    best = np.full(t, np.nan)
    if t == 0 or cur.tag.size == 0:
        return best_tag, best
    x = sp.csr_matrix(
        (np.ones(cur.tag.size, np.float64), (cur.customer, cur.tag)),
        shape=(cur.ids.size, t),
    )
    inter = (x.T @ x).tocoo()
    i, j, both = inter.row, inter.col, inter.data
    keep = (i != j) & (category[i] == category[j])
    i, j, both = i[keep], j[keep], both[keep]
    if i.size == 0:
        return best_tag, best
    jac = both / (count[i] + count[j] - both)
    # the largest per row; ties go to the tag listed first in the catalog
    order = np.lexsort((j, -jac, i))
    i, j, jac = i[order], j[order], jac[order]
    first = np.r_[True, i[1:] != i[:-1]]
    best_tag[i[first]] = tags[j[first]]
    best[i[first]] = jac[first]
    return best_tag, best
