"""Segments: boolean expressions over tag ids, evaluated as set algebra over customers.

``opinion_leader AND NOT churn_risk`` or
``(rfm_important_value OR high_net_worth) AND interest:investment``. Operators are
case-insensitive; a tag id is any run of characters other than spaces and parentheses, so
family tags (``prefers:wealth_management``, ``interest:理财``) need no quoting.
Precedence: NOT binds tightest, then AND, then OR.

Limits: at most `MAX_LENGTH` characters and `MAX_DEPTH` levels, where each ``NOT`` and each
pair of parentheses is a level (``AND`` / ``OR`` chains are flat and cost nothing). Parsing
and evaluation recurse once per level, so the bound is what keeps a pasted expression of a
thousand ``NOT`` operators a `RuleError` (422 over HTTP) instead of a stack overflow.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa

from graph.errors import RuleError
from tagging.rule_parser import MAX_DEPTH, MAX_LENGTH


@dataclass(frozen=True, slots=True)
class SegTag:
    tag_id: str
    pos: int


@dataclass(frozen=True, slots=True)
class SegNot:
    operand: SegNode
    pos: int


@dataclass(frozen=True, slots=True)
class SegOp:
    op: str  # "and" | "or"
    operands: tuple[SegNode, ...]
    pos: int


SegNode = SegTag | SegNot | SegOp

_TOKEN = re.compile(r"\s+|(?P<lp>\()|(?P<rp>\))|(?P<word>[^\s()]+)")
_OPS = ("and", "or", "not")


def _tokens(expr: str) -> list[tuple[str, str, int]]:
    out: list[tuple[str, str, int]] = []
    for m in _TOKEN.finditer(expr):
        if m.group("lp"):
            out.append(("(", "(", m.start()))
        elif m.group("rp"):
            out.append((")", ")", m.start()))
        elif m.group("word"):
            w = m.group("word")
            if w.lower() in _OPS:
                out.append((w.lower(), w, m.start()))
            elif w in ("&&", "||", "!", "&", "|"):
                raise RuleError(f"unknown operator {w!r}; use AND, OR, NOT", position=m.start())
            else:
                out.append(("tag", w, m.start()))
    out.append(("eof", "", len(expr)))
    return out


def parse_segment(expr: str) -> SegNode:
    """Parse a segment expression.

    Raises
    ------
    RuleError
        With ``position`` (0-based) of the offending token; ``rule_id`` is None.

    Examples
    --------
    >>> parse_segment("opinion_leader AND NOT churn_risk").op
    'and'
    """
    if not isinstance(expr, str):
        raise RuleError("segment expression must be a string", position=0)
    if len(expr) > MAX_LENGTH:
        raise RuleError(
            f"segment expression is {len(expr)} characters long, the limit is {MAX_LENGTH}; "
            "shorten it, e.g. by defining a tag for a recurring part",
            position=MAX_LENGTH,
        )
    toks = _tokens(expr)
    i = 0
    depth = 0

    def peek() -> tuple[str, str, int]:
        return toks[i]

    def describe(t: tuple[str, str, int]) -> str:
        return "end of expression" if t[0] == "eof" else repr(t[1])

    def parse_or() -> SegNode:
        nonlocal i
        items = [parse_and()]
        while peek()[0] == "or":
            i += 1
            items.append(parse_and())
        return items[0] if len(items) == 1 else SegOp("or", tuple(items), items[0].pos)

    def parse_and() -> SegNode:
        nonlocal i
        items = [parse_not()]
        while peek()[0] == "and":
            i += 1
            items.append(parse_not())
        return items[0] if len(items) == 1 else SegOp("and", tuple(items), items[0].pos)

    def enter(t: tuple[str, str, int]) -> None:
        nonlocal depth
        depth += 1
        if depth > MAX_DEPTH:
            raise RuleError(
                f"segment nests more than {MAX_DEPTH} levels deep (each NOT and each pair of "
                "parentheses adds one); simplify it",
                position=t[2],
            )

    def parse_not() -> SegNode:
        nonlocal i, depth
        t = peek()
        if t[0] == "not":
            i += 1
            enter(t)
            node = SegNot(parse_not(), t[2])
            depth -= 1
            return node
        if t[0] == "(":
            i += 1
            enter(t)
            inner = parse_or()
            if peek()[0] != ")":
                raise RuleError(f"expected ')' but found {describe(peek())}", position=peek()[2])
            i += 1
            depth -= 1
            return inner
        if t[0] == "tag":
            i += 1
            return SegTag(t[1], t[2])
        raise RuleError(f"expected a tag id, NOT or '(' but found {describe(t)}", position=t[2])

    if toks[0][0] == "eof":
        raise RuleError("empty segment expression", position=0)
    tree = parse_or()
    if peek()[0] != "eof":
        t = peek()
        raise RuleError(f"unexpected {describe(t)}; join conditions with AND / OR", position=t[2])
    return tree


def segment_tags(tree: SegNode) -> list[tuple[str, int]]:
    """The tag ids (with positions) a segment uses, in order.

    Walks the tree with an explicit stack, so it holds for any tree, parsed or built by hand.
    """
    out: list[tuple[str, int]] = []
    stack: list[SegNode] = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, SegTag):
            out.append((node.tag_id, node.pos))
        elif isinstance(node, SegNot):
            stack.append(node.operand)
        else:
            stack.extend(reversed(node.operands))
    return out


def _as_str_series(ids: Iterable[str]) -> pd.Series:
    if isinstance(ids, pa.Array | pa.ChunkedArray):
        return pd.Series(ids.to_pandas(), dtype="str")
    if isinstance(ids, np.ndarray | pd.Index | pd.Series):
        return pd.Series(np.asarray(ids), dtype="str")
    return pd.Series(list(ids), dtype="str")


def evaluate_segment(
    tree: SegNode | str,
    assignments: pd.DataFrame,
    *,
    all_customer_ids: Iterable[str] | None = None,
    known_tags: Iterable[str] | None = None,
) -> np.ndarray:
    """The sorted customer ids in a segment.

    Parameters
    ----------
    tree
        A parsed segment (or its text).
    assignments
        Tag assignments (``customer_id``, ``tag_id``) of one run.
    all_customer_ids
        The universe for NOT (any iterable, numpy/pandas/Arrow array); defaults to the
        customers that hold any tag in ``assignments`` (every customer holds a lifecycle
        stage, so that is everyone).
    known_tags
        When given, a tag id outside it raises (catches typos that would silently match
        nobody); a tag that merely nobody holds is fine.

    Raises
    ------
    RuleError
        Unknown tag id (with position) when ``known_tags`` is given, or a parse error.
    """
    if isinstance(tree, str):
        tree = parse_segment(tree)
    if known_tags is not None:
        known = set(known_tags)
        for tid, pos in segment_tags(tree):
            if tid not in known:
                raise RuleError(f"unknown tag {tid!r}", position=pos)
    cust = assignments["customer_id"].astype("str")
    if all_customer_ids is None:
        universe = pd.Index(pd.unique(cust)).sort_values()
    else:
        universe = pd.Index(pd.unique(_as_str_series(all_customer_ids))).sort_values()
    codes = universe.get_indexer(cust)
    tags = assignments["tag_id"].astype("str").to_numpy()
    n = len(universe)
    cache: dict[str, np.ndarray] = {}

    def holders(tid: str) -> np.ndarray:
        if tid not in cache:
            m = np.zeros(n, dtype=bool)
            sel = (tags == tid) & (codes >= 0)
            m[codes[sel]] = True
            cache[tid] = m
        return cache[tid]

    def ev(node: SegNode) -> np.ndarray:
        if isinstance(node, SegTag):
            return holders(node.tag_id)
        if isinstance(node, SegNot):
            return ~ev(node.operand)
        # Folded in place one operand at a time: a long OR chain over a million customers
        # holds two masks at once, not one per operand.
        out = ev(node.operands[0]).copy()
        for o in node.operands[1:]:
            if node.op == "and":
                out &= ev(o)
            else:
                out |= ev(o)
        return out

    return universe[ev(tree)].to_numpy(dtype=object)
