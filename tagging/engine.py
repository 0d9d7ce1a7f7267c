"""Evaluate a tag catalog over the feature table: tag assignments with scores and reasons.

Pure and vectorised: every rule is evaluated once over all customers as numpy masks, the
exclusive groups are resolved by priority, and reasons are rendered with Arrow string
kernels for the holders only.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from graph.errors import RuleError
from tagging.evaluator import Binding, Evaluator, Fact
from tagging.feature_catalog import FAMILY_SOURCES, FEATURES
from tagging.reasons import Scope, render_facts, render_template
from tagging.rules import Catalog, TagFamily, TagRule

ASSIGNMENT_COLUMNS: tuple[str, ...] = ("customer_id", "tag_id", "score", "reason", "run_id")
LABELS: dict[str, str] = {name: f.label for name, f in FEATURES.items()}

#: The string type of the assignment columns: pandas keeps its string columns in it.
_BIG = pa.large_string()


@dataclass
class _Hit:
    tag: TagRule
    mask: np.ndarray | None  # None once rendered into holders
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

    See Also
    --------
    evaluate_chunks : the same assignments by customer range, for tables too large to
        hold whole.
    """
    (table,) = evaluate_chunks(catalog, features, run_id=run_id)
    if table.num_rows == 0:
        return pd.DataFrame({c: pd.Series([], dtype="str") for c in ASSIGNMENT_COLUMNS}).astype(
            {"score": "float64"}
        )
    return table.to_pandas()


def evaluate_chunks(
    catalog: Catalog,
    features: pd.DataFrame,
    *,
    run_id: str,
    customers_per_chunk: int | None = None,
) -> Iterator[pa.Table]:
    """:func:`evaluate`'s assignments as Arrow tables, one per range of customers.

    Every rule is decided over all customers first (percentiles, ranks and exclusive
    groups see the whole population), then the holders of each range of
    ``customers_per_chunk`` rows of ``features`` (all, when None) are rendered, so that
    only one range's reasons are ever in memory. The chunks together are exactly
    :func:`evaluate`'s rows; within a chunk they come tag by tag, as there.

    Raises
    ------
    RuleError
        As :func:`evaluate`, before the first chunk.
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

    # what every chunk renders: each tag's holders (all customers) and how to render them
    emits: list[tuple[np.ndarray, _Render]] = [
        (np.flatnonzero(h.mask), functools.partial(_render_tag, ev, h)) for h in hits.values()
    ]
    for fam in catalog.families:
        if fam.enabled:
            emits.extend(_family(ev, fam, features.columns))
    for h in hits.values():
        h.mask = None  # the holders say it now
    # one contiguous array: a take from a chunked one (pandas' strings come chunked)
    # concatenates the chunks on every call, once per tag and range
    ids = pa.array(ev.df["customer_id"].astype("str"), type=pa.string())
    customer_ids = pa.chunked_array([ids]).combine_chunks().cast(_BIG)
    step = max(1, n if customers_per_chunk is None else int(customers_per_chunk))
    scopes = [Scope(holders) for holders, _ in emits]
    for lo in range(0, max(n, 1), step):
        parts = []
        for (holders, render), scope in zip(emits, scopes, strict=True):
            idx = holders[np.searchsorted(holders, lo) : np.searchsorted(holders, lo + step)]
            if idx.size:
                # decimals are chosen over all holders: a chunk reads as the whole would
                parts.append((idx, render(idx, None if idx.size == holders.size else scope)))
        yield _assignment_table(customer_ids, parts, run_id)


#: What rendering a tag for its holders gives: tag ids, scores and reasons, one per holder.
_Rendered = tuple[pa.Array, np.ndarray, pa.Array]
#: Renders holders ``idx``, with the decimals of the holders ``scope`` (``idx`` when None).
_Render = Callable[[np.ndarray, Scope | None], _Rendered]


def _render_tag(ev: Evaluator, h: _Hit, idx: np.ndarray, scope: Scope | None) -> _Rendered:
    tag = h.tag
    if tag.reason is not None:
        reasons = render_template(tag.reason, ev, idx, scope=scope)
    else:
        reasons = render_facts(h.facts, idx, fallback=tag.when.text, scope=scope)
    if h.fallback is not None:
        fb = h.fallback[idx]
        if fb.any():
            note = f"no other {tag.group} rule matched (fallback)"
            reasons = pc.if_else(pa.array(fb), pa.scalar(note), reasons)
    tag_ids = pa.repeat(pa.scalar(tag.id, _BIG), idx.size)
    return tag_ids, _scores(ev, tag.score, idx, rule_id=tag.id), reasons


def _assignment_table(
    customer_ids: pa.Array, parts: list[tuple[np.ndarray, _Rendered]], run_id: str
) -> pa.Table:
    """The assignments of ``parts`` as a table of :data:`ASSIGNMENT_COLUMNS`.

    Columns are chunks (one per tag) of large strings, the layout pandas' string columns
    keep: a frame then wraps these buffers instead of concatenating and converting them
    (at a million customers the reasons alone are hundreds of megabytes).
    """
    if not parts:
        return _EMPTY
    idx_parts = [idx for idx, _ in parts]
    return pa.table(
        {
            "customer_id": pa.chunked_array([customer_ids.take(pa.array(i)) for i in idx_parts]),
            "tag_id": pa.chunked_array([pc.cast(r[0], _BIG) for _, r in parts], type=_BIG),
            "score": pa.array(np.concatenate([r[1] for _, r in parts]), type=pa.float64()),
            "reason": pa.chunked_array([pc.cast(r[2], _BIG) for _, r in parts], type=_BIG),
            "run_id": pa.chunked_array(
                [pa.repeat(pa.scalar(run_id, _BIG), i.size) for i in idx_parts], type=_BIG
            ),
        }
    )


_EMPTY = pa.schema(
    [
        ("customer_id", _BIG),
        ("tag_id", _BIG),
        ("score", pa.float64()),
        ("reason", _BIG),
        ("run_id", _BIG),
    ]
).empty_table()


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


def _family(
    ev: Evaluator, fam: TagFamily, columns: pd.Index
) -> Iterator[tuple[np.ndarray, _Render]]:
    """The family's tags as (holders among all customers, renderer of holders)."""
    if fam.kind == "share":
        if fam.source not in FAMILY_SOURCES and not family_values(fam, columns):
            return
        for value in family_values(fam, columns):
            bindings = {
                "share": Binding(f"{fam.source}_share:{value}", f"{fam.source} {value} share"),
                "count": Binding(f"{fam.source}_count:{value}", f"{fam.source} {value} count"),
            }
            mask, facts = ev.condition(fam.when, bindings=bindings, rule_id=fam.id)
            if mask.any():
                render = functools.partial(_render_share, ev, fam, value, bindings, facts)
                yield np.flatnonzero(mask), render
        return
    # kind == "value": one tag per distinct value of a text feature, e.g. community_id
    if fam.source not in columns:
        return
    mask, facts = ev.condition(fam.when, rule_id=fam.id)
    mask &= ev.df[fam.source].notna().to_numpy()
    if mask.any():
        yield np.flatnonzero(mask), functools.partial(_render_value, ev, fam, facts)


