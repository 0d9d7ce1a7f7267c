"""Rule-language trees compiled to SQL expressions: values, conditions, facts and reasons.

`tagging.rule_sql.compile_catalog` drives this per tag; the semantics and the words are the
evaluator's and `tagging.reasons`' (see `tagging.rule_sql`). ``ExprCompiler`` collects, while it
compiles, the window columns (``pct`` ... ``median`` calls) and the numbers a reason shows
whose decimals depend on the holders, for the statements that compute them.

Pure string generation.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from tagging.evaluator import _FLIP, Binding, _Ctx
from tagging.reasons import MISSING, Template, format_scalar
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

Dialect = Literal["duckdb", "spark"]
Shape = Literal["const", "scalar", "column"]

_WINDOWED = ("pct", "community_rank", "community_pct", "center", "mean", "median")


@dataclass(frozen=True)
class SqlValue:
    sql: str
    kind: Literal["num", "str", "bool", "list"]
    shape: Shape
    const: Any = None  # the Python value of a literal or a parameter


@dataclass(frozen=True)
class SqlFact:
    left_label: str | None
    left: SqlValue
    op: str
    right_label: str | None
    right: SqlValue
    holds: str


@dataclass
class ExprCompiler:
    """Compiles rule trees to SQL in one dialect, collecting window columns and shown numbers."""

    dialect: Dialect
    kinds: Mapping[str, str]
    params: Mapping[str, Any]
    windows: dict[str, tuple[str, str, int]] = field(default_factory=dict)  # key -> col, sql, depth
    # Spark: window columns spanning all customers, by column -> (aggregate, value SQL)
    # with aggregate "pct", "avg" or "median"; see `window`
    spans: dict[str, tuple[str, str]] = field(default_factory=dict)
    stats: dict[tuple[str, str], str] = field(default_factory=dict)  # (holders, expr) -> col

    # ------------------------------------------------------------------ spelling
    def q(self, name: str) -> str:
        if self.dialect == "spark":
            return "`" + name.replace("`", "``") + "`"
        return '"' + name.replace('"', '""') + '"'

    def lit(self, text: str) -> str:
        if self.dialect == "spark":
            return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"
        return "'" + text.replace("'", "''") + "'"

    @staticmethod
    def num(x: float) -> str:
        return f"CAST('{float(x)!r}' AS DOUBLE)"

    # ------------------------------------------------------------------ values
    def value(self, node: Node, ctx: _Ctx, bindings: Mapping[str, Binding]) -> SqlValue:
        match node:
            case Num(value=v):
                return SqlValue(self.num(v), "num", "const", float(v))
            case Str(value=v):
                return SqlValue(self.lit(v), "str", "const", v)
            case Bool(value=v):
                return SqlValue("TRUE" if v else "FALSE", "bool", "const", v)
            case ListLit(items=items):
                return SqlValue("NULL", "list", "const", tuple(items))
            case Name(name=name):
                if name in bindings:
                    col = bindings[name].column
                    if col not in self.kinds:
                        return SqlValue("CAST(0 AS DOUBLE)", "num", "column")
                    return SqlValue(self.q(col), self.kinds[col], "column")  # type: ignore[arg-type]
                if name in self.params:
                    return self.param(self.params[name])
                if name in self.kinds:
                    return SqlValue(self.q(name), self.kinds[name], "column")  # type: ignore[arg-type]
                raise ctx.err(f"unknown feature or parameter {name!r}", node)
            case Call():
                return self.call(node, ctx, bindings)
            case Arith(op=op, left=left, right=right):
                a = self.number(self.value(left, ctx, bindings))
                b = self.number(self.value(right, ctx, bindings))
                shape = _widest(a, b)
                if op == "/":
                    # x / 0 is missing, not infinite (the evaluator's rule)
                    r = f"({a.sql}) / NULLIF({b.sql}, 0)"
                    sql = f"CASE WHEN abs({r}) = CAST('Infinity' AS DOUBLE) THEN NULL ELSE {r} END"
                else:
                    sql = f"(({a.sql}) {op} ({b.sql}))"
                return SqlValue(sql, "num", "scalar" if shape == "const" else shape)
            case Neg(operand=o):
                v = self.number(self.value(o, ctx, bindings))
                return SqlValue(f"(-({v.sql}))", "num", "scalar" if v.shape == "const" else v.shape)
            case Compare() | InSet() | BoolOp() | Not():
                return SqlValue(self.cond(node, ctx, bindings, False, None), "bool", "column")
        raise ctx.err(f"cannot evaluate {node!r}", node)  # pragma: no cover

    def param(self, p: Any) -> SqlValue:
        if isinstance(p, list | tuple):
            return SqlValue("NULL", "list", "const", tuple(p))
        if isinstance(p, bool):
            return SqlValue("TRUE" if p else "FALSE", "bool", "const", p)
        if isinstance(p, int | float):
            return SqlValue(self.num(p), "num", "const", p)
        return SqlValue(self.lit(str(p)), "str", "const", p)

    def number(self, v: SqlValue) -> SqlValue:
        """The evaluator's `_num`: booleans as 0/1, text parsed as a number, lists missing."""
        if v.kind == "num":
            return v
        if v.kind == "bool":
            return SqlValue(f"CAST({v.sql} AS DOUBLE)", "num", v.shape, v.const)
        if v.kind == "str":
            return SqlValue(f"TRY_CAST({v.sql} AS DOUBLE)", "num", v.shape)
        return SqlValue("CAST(NULL AS DOUBLE)", "num", "scalar")

    def call(self, node: Call, ctx: _Ctx, bindings: Mapping[str, Binding]) -> SqlValue:
        func, args = node.func, node.args
        if func in _WINDOWED:
            method = func
            key = (
                unparse(node)
                + "|"
                + ",".join(sorted(f"{k}={b.column}" for k, b in bindings.items()))
            )
            if func == "center":
                method = str(self.params.get("center_method", "mean")).lower()
                if method not in ("mean", "median"):
                    raise ctx.err(
                        f"param center_method must be 'mean' or 'median', got {method!r}", node
                    )
                key += "|" + method
            if key not in self.windows:
                x = self.number(self.value(args[0], ctx, bindings))
                self.windows[key] = self.window(method, x)
            col, _, _ = self.windows[key]
            shape: Shape = "scalar" if method in ("mean", "median") else "column"
            return SqlValue(self.q(col), "num", shape)
        vals = [self.number(self.value(a, ctx, bindings)) for a in args]
        shape = _widest(*vals)
        shape = "scalar" if shape == "const" else shape
        inner = ", ".join(v.sql for v in vals)
        if func == "coalesce":
            return SqlValue(f"coalesce({inner})", "num", shape)
        if func in ("min", "max"):
            # least/greatest skip NULLs, as np.fmin/np.fmax skip NaN
            return SqlValue(f"{'least' if func == 'min' else 'greatest'}({inner})", "num", shape)
        if func == "abs":
            return SqlValue(f"abs({inner})", "num", shape)
        if func == "is_null":
            v = self.value(args[0], ctx, bindings)
            if v.shape == "const":
                missing = v.const is None or (isinstance(v.const, float) and np.isnan(v.const))
                return SqlValue("TRUE" if missing else "FALSE", "bool", "const", missing)
            return SqlValue(f"({v.sql} IS NULL)", "bool", "column")
        raise ctx.err(f"unknown function {func!r}", node)  # pragma: no cover

    def window(self, method: str, x: SqlValue) -> tuple[str, str, int]:
        """A window column: its name, its SQL and its layer (after the windows it reads).

        In Spark, columns spanning all customers (``pct``, ``mean``, ``median``) get no
        window SQL: they are recorded in `spans` with the aggregate that computes them, and
        the base spells them as joins and one-row aggregates (`tagging.rank_sql`).
        """
        depth = 1 + max((d for c, _, d in self.windows.values() if self.q(c) in x.sql), default=0)
        col = f"_w{len(self.windows)}"
        # `+ 0.0` makes -0.0 equal to 0.0 for ORDER BY, as numpy compares them
        v = f"(({x.sql}) + 0.0)"
        comm = self.q("community_id")
        has_comm = "community_id" in self.kinds
        agg = {"pct": "pct", "mean": "avg", "median": "median"}.get(method)
        if self.dialect == "spark" and agg:
            self.spans[col] = (agg, v if agg == "pct" else x.sql)
            sql = ""
        elif method == "pct":
            rank = f"rank() OVER (PARTITION BY ({v} IS NULL) ORDER BY {v})"
            sql = f"CASE WHEN {v} IS NULL THEN NULL ELSE {pct_sql(rank, f'count({v}) OVER ()')} END"
        elif method in ("community_rank", "community_pct") and not has_comm:
            sql = "CAST(NULL AS DOUBLE)"
        elif method == "community_rank":
            sql = (
                f"CASE WHEN {comm} IS NULL OR {v} IS NULL THEN NULL ELSE CAST(rank() OVER "
                f"(PARTITION BY {comm}, ({v} IS NULL) ORDER BY {v} DESC) AS DOUBLE) END"
            )
        elif method == "community_pct":
            sql = (
                f"CASE WHEN {comm} IS NULL OR {v} IS NULL THEN NULL ELSE "
                f"CAST(rank() OVER (PARTITION BY {comm}, ({v} IS NULL) ORDER BY {v}) - 1 "
                f"AS DOUBLE) * CAST(100 AS DOUBLE) "
                f"/ CAST(count({v}) OVER (PARTITION BY {comm}) AS DOUBLE) END"
            )
        else:
            sql = f"{agg}({x.sql}) OVER ()"
        return col, sql, depth

    # ------------------------------------------------------------------ conditions
    def cond(
        self,
        node: Node,
        ctx: _Ctx,
        bindings: Mapping[str, Binding],
        negated: bool,
        facts: list[SqlFact] | None,
    ) -> str:
        """A boolean SQL expression that is never NULL (missing compares false)."""
        match node:
            case BoolOp(op=op, operands=ops):
                parts = [self.cond(o, ctx, bindings, negated, facts) for o in ops]
                return "(" + f" {op.upper()} ".join(parts) + ")"
            case Not(operand=o):
                return f"(NOT {self.cond(o, ctx, bindings, not negated, facts)})"
            case Compare(op=op, left=left, right=right):
                a = self.value(left, ctx, bindings)
                b = self.value(right, ctx, bindings)
                mask = self.compare(a, op, b)
                if facts is not None:
                    shown = _FLIP[op] if negated else op
                    holds = self.compare(a, shown, b) if negated else mask
                    facts.append(SqlFact(ctx.label(left), a, shown, ctx.label(right), b, holds))
                return mask
            case InSet(operand=o, items=items, negated=neg):
                a = self.value(o, ctx, bindings)
                lst = self.value(items, ctx, bindings)
                if lst.kind != "list":
                    raise ctx.err("'in' needs a list", items)
                member = self.member(a, lst.const)
                absent = f"(NOT {member} AND {a.sql} IS NOT NULL)"
                mask = absent if neg else member
                if facts is not None:
                    shown_neg = neg != negated
                    facts.append(
                        SqlFact(
                            ctx.label(o),
                            a,
                            "not in" if shown_neg else "in",
                            None,
                            lst,
                            absent if shown_neg else member,
                        )
                    )
                return mask
            case Call(func="is_null"):
                mask = self.call(node, ctx, bindings).sql
                if facts is not None:
                    lbl = ctx.label(node.args[0])
                    op = "is present" if negated else "is missing"
                    missing = SqlValue("NULL", "str", "const", None)
                    holds = f"(NOT {mask})" if negated else mask
                    facts.append(SqlFact(lbl, missing, op, None, missing, holds))
                return mask
            case Bool(value=v):
                return "TRUE" if v else "FALSE"
            case Name():
                v = self.value(node, ctx, bindings)
                if v.shape == "const":
                    return "TRUE" if bool(v.const) else "FALSE"
                if v.kind == "num":
                    # np.asarray(x, dtype=bool): zero is false, a missing value (NaN) true
                    return f"coalesce({v.sql} <> 0, TRUE)"
        raise ctx.err("expected a condition", node)

    def compare(self, a: SqlValue, op: str, b: SqlValue) -> str:
        if "str" in (a.kind, b.kind):
            sym = "=" if op == "==" else "<>"
            return f"coalesce(({a.sql}) {sym} ({b.sql}), FALSE)"
        x, y = self.number(a), self.number(b)
        sym = {"==": "=", "!=": "<>"}.get(op, op)
        return f"coalesce(({x.sql}) {sym} ({y.sql}), FALSE)"

    def member(self, a: SqlValue, items: tuple) -> str:
        if a.shape == "const":
            return "TRUE" if a.const in items else "FALSE"
        if a.kind == "str":
            words = ", ".join(self.lit(str(i).lower()) for i in items)
            return f"coalesce(lower({a.sql}) IN ({words}), FALSE)" if items else "FALSE"
        nums = [float(i) for i in items if not isinstance(i, str)]
        if not nums:
            return "FALSE"
        x = self.number(a)
        return f"coalesce(({x.sql}) IN ({', '.join(self.num(n) for n in nums)}), FALSE)"

    # ------------------------------------------------------------------ reasons
    def text(
        self, v: SqlValue, holders: str, decimals: int | None = None, direct: str = "1"
    ) -> str:
        """How one side of a fact (or a template placeholder) reads, as a SQL string."""
        if v.shape == "const":
            return self.lit(format_scalar(v.const))
        if v.kind == "bool":
            return f"CASE WHEN {v.sql} THEN 'yes' ELSE 'no' END"
        if v.kind == "str":
            return f"coalesce({v.sql}, {self.lit(MISSING)})"
        if v.shape == "scalar":
            return f"gx_fmt_scalar({v.sql})"
        if decimals is not None:
            return f"gx_fmt({v.sql}, {int(decimals)}, {direct})"
        key = (holders, v.sql)
        if key not in self.stats:
            self.stats[key] = f"_d{len(self.stats)}"
        return f"gx_fmt({v.sql}, _dec.{self.q(self.stats[key])}, {direct})"

    def reason(self, facts: list[SqlFact], holders: str, fallback: str, direct: str) -> str:
        pieces = []
        for f in facts:
            if f.op in ("is missing", "is present"):
                piece = self.lit(f"{f.left_label} {f.op}")
            else:
                parts = []
                for label, side in ((f.left_label, f.left), (f.right_label, f.right)):
                    t = self.text(side, holders, direct=direct)
                    parts.append(t if label is None else f"concat({self.lit(label + ' ')}, {t})")
                piece = f"concat({parts[0]}, {self.lit(' ' + f.op + ' ')}, {parts[1]})"
            pieces.append(f"CASE WHEN {f.holds} THEN {piece} END")
        if not pieces:
            return self.lit(fallback)
        joined = f"concat_ws('; ', {', '.join(pieces)})"
        return f"CASE WHEN {joined} = '' THEN {self.lit(fallback)} ELSE {joined} END"

    def template(
        self, tpl: Template, ctx_for: Callable[[Expr], _Ctx], bindings, holders: str
    ) -> str:
        parts = []
        for part in tpl.parts:
            if isinstance(part, str):
                parts.append(self.lit(part))
                continue
            expr, dec = part
            v = self.value(expr.tree, ctx_for(expr), bindings)
            if v.kind == "num" and v.shape == "column":
                parts.append(self.text(v, holders, dec))
            else:
                parts.append(self.text(v, holders))
        if not parts:
            return "''"
        return "concat(" + ", ".join(parts) + ")"

    def score(self, expr: Expr | None, ctx: _Ctx, bindings) -> str:
        """The evaluator's `_scores`: 1.0 where there is no score or it is undefined."""
        if expr is None:
            return "CAST(1 AS DOUBLE)"
        s = self.number(self.value(expr.tree, ctx, bindings)).sql
        return (
            f"CASE WHEN ({s}) IS NULL OR isnan({s}) OR abs({s}) = CAST('Infinity' AS DOUBLE) "
            f"THEN CAST(1 AS DOUBLE) ELSE CAST({s} AS DOUBLE) END"
        )


def _widest(*vals: SqlValue) -> Shape:
    shapes = {v.shape for v in vals}
    return "column" if "column" in shapes else "scalar" if "scalar" in shapes else "const"


def text_type(dialect: Dialect) -> str:
    return "STRING" if dialect == "spark" else "VARCHAR"


def pct_sql(rank: str, total: str) -> str:
    """A percentile from a 1-based rank among `total` values, as `tagging.evaluator` computes it.

    One formula for DuckDB's window and Spark's joined ranks, so the two give the same bits.
    """
    return f"({rank} - 1) * (CAST(100 AS DOUBLE) / {total})"
