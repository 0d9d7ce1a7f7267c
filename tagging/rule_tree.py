"""The rule language's tree: the node dataclasses, the function table and `Expr`.

Rules are small boolean expressions over per-customer features, for example
``pct(pagerank) >= opinion_leader_pct and in_degree >= opinion_leader_min_in_degree``.
`tagging.rule_parser` turns their text into a tree of the frozen dataclasses below, and they are
never handed to Python's ``eval``: user text can only compare, combine and call the functions
of `FUNCTIONS`. `tagging.rule_check` checks a tree's names and kinds.

A NAME is a feature (a column of the feature table) or a parameter from the catalog's
``[params]`` table; parameters let users change thresholds without rewriting rules.

Every node keeps the 0-based character ``pos`` where it starts, so errors can point at it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["num", "bool", "str", "list"]


@dataclass(frozen=True, slots=True)
class Num:
    value: float
    pos: int
    end: int


@dataclass(frozen=True, slots=True)
class Str:
    value: str
    pos: int
    end: int


@dataclass(frozen=True, slots=True)
class Bool:
    value: bool
    pos: int
    end: int


@dataclass(frozen=True, slots=True)
class ListLit:
    items: tuple[float | str, ...]
    pos: int
    end: int


@dataclass(frozen=True, slots=True)
class Name:
    name: str
    pos: int
    end: int


@dataclass(frozen=True, slots=True)
class Call:
    func: str
    args: tuple[Node, ...]
    pos: int
    end: int


@dataclass(frozen=True, slots=True)
class Arith:
    op: str
    left: Node
    right: Node
    pos: int
    end: int


@dataclass(frozen=True, slots=True)
class Neg:
    operand: Node
    pos: int
    end: int


@dataclass(frozen=True, slots=True)
class Compare:
    op: str
    left: Node
    right: Node
    pos: int
    end: int


@dataclass(frozen=True, slots=True)
class InSet:
    operand: Node
    items: Node  # ListLit or Name of a list parameter
    negated: bool
    pos: int
    end: int


@dataclass(frozen=True, slots=True)
class BoolOp:
    op: str  # "and" | "or"
    operands: tuple[Node, ...]
    pos: int
    end: int


@dataclass(frozen=True, slots=True)
class Not:
    operand: Node
    pos: int
    end: int


Node = Num | Str | Bool | ListLit | Name | Call | Arith | Neg | Compare | InSet | BoolOp | Not


#: Functions of the language: name -> (min args, max args (None = any), result kind).
#: ``pct``: share of customers with a strictly lower value, x 100 (top 1% -> >= 99).
#: ``community_rank``: rank within the customer's community, 1 = highest, ties share the best.
#: ``community_pct``: ``pct`` computed within the community.
#: ``center``: the mean or median over customers (catalog param ``center_method``).
FUNCTIONS: dict[str, tuple[int, int | None, Kind]] = {
    "pct": (1, 1, "num"),
    "community_rank": (1, 1, "num"),
    "community_pct": (1, 1, "num"),
    "center": (1, 1, "num"),
    "mean": (1, 1, "num"),
    "median": (1, 1, "num"),
    "coalesce": (2, None, "num"),
    "min": (2, None, "num"),
    "max": (2, None, "num"),
    "abs": (1, 1, "num"),
    "is_null": (1, 1, "bool"),
}


@dataclass(frozen=True)
class Expr:
    """A parsed expression: the source text and its tree."""

    text: str
    tree: Node

    def source(self, node: Node) -> str:
        """The source text a node was parsed from (used to label sub-expressions)."""
        return self.text[node.pos : node.end].strip()


def names_in(node: Node) -> set[str]:
    """All NAME identifiers used in a tree."""
    out: set[str] = set()
    stack: list[Node] = [node]
    while stack:
        n = stack.pop()
        match n:
            case Name(name=name):
                out.add(name)
            case Call(args=args):
                stack.extend(args)
            case Arith(left=left, right=right) | Compare(left=left, right=right):
                stack.extend((left, right))
            case Neg(operand=o) | Not(operand=o):
                stack.append(o)
            case InSet(operand=o, items=items):
                stack.extend((o, items))
            case BoolOp(operands=ops):
                stack.extend(ops)
    return out


def unparse(node: Node) -> str:
    """A canonical text for a tree, independent of spacing (used as a cache key)."""
    match node:
        case Num(value=v):
            return repr(v)
        case Str(value=v):
            return repr(v)
        case Bool(value=v):
            return "true" if v else "false"
        case ListLit(items=items):
            return "[" + ", ".join(repr(i) for i in items) + "]"
        case Name(name=name):
            return name
        case Call(func=func, args=args):
            return f"{func}(" + ", ".join(unparse(a) for a in args) + ")"
        case Arith(op=op, left=left, right=right):
            return f"({unparse(left)} {op} {unparse(right)})"
        case Neg(operand=o):
            return f"(-{unparse(o)})"
        case Compare(op=op, left=left, right=right):
            return f"({unparse(left)} {op} {unparse(right)})"
        case InSet(operand=o, items=items, negated=neg):
            return f"({unparse(o)} {'not in' if neg else 'in'} {unparse(items)})"
        case BoolOp(op=op, operands=ops):
            return "(" + f" {op} ".join(unparse(o) for o in ops) + ")"
        case Not(operand=o):
            return f"(not {unparse(o)})"
    raise TypeError(node)  # pragma: no cover
