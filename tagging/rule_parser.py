"""The rule language's recursive-descent parser, with its depth and length limits.

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

The nodes it builds live in `tagging.rule_tree`.

Limits: an expression holds at most `MAX_LENGTH` characters and nests at most `MAX_DEPTH`
levels. The parser, the checker and the evaluator walk the tree recursively, so without a
bound a pasted or generated expression (a thousand ``not`` operators, a long ``a + a + ...`` chain)
would exhaust Python's stack and surface as an internal error instead of a `RuleError`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from graph.errors import RuleError
from tagging.rule_tokens import Token, tokenize
from tagging.rule_tree import (
    FUNCTIONS,
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
)

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
