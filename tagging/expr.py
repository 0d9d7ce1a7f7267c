"""The rule language: tokenizer, recursive-descent parser and static checker.

Rules are small boolean expressions over per-customer features, for example
``pct(pagerank) >= opinion_leader_pct and in_degree >= opinion_leader_min_in_degree``.
They are parsed by this module into a tree of frozen dataclasses and never handed to
Python's ``eval``: user text can only compare, combine and call the few functions below.

Grammar (keywords are case-insensitive)::

    expr    := or
    or      := and ("or" and)*
    and     := not ("and" not)*
    not     := "not" not | cmp
    cmp     := sum [("<" | "<=" | ">" | ">=" | "==" | "!=") sum
                   | ["not"] "in" (list | NAME)]
    sum     := prod (("+" | "-") prod)*
    prod    := unary (("*" | "/") unary)*
    unary   := "-" unary | atom
    atom    := NUMBER | STRING | "true" | "false" | NAME | NAME "(" [expr ("," expr)*] ")"
             | "(" expr ")" | list
    list    := "[" [literal ("," literal)*] "]"

A NAME is a feature (a column of the feature table) or a parameter from the catalog's
``[params]`` table; parameters let users change thresholds without rewriting rules.

Every node keeps the 0-based character ``pos`` where it starts, so errors can point at it.

Limits: an expression holds at most `MAX_LENGTH` characters and nests at most `MAX_DEPTH`
levels. The parser, the checker and the evaluator walk the tree recursively, so without a
bound a pasted or generated expression (a thousand ``not`` operators, a long ``a + a + ...`` chain)
would exhaust Python's stack and surface as an internal error instead of a `RuleError`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from graph.errors import RuleError

Kind = Literal["num", "bool", "str", "list"]

# --------------------------------------------------------------------------- tree


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

#: The longest expression accepted, in characters: the API's limit on a segment expression,
#: and far above any rule of the shipped catalog.
MAX_LENGTH = 4000
#: The deepest nesting accepted. Every operator (``and``, ``or``, ``not``, a comparison,
#: ``in``, ``+ - * /``, unary ``-``, a function call) is one level above its operands, and
#: each pair of parentheses is a level of its own: ``not (a > 1)`` is three levels deep and
#: ``a + b + c`` two, because the tree grows one node deeper per operator of a chain.
#: Hand-written rules stay below ten; the bound keeps every recursive walk (parser, checker,
#: evaluator) well inside Python's default recursion limit.
MAX_DEPTH = 64

COMPARISONS = ("<=", ">=", "==", "!=", "<", ">")
KEYWORDS = ("and", "or", "not", "in", "true", "false")


@dataclass(frozen=True)
class Expr:
    """A parsed expression: the source text and its tree."""

    text: str
    tree: Node

    def source(self, node: Node) -> str:
        """The source text a node was parsed from (used to label sub-expressions)."""
        return self.text[node.pos : node.end].strip()


# --------------------------------------------------------------------------- tokens


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # num, str, name, op, kw, eof
    value: str
    pos: int
    end: int


_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<str>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op><=|>=|==|!=|<|>|\+|-|\*|/|\(|\)|\[|\]|,)
    """,
    re.VERBOSE,
)


def tokenize(text: str, *, rule_id: str | None = None, field: str | None = None) -> list[Token]:
    """Split an expression into tokens.

    Raises
    ------
    RuleError
        On a character that cannot start a token, with its position.
    """
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if m is None:
            ch = text[pos]
            hint = "; use '==' to compare" if ch == "=" else ""
            raise RuleError(
                f"unexpected character {ch!r}{hint}", rule_id=rule_id, position=pos, field=field
            )
        kind = m.lastgroup or ""
        value = m.group()
        if kind == "name" and value.lower() in KEYWORDS:
            kind, value = "kw", value.lower()
        if kind == "str":
            value = re.sub(r"\\(.)", r"\1", value[1:-1])
        if kind != "ws":
            tokens.append(Token(kind, value, m.start(), m.end()))
        pos = m.end()
    tokens.append(Token("eof", "", len(text), len(text)))
    return tokens


# --------------------------------------------------------------------------- parser


