"""Vectorised evaluation of rule-language trees over a feature table.

One `Evaluator` is built per feature table and shared by every rule of a catalog, so a
percentile or a within-community rank used by several rules is computed once.

Missing values: a comparison with a missing value is false (``age >= 60`` is false when the
age is unknown); ``not`` flips it to true, so write ``coalesce(x, 0)`` or ``is_null(x)`` when
the difference matters. Percentiles and ranks are computed over the customers that have a
value and are missing for the others.

The walks below recurse once or twice per tree level. That is safe because every tree comes
from `tagging.rule_parser.parse_expr`, which refuses trees deeper than
`tagging.rule_parser.MAX_DEPTH`; long ``and`` / ``or`` chains are flat lists and are folded in a
loop.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from graph.errors import RuleError
from tagging.rule_tree import (
    Arith,
    Bool,
    BoolOp,
    Call,
    Compare,
    Expr,
    InSet,
    ListLit,
    Name,
    Neg,
    Node,
    Not,
    Num,
    Str,
    unparse,
)

Value = Any  # float | str | bool | tuple | np.ndarray (float64 or bool) | pd.Series (strings)

_FLIP = {"<": ">=", "<=": ">", ">": "<=", ">=": "<", "==": "!=", "!=": "=="}


@dataclass(frozen=True)
class Side:
    """One side of a comparison as shown in a reason: a label (None for a constant) and values."""

    label: str | None
    values: Value


@dataclass(frozen=True)
class Fact:
    """A comparison that took part in a rule, with the customers for whom it holds as written.

    ``op`` is already flipped when the comparison sits under ``not``, so the rendered text is
    always a true statement for the customers in ``holds``.
    """

    left: Side
    op: str
    right: Side
    holds: np.ndarray


@dataclass(frozen=True)
class Binding:
    """A rule-local name (``share``, ``count`` in a tag family) bound to a feature column."""

    column: str
    label: str


class Evaluator:
    """Evaluates expressions over ``features`` (one row per customer) with catalog ``params``.

    Parameters
    ----------
    features
        One row per customer, default RangeIndex; must hold ``community_id`` for the
        community functions.
    params
        Catalog parameters, referenced by name from rules.
    labels
        Human labels of features for reasons (``pagerank`` -> ``PageRank``).
    """

    def __init__(
        self,
        features: pd.DataFrame,
        params: Mapping[str, Any],
        *,
        labels: Mapping[str, str] | None = None,
    ) -> None:
        self.df = features.reset_index(drop=True)
        self.n = len(self.df)
        self.params = dict(params)
        self.labels = dict(labels or {})
        self._cache: dict[str, Value] = {}
        self._community: tuple[np.ndarray, int] | None = None

    # ------------------------------------------------------------------ public
    def condition(
        self,
        expr: Expr,
        *,
        bindings: Mapping[str, Binding] | None = None,
        rule_id: str | None = None,
        field: str = "when",
    ) -> tuple[np.ndarray, list[Fact]]:
        """Evaluate a boolean expression: the mask over customers and the facts behind it."""
        facts: list[Fact] = []
        ctx = _Ctx(self, expr, bindings or {}, rule_id, field)
        mask = ctx.cond(expr.tree, negated=False, facts=facts)
        return _as_mask(mask, self.n), facts

    def number(
        self,
        expr: Expr,
        *,
        bindings: Mapping[str, Binding] | None = None,
        rule_id: str | None = None,
        field: str = "score",
    ) -> np.ndarray:
        """Evaluate a numeric expression to a float64 array over all customers."""
        ctx = _Ctx(self, expr, bindings or {}, rule_id, field)
        v = ctx.value(expr.tree)
        if np.isscalar(v):
            return np.full(self.n, float(v))
        return np.asarray(v, dtype="float64")

    def side(
        self, expr: Expr, node: Node, *, bindings: Mapping[str, Binding] | None = None
    ) -> Side:
        """The label and values of a sub-expression (used by reason templates)."""
        ctx = _Ctx(self, expr, bindings or {}, None, "reason")
        return Side(ctx.label(node), ctx.value(node))

    # ------------------------------------------------------------------ columns
    def column(self, name: str) -> Value:
        key = "col:" + name
        if key in self._cache:
            return self._cache[key]
        s = self.df[name]
        if pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_numeric_dtype(s.dtype):
            v: Value = s.to_numpy(dtype="float64", na_value=np.nan)
        else:
            v = s.astype("str") if s.dtype == object else s
        self._cache[key] = v
        return v

    def community_codes(self) -> tuple[np.ndarray, int]:
        """Integer code per customer for its community (-1 = none) and the number of codes."""
        if self._community is None:
            if "community_id" not in self.df.columns:
                codes = np.full(self.n, -1, dtype=np.int64)
                self._community = (codes, 0)
            else:
                codes, uniques = pd.factorize(self.df["community_id"], use_na_sentinel=True)
                self._community = (codes.astype(np.int64), len(uniques))
        return self._community

    def cached(self, key: str, fn: Any) -> Value:
        if key not in self._cache:
            self._cache[key] = fn()
        return self._cache[key]


class _Ctx:
    """Evaluation of one expression: knows its source text, bindings and rule id for errors."""

    def __init__(
        self,
        ev: Evaluator,
        expr: Expr,
        bindings: Mapping[str, Binding],
        rule_id: str | None,
        field: str,
    ) -> None:
        self.ev = ev
        self.expr = expr
        self.bindings = bindings
        self.rule_id = rule_id
        self.field = field

    def err(self, msg: str, node: Node) -> RuleError:
        return RuleError(msg, rule_id=self.rule_id, position=node.pos, field=self.field)

    # ------------------------------------------------------------------ values
    def value(self, node: Node) -> Value:
        ev = self.ev
        match node:
            case Num(value=v):
                return v
            case Str(value=v):
                return v
            case Bool(value=v):
                return v
            case ListLit(items=items):
                return items
            case Name(name=name):
                if name in self.bindings:
                    col = self.bindings[name].column
                    if col not in ev.df.columns:
                        return np.zeros(ev.n)
                    return ev.column(col)
                if name in ev.params:
                    p = ev.params[name]
                    return tuple(p) if isinstance(p, list) else p
                if name in ev.df.columns:
                    return ev.column(name)
                raise self.err(f"unknown feature or parameter {name!r}", node)
            case Call():
                return self.call(node)
            case Arith(op=op, left=left, right=right):
                a = _num(self.value(left))
                b = _num(self.value(right))
                with np.errstate(divide="ignore", invalid="ignore"):
                    if op == "+":
                        return a + b
                    if op == "-":
                        return a - b
                    if op == "*":
                        return a * b
                    r = np.divide(a, b)
                    # x / 0 is missing, not infinite: ratios of counts should not rank first.
                    return (
                        np.where(np.isfinite(r), r, np.nan)
                        if isinstance(r, np.ndarray)
                        else (r if np.isfinite(r) else np.nan)
                    )
            case Neg(operand=o):
                return -_num(self.value(o))
            case Compare() | InSet() | BoolOp() | Not():
                return self.cond(node, negated=False, facts=None)
        raise self.err(f"cannot evaluate {node!r}", node)  # pragma: no cover

    def call(self, node: Call) -> Value:
        ev = self.ev
        func, args = node.func, node.args
        key = (
            unparse(node)
            + "|"
            + ",".join(sorted(f"{k}={b.column}" for k, b in self.bindings.items()))
        )
        if func in ("pct", "community_rank", "community_pct", "center", "mean", "median"):
            if func == "center":
                method = str(ev.params.get("center_method", "mean")).lower()
                if method not in ("mean", "median"):
                    raise self.err(
                        f"param center_method must be 'mean' or 'median', got {method!r}", node
                    )
                key += "|" + method
            return ev.cached(key, lambda: self._stat(func, _num(self.value(args[0]))))
        if func == "coalesce":
            out = _num(self.value(args[0]))
            for a in args[1:]:
                nxt = _num(self.value(a))
                out = np.where(np.isnan(out), nxt, out)
            return out
        if func in ("min", "max"):
            # One argument at a time, like `coalesce`: memory stays flat in the argument count.
            fold = np.fmin if func == "min" else np.fmax
            out = _num(self.value(args[0]))
            for a in args[1:]:
                out = fold(out, _num(self.value(a)))
            return out
        if func == "abs":
            return np.abs(_num(self.value(args[0])))
        if func == "is_null":
            v = self.value(args[0])
            if isinstance(v, pd.Series):
                return v.isna().to_numpy()
            if isinstance(v, np.ndarray):
                return np.isnan(v)
            return np.full(ev.n, v is None or (isinstance(v, float) and np.isnan(v)))
        raise self.err(f"unknown function {func!r}", node)  # pragma: no cover

    def _stat(self, func: str, x: Value) -> Value:
        ev = self.ev
        x = np.broadcast_to(np.asarray(x, dtype="float64"), (ev.n,))
        if func in ("center", "mean", "median"):
            finite = x[~np.isnan(x)]
            if finite.size == 0:
                return np.nan
            method = (
                str(ev.params.get("center_method", "mean")).lower() if func == "center" else func
            )
            return float(np.mean(finite) if method == "mean" else np.median(finite))
        if func == "pct":
            return percentile_below(x)
        codes, k = ev.community_codes()
        if func == "community_rank":
            return community_rank(x, codes)
        return community_percentile_below(x, codes, k)

    # ------------------------------------------------------------------ conditions
    def cond(self, node: Node, *, negated: bool, facts: list[Fact] | None) -> Value:
        match node:
            case BoolOp(op=op, operands=ops):
                # Folded one operand at a time: a long chain of conditions holds two masks at
                # once, not one per operand.
                out = _as_mask(self.cond(ops[0], negated=negated, facts=facts), self.ev.n)
                for o in ops[1:]:
                    m = self.cond(o, negated=negated, facts=facts)
                    out = (out & m) if op == "and" else (out | m)
                return out
            case Not(operand=o):
                return ~_as_mask(self.cond(o, negated=not negated, facts=facts), self.ev.n)
            case Compare(op=op, left=left, right=right):
                a, b = self.value(left), self.value(right)
                mask = _compare(a, op, b)
                if facts is not None:
                    shown = _FLIP[op] if negated else op
                    holds = _compare(a, shown, b) if negated else mask
                    facts.append(
                        Fact(Side(self.label(left), a), shown, Side(self.label(right), b), holds)
                    )
                return mask
            case InSet(operand=o, items=items, negated=neg):
                a = self.value(o)
                lst = self.value(items)
                if not isinstance(lst, tuple):
                    raise self.err("'in' needs a list", items)
                member = _isin(a, lst)
                mask = ~member & _notnull(a) if neg else member
                if facts is not None:
                    shown_neg = neg != negated
                    holds = (~member & _notnull(a)) if shown_neg else member
                    facts.append(
                        Fact(
                            Side(self.label(o), a),
                            "not in" if shown_neg else "in",
                            Side(None, lst),
                            holds,
                        )
                    )
                return mask
            case Call(func="is_null"):
                mask = self.call(node)
                if facts is not None:
                    lbl = self.label(node.args[0])
                    holds = ~mask if negated else mask
                    facts.append(
                        Fact(
                            Side(lbl, None),
                            "is present" if negated else "is missing",
                            Side(None, None),
                            holds,
                        )
                    )
                return mask
            case Bool(value=v):
                return np.full(self.ev.n, v)
            case Name():
                v = self.value(node)
                if isinstance(v, bool):
                    return np.full(self.ev.n, v)
                return _as_mask(np.asarray(v, dtype=bool), self.ev.n)
        raise self.err("expected a condition", node)

    # ------------------------------------------------------------------ labels
    def label(self, node: Node) -> str | None:
        """How a sub-expression is named in a reason; None for constants and parameters."""
        ev = self.ev
        match node:
            case Num() | Str() | Bool() | ListLit():
                return None
            case Name(name=name):
                if name in self.bindings:
                    return self.bindings[name].label
                if name in ev.params:
                    return None
                return ev.labels.get(name, name.replace("_", " "))
            case Call(func=func, args=args):
                inner = self.label(args[0]) or self.expr.source(args[0])
                if func == "pct":
                    return f"{inner} percentile"
                if func == "community_rank":
                    return f"{inner} rank in community"
                if func == "community_pct":
                    return f"{inner} percentile in community"
                if func == "center":
                    return f"{ev.params.get('center_method', 'mean')} {inner}"
                if func in ("mean", "median"):
                    return f"{func} {inner}"
                if func == "coalesce":
                    return inner
        return self.expr.source(node)


# --------------------------------------------------------------------------- helpers


def percentile_below(x: np.ndarray) -> np.ndarray:
    """Share of customers (with a value) whose value is strictly lower, x 100.

    Ties share the lowest percentile, so a mass of zeros sits at 0 and never passes a
    ``pct(x) >= 50`` threshold; the top 1% of distinct values reaches ``>= 99``.
    """
    out = np.full(x.shape, np.nan)
    ok = ~np.isnan(x)
    vals = x[ok]
    if vals.size:
        order = np.argsort(vals, kind="stable")
        s = vals[order]
        pos = np.arange(s.size)
        first = np.maximum.accumulate(np.where(np.r_[True, s[1:] != s[:-1]], pos, 0))
        below = np.empty(s.size)
        below[order] = first * (100.0 / vals.size)
        out[ok] = below
    return out


def community_rank(x: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Rank within community by descending value, 1 = top; ties share the best rank."""
    s = pd.Series(np.where(codes >= 0, x, np.nan))
    r = s.groupby(codes).rank(method="min", ascending=False, na_option="keep")
    out = np.array(r.to_numpy(dtype="float64", na_value=np.nan))
    out[codes < 0] = np.nan
    return out


