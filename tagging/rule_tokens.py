"""The rule language's tokenizer: expression text to `Token`s, keywords lower-cased.

`tagging.rule_parser` reads the tokens; a character that cannot start a token is refused here
with its position.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from graph.errors import RuleError

KEYWORDS = ("and", "or", "not", "in", "true", "false")


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
