"""Evaluate a tag catalog over the feature table: tag assignments with scores and reasons.

Pure and vectorised: every rule is evaluated once over all customers as numpy masks, the
exclusive groups are resolved by priority, and reasons are rendered with Arrow string
kernels for the holders only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from graph.errors import RuleError
from tagging.evaluator import Binding, Evaluator, Fact
from tagging.feature_catalog import FAMILY_SOURCES, FEATURES
from tagging.reasons import render_facts, render_template
from tagging.rules import Catalog, TagFamily, TagRule

ASSIGNMENT_COLUMNS: tuple[str, ...] = ("customer_id", "tag_id", "score", "reason", "run_id")
LABELS: dict[str, str] = {name: f.label for name, f in FEATURES.items()}

#: The string type of the assignment columns: pandas keeps its string columns in it.
_BIG = pa.large_string()


@dataclass
class _Hit:
    tag: TagRule
    mask: np.ndarray
    facts: list[Fact]
    fallback: np.ndarray | None = None  # customers given this tag as their group's fallback


def evaluate(catalog: Catalog, features: pd.DataFrame, *, run_id: str) -> pd.DataFrame:
    """Tag every customer of ``features`` with the enabled tags of ``catalog``.

    Parameters
    ----------
    catalog
        A complete catalog (`default_catalog`, or merged with a user file).
    features
        One row per customer from `compute_features` (``customer_id`` column or index).
    run_id
        Recorded on every row, so each tag can be traced to the run that computed it.

    Returns
    -------
    pandas.DataFrame
        Columns ``customer_id, tag_id, score, reason, run_id``; one row per customer and tag
        held. Exclusive groups hold at most one row per customer (``exactly_one`` groups
        exactly one). Family tags are ``<family>:<value>``, e.g. ``prefers:wealth_management``.

    Raises
    ------
    RuleError
        The catalog has unmerged overrides, or a rule names a feature missing from
        ``features`` (tag id and position). Nothing is returned in that case.
    """
    if catalog.patches:
        kind, tid, _ = catalog.patches[0]
        raise RuleError(
            f"{kind} {tid!r} is an override that was not merged; use merge_catalogs(base, file)",
            rule_id=tid,
        )
    if "customer_id" not in features.columns:
        features = features.reset_index()
    if "customer_id" not in features.columns:
        raise RuleError("feature table has no customer_id column or index")
    ev = Evaluator(features, catalog.params, labels=LABELS)
    n = ev.n

    hits: dict[str, _Hit] = {}
    for tag in catalog.tags:
        if not tag.enabled:
            continue
        mask, facts = ev.condition(tag.when, rule_id=tag.id)
        hits[tag.id] = _Hit(tag, mask, facts)

    for group in catalog.groups.values():
        members = sorted(
            (h for h in hits.values() if h.tag.group == group.id),
            key=lambda h: h.tag.priority,
        )
        taken = np.zeros(n, dtype=bool)
        for h in members:
            h.mask = h.mask & ~taken
            taken |= h.mask
        if group.mode == "exactly_one" and group.fallback in hits:
            rest = ~taken
            if rest.any():
                fb = hits[group.fallback]
                fb.fallback = rest
                fb.mask = fb.mask | rest

    customer_ids = pa.array(ev.df["customer_id"].astype("str"), type=pa.string())
    idx_parts: list[np.ndarray] = []
    tag_parts: list[pa.Array] = []
    score_parts: list[np.ndarray] = []
    reason_parts: list[pa.Array] = []

    for h in hits.values():
        idx = np.flatnonzero(h.mask)
        if idx.size == 0:
            continue
        tag = h.tag
        if tag.reason is not None:
            reasons = render_template(tag.reason, ev, idx)
        else:
            reasons = render_facts(h.facts, idx, fallback=tag.when.text)
        if h.fallback is not None:
            fb = h.fallback[idx]
            if fb.any():
                note = f"no other {tag.group} rule matched (fallback)"
                reasons = pc.if_else(pa.array(fb), pa.scalar(note), reasons)
        idx_parts.append(idx)
        tag_parts.append(pa.repeat(pa.scalar(tag.id, _BIG), idx.size))
        score_parts.append(_scores(ev, tag.score, idx, rule_id=tag.id))
        reason_parts.append(pc.cast(reasons, _BIG))
        h.facts = []  # rendered: the facts' value arrays are not needed again

    for fam in catalog.families:
        if not fam.enabled:
            continue
        for idx, tag_ids, scores, reasons in _family(ev, fam, features.columns):
            idx_parts.append(idx)
            tag_parts.append(pc.cast(tag_ids, _BIG))
            score_parts.append(scores)
            reason_parts.append(pc.cast(reasons, _BIG))

    if not idx_parts:
        return pd.DataFrame(
            {
                "customer_id": pd.Series([], dtype="str"),
                "tag_id": pd.Series([], dtype="str"),
                "score": pd.Series([], dtype="float64"),
                "reason": pd.Series([], dtype="str"),
                "run_id": pd.Series([], dtype="str"),
            }
        )
    # Columns as chunks (one per tag) of large strings, the layout pandas' string columns
    # keep: the frame then wraps these buffers instead of concatenating and converting
    # them (at a million customers the reasons alone are hundreds of megabytes).
    ids = customer_ids.cast(_BIG)
    columns = {
        "customer_id": pa.chunked_array([ids.take(pa.array(i)) for i in idx_parts], type=_BIG),
        "tag_id": pa.chunked_array(tag_parts, type=_BIG),
        "score": pa.array(np.concatenate(score_parts), type=pa.float64()),
        "reason": pa.chunked_array(reason_parts, type=_BIG),
        "run_id": pa.chunked_array(
            [pa.repeat(pa.scalar(run_id, _BIG), i.size) for i in idx_parts], type=_BIG
        ),
    }
    del idx_parts, tag_parts, reason_parts
    return pa.table(columns).to_pandas()


def _scores(ev: Evaluator, expr, idx: np.ndarray, *, rule_id: str, bindings=None) -> np.ndarray:
    """Scores of the holders; 1.0 where the tag has no score or the score is undefined."""
    if expr is None:
        return np.ones(idx.size)
    s = ev.number(expr, rule_id=rule_id, bindings=bindings)[idx]
    return np.where(np.isfinite(s), s, 1.0)


def family_values(fam: TagFamily, columns: pd.Index) -> list[str]:
    """The values of a share family present in the feature columns, sorted."""
    prefix = f"{fam.source}_share:"
    return sorted(c[len(prefix) :] for c in columns if isinstance(c, str) and c.startswith(prefix))


def _family(ev: Evaluator, fam: TagFamily, columns: pd.Index):
    if fam.kind == "share":
        if fam.source not in FAMILY_SOURCES and not family_values(fam, columns):
            return
        for value in family_values(fam, columns):
            bindings = {
                "share": Binding(f"{fam.source}_share:{value}", f"{fam.source} {value} share"),
                "count": Binding(f"{fam.source}_count:{value}", f"{fam.source} {value} count"),
            }
            tid = f"{fam.id}:{value}"
            mask, facts = ev.condition(fam.when, bindings=bindings, rule_id=fam.id)
            idx = np.flatnonzero(mask)
            if idx.size == 0:
                continue
            if fam.reason is not None:
                reasons = render_template(fam.reason, ev, idx, bindings=bindings)
            else:
                reasons = render_facts(facts, idx, fallback=fam.when.text)
            scores = _scores(ev, fam.score, idx, rule_id=fam.id, bindings=bindings)
            yield idx, pa.repeat(pa.scalar(tid), idx.size), scores, reasons
        return
    # kind == "value": one tag per distinct value of a text feature, e.g. community_id
    if fam.source not in columns:
        return
    mask, facts = ev.condition(fam.when, rule_id=fam.id)
    col = ev.df[fam.source]
    mask &= col.notna().to_numpy()
    idx = np.flatnonzero(mask)
    if idx.size == 0:
        return
    values = pa.array(col.iloc[idx].astype("str"), type=pa.string())
    tag_ids = pc.binary_join_element_wise(pa.scalar(fam.id + ":"), values, "")
    label = LABELS.get(fam.source, fam.source)
    head = pc.binary_join_element_wise(pa.scalar(label), values, " ")
    if fam.reason is not None:
        rest = render_template(fam.reason, ev, idx)
    else:
        rest = render_facts(facts, idx, fallback="")
    reasons = pc.binary_join_element_wise(head, rest, "; ")
    reasons = pc.if_else(pc.equal(rest, ""), head, reasons)
    yield idx, tag_ids, _scores(ev, fam.score, idx, rule_id=fam.id), reasons


def tag_definitions(catalog: Catalog, assignments: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per tag (static, and family tags seen in ``assignments``) with its metadata.

    Columns: ``tag_id, name_zh, name_en, category, family, group, rule``. Useful for the
    store and the API, which show tag names next to the ids.
    """
    rows = [
        {
            "tag_id": t.id,
            "name_zh": t.name_zh,
            "name_en": t.name_en,
            "category": t.category,
            "family": None,
            "group": t.group,
            "rule": t.when.text,
        }
        for t in catalog.tags
        if t.enabled
    ]
    if assignments is not None and len(assignments):
        fams = {f.id: f for f in catalog.families if f.enabled}
        seen = pd.unique(assignments["tag_id"].astype("str"))
        for tid in sorted(t for t in seen if ":" in t):
            fid, value = tid.split(":", 1)
            f = fams.get(fid)
            if f is None:
                continue
            rows.append(
                {
                    "tag_id": tid,
                    "name_zh": f.name_zh.replace("{value}", value),
                    "name_en": f.name_en.replace("{value}", value),
                    "category": f.category,
                    "family": f.id,
                    "group": None,
                    "rule": f.when.text,
                }
            )
    return pd.DataFrame(
        rows, columns=["tag_id", "name_zh", "name_en", "category", "family", "group", "rule"]
    )