def community_percentile_below(x: np.ndarray, codes: np.ndarray, k: int) -> np.ndarray:
    """`percentile_below` computed within each community."""
    ok = (codes >= 0) & ~np.isnan(x)
    s = pd.Series(np.where(ok, x, np.nan))
    below = s.groupby(codes).rank(method="min", ascending=True, na_option="keep") - 1
    counts = np.bincount(codes[ok], minlength=max(k, 1)).astype("float64")
    size = np.where(codes >= 0, counts[np.clip(codes, 0, None)], np.nan)
    out = np.array(below.to_numpy(dtype="float64", na_value=np.nan) * 100.0 / size)
    out[~ok] = np.nan
    return out


def _num(v: Value) -> Value:
    if isinstance(v, np.ndarray):
        return v.astype("float64", copy=False)
    if isinstance(v, bool | int | float):
        return float(v)
    if isinstance(v, pd.Series):
        return pd.to_numeric(v, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)
    return np.nan


def _notnull(v: Value) -> Value:
    if isinstance(v, pd.Series):
        return v.notna().to_numpy()
    if isinstance(v, np.ndarray) and v.dtype.kind == "f":
        return ~np.isnan(v)
    return True


def _compare(a: Value, op: str, b: Value) -> Value:
    if isinstance(a, pd.Series) or isinstance(b, pd.Series) or isinstance(a, str):
        res = (a == b) if op == "==" else (a != b)
        res = np.asarray(res, dtype=bool)
        return res & _notnull(a) & _notnull(b)
    a, b = _num(a), _num(b)
    if op == "<":
        return a < b
    if op == "<=":
        return a <= b
    if op == ">":
        return a > b
    if op == ">=":
        return a >= b
    if op == "==":
        return a == b
    with np.errstate(invalid="ignore"):
        return (a != b) & ~np.isnan(a) & ~np.isnan(b)


def _isin(a: Value, items: tuple) -> Value:
    if isinstance(a, pd.Series):
        strs = [str(i).lower() for i in items]
        return a.str.lower().isin(strs).to_numpy(dtype=bool, na_value=False)
    if isinstance(a, np.ndarray):
        nums = [float(i) for i in items if not isinstance(i, str)]
        return np.isin(a, nums)
    return a in items


def _as_mask(v: Value, n: int) -> np.ndarray:
    if isinstance(v, np.ndarray):
        return v.astype(bool, copy=False)
    return np.full(n, bool(v))