class _Parser:
    def __init__(self, text: str, rule_id: str | None, field: str | None) -> None:
        self.text = text
        self.rule_id = rule_id
        self.field = field
        if len(text) > MAX_LENGTH:
            raise RuleError(
                f"expression is {len(text)} characters long, the limit is {MAX_LENGTH}; "
                "split it into several rules",
                rule_id=rule_id,
                position=MAX_LENGTH,
                field=field,
            )
        self.tokens = tokenize(text, rule_id=rule_id, field=field)
        self.i = 0
        self.depth = 0
        # Levels a node carries without a node of its own: parentheses around it and minus
        # signs folded into a literal. Keyed by id; the node is kept so the id stays unique.
        self.hidden: dict[int, tuple[Node, int]] = {}

    # helpers
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def error(self, message: str, pos: int | None = None) -> RuleError:
        return RuleError(
            message,
            rule_id=self.rule_id,
            position=self.tok.pos if pos is None else pos,
            field=self.field,
        )

    def at(self, kind: str, value: str | None = None) -> bool:
        t = self.tok
        return t.kind == kind and (value is None or t.value == value)

    def take(self) -> Token:
        t = self.tok
        self.i += 1
        return t

    def expect(self, kind: str, value: str) -> Token:
        if not self.at(kind, value):
            raise self.error(f"expected {value!r} but found {self._describe(self.tok)}")
        return self.take()

    def enter(self, t: Token) -> None:
        """Open a nesting level at token ``t``; refuse one beyond `MAX_DEPTH` before recursing."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(_too_deep(), t.pos)

    def leave(self) -> None:
        self.depth -= 1

    def hide(self, node: Node, inner: Node) -> Node:
        """Record that ``node`` stands for ``inner`` one hidden level further out."""
        self.hidden[id(node)] = (node, self.hidden.get(id(inner), (inner, 0))[1] + 1)
        return node

    @staticmethod
    def _describe(t: Token) -> str:
        return "end of expression" if t.kind == "eof" else repr(t.value)

    # grammar
    def parse(self) -> Node:
        if self.at("eof"):
            raise self.error("empty expression")
        node = self.parse_or()
        if not self.at("eof"):
            raise self.error(f"unexpected {self._describe(self.tok)} after a complete expression")
        too_deep = _first_too_deep(node, {k: n for k, (_, n) in self.hidden.items()})
        if too_deep is not None:
            raise self.error(_too_deep(), too_deep)
        return node

    def parse_or(self) -> Node:
        return self._bool_chain("or", self.parse_and)

    def parse_and(self) -> Node:
        return self._bool_chain("and", self.parse_not)

    def _bool_chain(self, op: str, sub: Callable[[], Node]) -> Node:
        first = sub()
        items = [first]
        while self.at("kw", op):
            self.take()
            items.append(sub())
        if len(items) == 1:
            return first
        return BoolOp(op, tuple(items), first.pos, items[-1].end)

    def parse_not(self) -> Node:
        if self.at("kw", "not"):
            t = self.take()
            self.enter(t)
            operand = self.parse_not()
            self.leave()
            return Not(operand, t.pos, operand.end)
        return self.parse_cmp()

    def parse_cmp(self) -> Node:
        left = self.parse_sum()
        if self.at("op") and self.tok.value in COMPARISONS:
            op = self.take().value
            right = self.parse_sum()
            return Compare(op, left, right, left.pos, right.end)
        negated = False
        if (
            self.at("kw", "not")
            and self.tokens[self.i + 1].kind == "kw"
            and (self.tokens[self.i + 1].value == "in")
        ):
            self.take()
            negated = True
        if self.at("kw", "in"):
            self.take()
            if self.at("op", "["):
                items: Node = self.parse_list()
            elif self.at("name"):
                t = self.take()
                items = Name(t.value, t.pos, t.end)
            else:
                raise self.error(
                    f"expected a list [..] or a list parameter after 'in' but found "
                    f"{self._describe(self.tok)}"
                )
            return InSet(left, items, negated, left.pos, items.end)
        if negated:
            raise self.error("expected 'in' after 'not'")
        return left

    def parse_sum(self) -> Node:
        node = self.parse_prod()
        while self.at("op") and self.tok.value in ("+", "-"):
            op = self.take().value
            right = self.parse_prod()
            node = Arith(op, node, right, node.pos, right.end)
        return node

    def parse_prod(self) -> Node:
        node = self.parse_unary()
        while self.at("op") and self.tok.value in ("*", "/"):
            op = self.take().value
            right = self.parse_unary()
            node = Arith(op, node, right, node.pos, right.end)
        return node

    def parse_unary(self) -> Node:
        if self.at("op", "-"):
            t = self.take()
            self.enter(t)
            operand = self.parse_unary()
            self.leave()
            if isinstance(operand, Num):
                return self.hide(Num(-operand.value, t.pos, operand.end), operand)
            return Neg(operand, t.pos, operand.end)
        return self.parse_atom()

    def parse_atom(self) -> Node:
        t = self.tok
        if t.kind == "num":
            self.take()
            return Num(float(t.value), t.pos, t.end)
        if t.kind == "str":
            self.take()
            return Str(t.value, t.pos, t.end)
        if t.kind == "kw" and t.value in ("true", "false"):
            self.take()
            return Bool(t.value == "true", t.pos, t.end)
        if t.kind == "name":
            self.take()
            if self.at("op", "("):
                return self.parse_call(t)
            return Name(t.value, t.pos, t.end)
        if t.kind == "op" and t.value == "(":
            self.take()
            self.enter(t)
            inner = self.parse_or()
            close = self.expect("op", ")")
            self.leave()
            # Keep the inner node but widen its span to include the parentheses.
            return self.hide(_with_span(inner, t.pos, close.end), inner)
        if t.kind == "op" and t.value == "[":
            return self.parse_list()
        raise self.error(f"expected a value, a name or '(' but found {self._describe(t)}")

    def parse_call(self, name: Token) -> Node:
        func = name.value.lower()
        if func not in FUNCTIONS:
            known = ", ".join(sorted(FUNCTIONS))
            raise self.error(f"unknown function {name.value!r}; known: {known}", name.pos)
        self.expect("op", "(")
        self.enter(name)
        args: list[Node] = []
        if not self.at("op", ")"):
            args.append(self.parse_or())
            while self.at("op", ","):
                self.take()
                args.append(self.parse_or())
        close = self.expect("op", ")")
        self.leave()
        lo, hi, _ = FUNCTIONS[func]
        if len(args) < lo or (hi is not None and len(args) > hi):
            want = str(lo) if lo == hi else f"at least {lo}"
            raise self.error(f"{func}() takes {want} argument(s), got {len(args)}", name.pos)
        return Call(func, tuple(args), name.pos, close.end)

    def parse_list(self) -> ListLit:
        start = self.expect("op", "[")
        items: list[float | str] = []
        if not self.at("op", "]"):
            items.append(self._literal())
            while self.at("op", ","):
                self.take()
                items.append(self._literal())
        close = self.expect("op", "]")
        return ListLit(tuple(items), start.pos, close.end)

    def _literal(self) -> float | str:
        t = self.tok
        sign = 1.0
        if t.kind == "op" and t.value == "-":
            self.take()
            sign, t = -1.0, self.tok
            if t.kind != "num":
                raise self.error("expected a number after '-'")
        if t.kind == "num":
            self.take()
            return sign * float(t.value)
        if t.kind == "str":
            self.take()
            return t.value
        raise self.error(f"list items must be numbers or strings, found {self._describe(t)}")


def _too_deep() -> str:
    return (
        f"expression nests more than {MAX_DEPTH} levels deep (every operator, function call "
        "and pair of parentheses adds one); simplify it or split it into several rules"
    )


def _children(node: Node) -> tuple[Node, ...]:
    match node:
        case Call(args=args):
            return args
        case Arith(left=left, right=right) | Compare(left=left, right=right):
            return (left, right)
        case Neg(operand=o) | Not(operand=o):
            return (o,)
        case InSet(operand=o, items=items):
            return (o, items)
        case BoolOp(operands=ops):
            return ops
    return ()


def _first_too_deep(tree: Node, hidden: Mapping[int, int]) -> int | None:
    """Where the tree first grows past `MAX_DEPTH` levels, or None when it does not.

    Computed without recursion (the tree may be arbitrarily deep here: ``+`` chains are
    parsed by a loop). Leaves are level 0 and every operator node one more than its deepest
    child; ``hidden`` adds the parentheses and folded minus signs, which leave no node. The
    position reported is that of the operand which takes its parent past the limit, so for
    ``a + a + ...`` it points at the first term too many rather than at the start of the
    chain.
    """
    depth: dict[int, int] = {}
    stack: list[tuple[Node, bool]] = [(tree, False)]
    while stack:
        node, done = stack.pop()
        kids = _children(node)
        if not done:
            stack.append((node, True))
            stack.extend((k, False) for k in kids)
            continue
        d = (1 + max(depth[id(k)] for k in kids) if kids else 0) + hidden.get(id(node), 0)
        if d > MAX_DEPTH:
            if not kids:
                return node.pos
            deep = max(kids, key=lambda k: depth[id(k)])
            later = [k for k in kids if k.pos > deep.pos]
            return later[0].pos if later else node.pos
        depth[id(node)] = d
    return None


def _with_span(node: Node, pos: int, end: int) -> Node:
    fields = {f: getattr(node, f) for f in node.__slots__}  # type: ignore[union-attr]
    fields["pos"], fields["end"] = pos, end
    return type(node)(**fields)


def parse_expr(text: str, *, rule_id: str | None = None, field: str | None = None) -> Expr:
    """Parse a rule expression into a tree (syntax only; names are checked by `check_expr`).

    Raises
    ------
    RuleError
        With ``rule_id``, ``field`` and the 0-based ``position`` of the offending token.

    Examples
    --------
    >>> parse_expr("pct(pagerank) >= 99 and in_degree >= 10").tree.op
    'and'
    """
    if not isinstance(text, str):
        raise RuleError("expression must be a string", rule_id=rule_id, field=field)
    return Expr(text, _Parser(text, rule_id, field).parse())


# --------------------------------------------------------------------------- checker


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
