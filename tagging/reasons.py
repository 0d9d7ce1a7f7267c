"""Render the facts behind a tag into reason sentences, vectorised over the holders.

A reason names the values and the thresholds that fired, e.g.
``PageRank percentile 99.6 >= 99; in-degree 41 >= 10``. Only the comparisons that hold for a
customer are listed (for ``a or b`` the branch that fired). Strings are built with Arrow
compute kernels, so a million holders cost a few array passes, not a Python loop.

Templates: a tag may give its own ``reason`` with ``{expression}`` or ``{expression:.1f}``
placeholders in the rule language, e.g. ``"betweenness percentile {pct(betweenness):.1f}"``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from graph.arrays import unique
from graph.errors import RuleError
from tagging.evaluator import Binding, Evaluator, Fact, Side
from tagging.rule_parser import parse_expr
from tagging.rule_tree import Expr

MISSING = "n/a"


def format_scalar(x: object) -> str:
    """A constant (threshold, parameter) as shown in a reason."""
    if x is None:
        return MISSING
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, int | float | np.floating | np.integer):
        f = float(x)
        if math.isnan(f):
            return MISSING
        if f.is_integer() and abs(f) < 1e15:
            return str(int(f))
        return f"{f:.4g}"
    if isinstance(x, tuple | list):
        items = [format_scalar(i) for i in x[:6]]
        if len(x) > 6:
            items.append("…")
        return "[" + ", ".join(items) + "]"
    return str(x)


def format_values(values: np.ndarray, *, decimals: int | None = None) -> pa.Array:
    """Numbers as short strings: integers plainly, others rounded to a sensible precision."""
    v = np.asarray(values, dtype="float64")
    if decimals is None:
        decimals = _decimals(v)
    arr = pa.array(v, from_pandas=True)
    if decimals == 0:
        out = pc.cast(pc.cast(pc.round(arr, 0), pa.int64(), safe=False), pa.string())
        # int64 cannot hold inf; show it honestly
        inf = pa.array(np.isinf(v))
        out = pc.if_else(inf, pa.array(np.where(v > 0, "inf", "-inf")), out)
    else:
        out = pc.cast(pc.round(arr, decimals), pa.string())
    return pc.fill_null(out, MISSING)


@dataclass(eq=False)
class Scope:
    """All holders of a tag: their values decide each column's decimals, so a tag rendered
    range by range reads as it would rendered at once. Each column's decimals are worked
    out once (remembered with the array they were worked out on)."""

    holders: np.ndarray
    _known: list[tuple[np.ndarray, int]] = field(default_factory=list)

    def decimals(self, values: np.ndarray) -> int:
        for seen, dec in self._known:
            if seen is values:
                return dec
        dec = _decimals(values[self.holders].astype("float64", copy=False))
        self._known.append((values, dec))
        return dec


def _decimals(v: np.ndarray) -> int:
    """Decimals that show the values of one column legibly (integers plainly)."""
    finite = v[np.isfinite(v)]
    if finite.size == 0 or np.all(finite == np.round(finite)):
        return 0
    m = float(np.max(np.abs(finite)))
    if m >= 10:
        return 1
    if m >= 1:
        return 2
    nz = np.abs(finite[finite != 0])
    smallest = float(np.min(nz)) if nz.size else 1.0
    return int(min(10, max(2, 2 - math.floor(math.log10(smallest)))))


def _side_strings(side: Side, idx: np.ndarray, scope: Scope | None = None) -> pa.Array | pa.Scalar:
    v = side.values
    if isinstance(v, np.ndarray):
        if v.dtype == bool:
            text: pa.Array | pa.Scalar = pa.array(np.where(v[idx], "yes", "no"))
        else:
            dec = None if scope is None else scope.decimals(v)
            text = format_values(v[idx], decimals=dec)
    elif isinstance(v, pd.Series):
        text = pc.fill_null(pa.array(v.iloc[idx], type=pa.string(), from_pandas=True), MISSING)
    else:
        text = pa.scalar(format_scalar(v))
    if side.label is None:
        return text
    return pc.binary_join_element_wise(pa.scalar(side.label), text, " ")


def render_facts(
    facts: list[Fact], idx: np.ndarray, *, fallback: str, scope: Scope | None = None
) -> pa.Array:
    """One reason per holder (rows ``idx``): the facts that hold for it, joined by ``'; '``.

    Holders usually share few distinct combinations of (rounded) values, so each distinct
    reason is formatted once and the result is a take from those strings; when the
    combinations are too many the sentences are joined with Arrow kernels instead. A
    column's decimals suit the values of all holders, ``scope`` (``idx`` when None), so
    that holders rendered range by range read as they would rendered at once.
    """
    n = len(idx)
    coded: list[tuple[Fact, np.ndarray, list[str], np.ndarray, list[str], np.ndarray]] = []
    combo = np.zeros(n, dtype=np.int64)
    for f in facts:
        holds = f.holds[idx] if isinstance(f.holds, np.ndarray) else np.full(n, bool(f.holds))
        if not holds.any():
            continue
        lc, ls = _codes(f.left.values, idx, scope)
        rc, rs = _codes(f.right.values, idx, scope)
        code = _compact(np.where(holds, lc * len(rs) + rc + 1, 0))
        combo = _compact(combo * (int(code.max()) + 1) + code)
        coded.append((f, holds, ls, lc, rs, rc))
        if combo.size and int(combo.max()) >= _MAX_DISTINCT_REASONS * n:
            return _render_facts_arrow(facts, idx, fallback=fallback, scope=scope)
    if not coded:
        return pa.repeat(pa.scalar(fallback), n)
    k = int(combo.max()) + 1 if n else 0
    first = np.full(k, n, dtype=np.int64)
    np.minimum.at(first, combo, np.arange(n))
    sentences: list[str] = []
    for row in first:
        parts = []
        for f, holds, ls, lc, rs, rc in coded:
            if not holds[row]:
                continue
            if f.op in ("is missing", "is present"):
                parts.append(f"{f.left.label} {f.op}")
                continue
            left = ls[lc[row]] if f.left.label is None else f"{f.left.label} {ls[lc[row]]}"
            right = rs[rc[row]] if f.right.label is None else f"{f.right.label} {rs[rc[row]]}"
            parts.append(f"{left} {f.op} {right}")
        sentences.append("; ".join(parts) or fallback)
    assert len(sentences) == k
    return pa.array(sentences, type=pa.string()).take(pa.array(combo))


#: Above this share of distinct reasons among holders, Arrow kernels row by row are faster
#: than formatting each distinct sentence in Python.
_MAX_DISTINCT_REASONS = 0.125


def _compact(x: np.ndarray) -> np.ndarray:
    """Renumber non-negative integer codes to 0..k-1 keeping their order (dense ranks)."""
    if x.size == 0:
        return x.astype(np.int64)
    hi = int(x.max())
    if hi < 4 * x.size + 1024:
        present = np.zeros(hi + 1, dtype=bool)
        present[x] = True
        remap = np.cumsum(present) - 1
        return remap[x]
    return np.unique(x, return_inverse=True)[1].astype(np.int64)


def _codes(
    values: object, idx: np.ndarray, scope: Scope | None = None
) -> tuple[np.ndarray, list[str]]:
    """Per-holder codes into a list of display strings for one side of a fact (decimals
    chosen over the holders ``scope``, ``idx`` when None)."""
    n = len(idx)
    if isinstance(values, np.ndarray):
        x = values[idx]
        if x.dtype == bool:
            return x.astype(np.int64), ["no", "yes"]
        x = x.astype("float64", copy=False)
        dec = _decimals(x) if scope is None else scope.decimals(values)
        r = np.round(x, dec)
        if dec == 0 and np.isfinite(r).all() and r.size:
            lo = int(r.min())
            ints = (r - lo).astype(np.int64)
            inv = _compact(ints)
            uniq = (
                unique(ints) + lo
                if int(ints.max()) >= 4 * ints.size + 1024
                else (np.flatnonzero(np.bincount(ints)) + lo)
            )
            return inv, format_values(uniq.astype("float64"), decimals=0).to_pylist()
        uniq, inv = np.unique(r, return_inverse=True)
        return inv.astype(np.int64), format_values(uniq, decimals=dec).to_pylist()
    if isinstance(values, pd.Series):
        codes, uniq = pd.factorize(values.iloc[idx])
        strings = [str(u) for u in uniq] + [MISSING]
        return np.where(codes < 0, len(uniq), codes).astype(np.int64), strings
    return np.zeros(n, dtype=np.int64), [format_scalar(values)]


def _render_facts_arrow(
    facts: list[Fact], idx: np.ndarray, *, fallback: str, scope: Scope | None = None
) -> pa.Array:
    """`render_facts` with Arrow string kernels, for tags with very many distinct reasons."""
    n = len(idx)
    pieces: list[pa.Array] = []
    for f in facts:
        holds = f.holds[idx] if isinstance(f.holds, np.ndarray) else np.full(n, bool(f.holds))
        if not holds.any():
            continue
        if f.op in ("is missing", "is present"):
            piece = pa.scalar(f"{f.left.label} {f.op}")
        else:
            left = _side_strings(f.left, idx, scope)
            right = _side_strings(f.right, idx, scope)
            piece = pc.binary_join_element_wise(left, pa.scalar(f.op), right, " ")
        if isinstance(piece, pa.Scalar):
            piece = pa.repeat(piece, n)
        pieces.append(pc.if_else(pa.array(holds), piece, pa.scalar(None, pa.string())))
    if not pieces:
        return pa.repeat(pa.scalar(fallback), n)
    if len(pieces) == 1:  # a one-argument join drops null rows instead of skipping them
        joined = pc.fill_null(pieces[0], "")
    else:
        joined = pc.binary_join_element_wise(*pieces, "; ", null_handling="skip")
    empty = pc.equal(joined, "")
    return pc.if_else(empty, pa.scalar(fallback), joined)


# --------------------------------------------------------------------------- templates

_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")
_SPEC = re.compile(r"^(.*?)(?::\.(\d+)f)?$", re.S)


@dataclass(frozen=True)
class Template:
    """A parsed reason template: literal text and rule-language placeholders."""

    text: str
    parts: tuple[str | tuple[Expr, int | None], ...]


def parse_template(text: str, *, rule_id: str | None = None) -> Template:
    """Parse ``"... {pct(pagerank):.1f} ..."``; placeholder errors carry the position in ``text``.

    Raises
    ------
    RuleError
        A placeholder that does not parse, or an unmatched brace.
    """
    parts: list[str | tuple[Expr, int | None]] = []
    pos = 0
    for m in _PLACEHOLDER.finditer(text):
        literal = text[pos : m.start()]
        if "{" in literal or "}" in literal:
            bad = pos + max(literal.find("{"), literal.find("}"))
            raise RuleError("unmatched brace", rule_id=rule_id, position=bad, field="reason")
        parts.append(literal)
        if m.group(0) in ("{{", "}}"):
            parts.append(m.group(0)[0])
        else:
            body = m.group(1)
            spec = _SPEC.match(body)
            assert spec is not None
            src, dec = spec.group(1), spec.group(2)
            try:
                expr = parse_expr(src, rule_id=rule_id, field="reason")
            except RuleError as exc:
                raise RuleError(
                    exc.detail,
                    rule_id=rule_id,
                    position=m.start(1) + (exc.position or 0),
                    field="reason",
                ) from None
            parts.append((expr, int(dec) if dec is not None else None))
        pos = m.end()
    tail = text[pos:]
    if "{" in tail or "}" in tail:
        bad = pos + max(tail.find("{"), tail.find("}"))
        raise RuleError("unmatched brace", rule_id=rule_id, position=bad, field="reason")
    parts.append(tail)
    return Template(text, tuple(p for p in parts if p != ""))


def render_template(
    template: Template,
    ev: Evaluator,
    idx: np.ndarray,
    *,
    bindings: Mapping[str, Binding] | None = None,
    scope: Scope | None = None,
) -> pa.Array:
    """Fill a template for the holders ``idx`` (a placeholder without its own decimals
    gets those that suit all holders, ``scope``; ``idx`` when None)."""
    n = len(idx)
    cols: list[pa.Array | pa.Scalar] = []
    for part in template.parts:
        if isinstance(part, str):
            cols.append(pa.scalar(part))
            continue
        expr, dec = part
        side = ev.side(expr, expr.tree, bindings=bindings)
        v = side.values
        if isinstance(v, np.ndarray) and v.dtype != bool:
            if dec is None and scope is not None:
                dec = scope.decimals(v)
            cols.append(format_values(v[idx], decimals=dec))
        else:
            cols.append(_side_strings(Side(None, v), idx, scope))
    if not cols:
        return pa.repeat(pa.scalar(""), n)
    out = pc.binary_join_element_wise(*cols, "")
    if isinstance(out, pa.Scalar):
        return pa.repeat(out, n)
    return out
