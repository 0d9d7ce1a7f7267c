"""The rule language's static checker: every name known, every operand of the right kind.

`check_expr` runs once per rule when a catalog or a segment is loaded, on the tree that
`tagging.rule_parser.parse_expr` built, so that evaluation never meets an unknown name or a
comparison of a string with a number.
"""

from __future__ import annotations

from collections.abc import Mapping

from graph.errors import RuleError
from tagging.rule_tree import (
    FUNCTIONS,
    Arith,
    Bool,
    BoolOp,
    Call,
    Compare,
    Expr,
    InSet,
    Kind,
    ListLit,
    Name,
    Neg,
    Node,
    Not,
    Num,
    Str,
)


def check_expr(
    expr: Expr,
    *,
    names: Mapping[str, Kind],
    want: Kind | None,
    rule_id: str | None = None,
    field: str | None = None,
) -> None:
    """Check that every name is known and the operand kinds fit; the root must be ``want``.

    ``names`` maps every feature and parameter visible to the rule to its kind.

    Raises
    ------
    RuleError
        Unknown name, wrong operand kind, or a root of the wrong kind, with the position.
    """

    def err(msg: str, node: Node) -> RuleError:
        return RuleError(msg, rule_id=rule_id, position=node.pos, field=field)

    def kind(node: Node) -> Kind:
        match node:
            case Num():
                return "num"
            case Str():
                return "str"
            case Bool():
                return "bool"
            case ListLit():
                return "list"
            case Name(name=name):
                if name not in names:
                    close = _close_matches(name, names)
                    hint = f"; did you mean {close}?" if close else ""
                    raise err(f"unknown feature or parameter {name!r}{hint}", node)
                return names[name]
            case Call(func=func, args=args):
                arg_kinds = [kind(a) for a in args]
                if func == "is_null":
                    return "bool"
                for a, k in zip(args, arg_kinds, strict=True):
                    if k != "num":
                        raise err(f"{func}() needs a numeric argument, got a {k}", a)
                return FUNCTIONS[func][2]
            case Arith(left=left, right=right):
                for side in (left, right):
                    if kind(side) != "num":
                        raise err(f"'{node.op}' needs numbers on both sides", side)
                return "num"
            case Neg(operand=operand):
                if kind(operand) != "num":
                    raise err("'-' needs a number", operand)
                return "num"
            case Compare(op=op, left=left, right=right):
                lk, rk = kind(left), kind(right)
                if lk == "num" and rk == "num":
                    return "bool"
                if lk == rk and lk in ("str", "bool") and op in ("==", "!="):
                    return "bool"
                raise err(f"cannot compare a {lk} with a {rk} using {op!r}", node)
            case InSet(operand=operand, items=items):
                ok = kind(operand)
                if ok not in ("num", "str"):
                    raise err(f"'in' needs a number or a string on the left, got a {ok}", operand)
                if kind(items) != "list":
                    raise err("'in' needs a list on the right", items)
                return "bool"
            case BoolOp(operands=operands):
                for o in operands:
                    if kind(o) != "bool":
                        raise err(f"'{node.op}' needs conditions, not a {kind(o)}", o)
                return "bool"
            case Not(operand=operand):
                if kind(operand) != "bool":
                    raise err("'not' needs a condition", operand)
                return "bool"
        raise err(f"unsupported expression {node!r}", node)  # pragma: no cover

    got = kind(expr.tree)
    if want is not None and got != want:
        what = {"bool": "a condition (true/false)", "num": "a number"}.get(want, f"a {want}")
        raise err(f"expression must be {what}, got a {got}", expr.tree)


def _close_matches(name: str, names: Mapping[str, Kind]) -> str:
    import difflib

    found = difflib.get_close_matches(name, list(names), n=3)
    return ", ".join(repr(f) for f in found)