def _render_share(
    ev: Evaluator,
    fam: TagFamily,
    value: str,
    bindings: dict[str, Binding],
    facts: list[Fact],
    idx: np.ndarray,
    scope: Scope | None,
) -> _Rendered:
    if fam.reason is not None:
        reasons = render_template(fam.reason, ev, idx, bindings=bindings, scope=scope)
    else:
        reasons = render_facts(facts, idx, fallback=fam.when.text, scope=scope)
    scores = _scores(ev, fam.score, idx, rule_id=fam.id, bindings=bindings)
    return pa.repeat(pa.scalar(f"{fam.id}:{value}"), idx.size), scores, reasons


def _render_value(
    ev: Evaluator, fam: TagFamily, facts: list[Fact], idx: np.ndarray, scope: Scope | None
) -> _Rendered:
    values = pa.array(ev.df[fam.source].iloc[idx].astype("str"), type=pa.string())
    tag_ids = pc.binary_join_element_wise(pa.scalar(fam.id + ":"), values, "")
    label = LABELS.get(fam.source, fam.source)
    head = pc.binary_join_element_wise(pa.scalar(label), values, " ")
    if fam.reason is not None:
        rest = render_template(fam.reason, ev, idx, scope=scope)
    else:
        rest = render_facts(facts, idx, fallback="", scope=scope)
    reasons = pc.binary_join_element_wise(head, rest, "; ")
    reasons = pc.if_else(pc.equal(rest, ""), head, reasons)
    return tag_ids, _scores(ev, fam.score, idx, rule_id=fam.id), reasons


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
