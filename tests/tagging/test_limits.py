"""Depth and size limits of the rule and segment languages.

Generated expressions carry their own level count and their own expected result, computed
here with numpy and Python sets, independently of the parser and the evaluators: an
expression is accepted exactly when it is within `MAX_LENGTH` and `MAX_DEPTH`, an accepted one
evaluates to the reference mask, and nothing but `RuleError` ever comes out.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from graph.errors import RuleError
from tagging.evaluator import Evaluator
from tagging.rule_check import check_expr
from tagging.rule_parser import MAX_DEPTH, MAX_LENGTH, parse_expr
from tagging.rules import load_rules, parse_rules
from tagging.segments import evaluate_segment, parse_segment

A = np.array([-2.0, -0.5, 0.0, 0.5, 1.0, 2.0, np.nan])
FEATURES = pd.DataFrame({"a": A, "community_id": ["x"] * len(A)})
NAMES = {"a": "num"}
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _outcome(text: str) -> np.ndarray | RuleError:
    """Parse, check and evaluate ``text``: the mask, or the `RuleError` it raised."""
    try:
        expr = parse_expr(text, rule_id="r", field="when")
        check_expr(expr, names=NAMES, want="bool", rule_id="r", field="when")
        mask, _ = Evaluator(FEATURES, {}).condition(expr, rule_id="r")
    except RuleError as exc:
        return exc
    return mask


# --------------------------------------------------------------------------- rule language


@dataclass(frozen=True)
class Gen:
    """A generated expression: its text, its level count, its top form and reference value."""

    text: str
    levels: int
    top: str  # "atom", "add", "mul", "cmp", "and", "not", "paren"
    value: np.ndarray


def _num_step(g: Gen, step: str) -> Gen:
    """Wrap a numeric expression once; ``step`` is applied only where it keeps the tree shape."""
    if step == "paren":
        return Gen(f"({g.text})", g.levels + 1, "paren", g.value)
    if step == "neg" and g.top in ("atom", "paren"):
        return Gen(f"-{g.text}", g.levels + 1, "neg", -g.value)
    if step == "abs":
        return Gen(f"abs({g.text})", g.levels + 1, "atom", np.abs(g.value))
    if step == "add":  # left-deep: every + is one level
        return Gen(f"{g.text} + a", g.levels + 1, "add", g.value + A)
    if step == "mul" and g.top != "add":
        return Gen(f"{g.text} * a", g.levels + 1, "mul", g.value * A)
    return g


def _bool_step(g: Gen, step: str) -> Gen:
    if step == "paren":
        return Gen(f"({g.text})", g.levels + 1, "paren", g.value)
    if step == "not" and g.top in ("cmp", "not", "paren"):
        return Gen(f"not {g.text}", g.levels + 1, "not", ~g.value)
    if step == "and":  # "x and a > 1": one flat and-list however long
        levels = g.levels if g.top == "and" else max(g.levels, 1) + 1
        return Gen(f"{g.text} and a > 1", levels, "and", g.value & (A > 1))
    return g


#: How many wrapping steps to draw: often right at the limit, where off-by-one errors live.
STEPS = st.integers(MAX_DEPTH - 3, MAX_DEPTH + 3) | st.integers(0, 2 * MAX_DEPTH)


def _steps(draw, names: list[str], n: int) -> list[str]:
    return draw(st.lists(st.sampled_from(names), min_size=n, max_size=n))


@st.composite
def nested_rules(draw) -> Gen:
    total = draw(STEPS)
    numeric = draw(st.integers(0, total))
    g = Gen("a", 0, "atom", A.copy())
    for step in _steps(draw, ["paren", "neg", "abs", "add", "mul"], numeric):
        g = _num_step(g, step)
    with np.errstate(invalid="ignore", over="ignore"):
        value = g.value > 1
    g = Gen(f"{g.text} > 1", g.levels + 1, "cmp", value)
    for step in _steps(draw, ["paren", "not", "and"], total - numeric):
        g = _bool_step(g, step)
    return g


@SETTINGS
@given(nested_rules())
def test_generated_rule_accepted_exactly_within_limits_and_evaluates_right(g):
    got = _outcome(g.text)
    event("accepted" if not isinstance(got, RuleError) else "refused")
    if len(g.text) <= MAX_LENGTH and g.levels <= MAX_DEPTH:
        assert not isinstance(got, RuleError), (g.text, g.levels, got)
        np.testing.assert_array_equal(got, g.value)
    else:
        assert isinstance(got, RuleError), (g.text, g.levels)
        assert got.rule_id == "r" and got.field == "when"
        assert 0 <= got.position <= min(len(g.text), MAX_LENGTH)
        assert "levels deep" in str(got) or "characters long" in str(got)


_RULE_TOKENS = [
    "(", ")", "[", "]", ",", "not", "and", "or", "in", "-", "+", "*", "/", "<", ">=", "==",
    "!=", "a", "pct", "abs", "min", "coalesce", "is_null", "1", "0.5", "1e999", "'x'", '"y"',
    "true", "=", "$", "'", '"', "\\", "`", "理财", "😀", "\t", "\x00", "nan", "A",
]  # fmt: skip


@SETTINGS
@given(
    st.lists(st.sampled_from(_RULE_TOKENS), max_size=300).map(" ".join)
    | st.text(max_size=300)
    | st.builds(
        lambda k, n: k * n, st.sampled_from(["not ", "(", "-", "abs(", "a+"]), st.integers(0, 1200)
    )
)
def test_hostile_rule_text_raises_only_rule_error(text):
    got = _outcome(text)
    if isinstance(got, RuleError):
        assert got.position is None or 0 <= got.position <= max(len(text), MAX_LENGTH)
    else:
        assert got.dtype == bool and got.shape == A.shape


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ("not " * 999 + "a > 1", MAX_LENGTH),  # 4,001 characters: the length limit first
        ("not " * 900 + "a > 1", 4 * MAX_DEPTH),  # the first 'not' too many
        ("(" * 300 + "a > 1" + ")" * 300, MAX_DEPTH),
        ("-" * 300 + "a > 1", MAX_DEPTH),
        ("abs(" * 100 + "a" + ")" * 100 + " > 1", 4 * MAX_DEPTH),
        ("+".join(["a"] * 1500) + " > 1", 2 * (MAX_DEPTH + 1)),  # the first term too many
        ("a" * (MAX_LENGTH + 1), MAX_LENGTH),
    ],
)
def test_too_deep_or_too_long_rule_names_the_position(text, position):
    with pytest.raises(RuleError) as exc:
        parse_expr(text, rule_id="r", field="when")
    assert exc.value.position == position
    assert exc.value.rule_id == "r"


def test_deepest_accepted_rules_parse():
    for text in (
        "not " * (MAX_DEPTH - 1) + "a > 1",
        "(" * (MAX_DEPTH - 1) + "a > 1" + ")" * (MAX_DEPTH - 1),
        "+".join(["a"] * MAX_DEPTH) + " > 1",
        "a > 1" + " and a > 1" * 350,  # a long flat chain costs one level
    ):
        assert not isinstance(_outcome(text), RuleError), text[:40]


def test_rules_file_with_too_deep_rule_names_the_tag(tmp_path):
    deep = "not " * 100 + "age > 1"
    toml = (
        '[[tag]]\nid = "deep_one"\nname_zh = "深"\nname_en = "Deep"\ncategory = "basic"\n'
        f'when = "{deep}"\n'
    )
    with pytest.raises(RuleError) as exc:
        parse_rules(toml)
    assert exc.value.rule_id == "deep_one" and exc.value.field == "when"
    assert exc.value.position == 4 * MAX_DEPTH
    path = tmp_path / "deep.toml"
    path.write_text(toml, encoding="utf-8")
    with pytest.raises(RuleError) as exc:
        load_rules(path)
    assert exc.value.rule_id == "deep_one" and str(path) in str(exc.value)
    assert "tag 'deep_one'" in str(exc.value) and "levels deep" in str(exc.value)


def test_rules_file_too_deep_score_and_reason_name_the_tag():
    score = "(" * 70 + "age" + ")" * 70
    toml = f'[[tag]]\nid = "s1"\nwhen = "age > 1"\nscore = "{score}"\n'
    with pytest.raises(RuleError) as exc:
        parse_rules(toml)
    assert (exc.value.rule_id, exc.value.field, exc.value.position) == ("s1", "score", MAX_DEPTH)
    reason = "age is {" + "-" * 70 + "age}"
    toml = f'[[tag]]\nid = "r1"\nwhen = "age > 1"\nreason = "{reason}"\n'
    with pytest.raises(RuleError) as exc:
        parse_rules(toml)
    # the position is in the reason text: the placeholder opens at 7
    assert (exc.value.rule_id, exc.value.field, exc.value.position) == (
        "r1",
        "reason",
        8 + MAX_DEPTH,
    )


def test_rules_file_too_long_rule_names_the_tag():
    when = " and ".join(["age > 1"] * 400)
    toml = f'[[tag]]\nid = "long_one"\nwhen = "{when}"\n'
    with pytest.raises(RuleError) as exc:
        parse_rules(toml)
    assert exc.value.rule_id == "long_one" and exc.value.position == MAX_LENGTH
    assert "characters long" in str(exc.value)


# --------------------------------------------------------------------------- segments

UNIVERSE = [f"c{i}" for i in range(8)]
HOLDERS = {"t1": {"c0", "c1", "c2", "c3"}, "t2": {"c2", "c3", "c4"}, "t3": {"c5"}}
ASSIGN = pd.DataFrame(
    [(c, t) for t, cs in HOLDERS.items() for c in sorted(cs)], columns=["customer_id", "tag_id"]
)


@dataclass(frozen=True)
class SegGen:
    text: str
    levels: int  # NOTs and parentheses on the deepest path
    top: str  # "tag", "not", "paren", "and", "or"
    members: frozenset[str]


def _seg_step(g: SegGen, step: str, tag: str) -> SegGen:
    if step == "paren":
        return SegGen(f"({g.text})", g.levels + 1, "paren", g.members)
    if step == "not" and g.top in ("tag", "not", "paren"):
        return SegGen(f"NOT {g.text}", g.levels + 1, "not", frozenset(UNIVERSE) - g.members)
    if step == "and" and g.top in ("tag", "not", "paren", "and"):
        return SegGen(f"{g.text} AND {tag}", g.levels, "and", g.members & HOLDERS[tag])
    if step == "or":
        return SegGen(f"{g.text} or {tag}", g.levels, "or", g.members | HOLDERS[tag])
    return g


@st.composite
def nested_segments(draw) -> SegGen:
    tag = draw(st.sampled_from(sorted(HOLDERS)))
    g = SegGen(tag, 0, "tag", frozenset(HOLDERS[tag]))
    # About two steps in three add a level here (AND / OR do not), so draw more of them.
    n = draw(st.integers(MAX_DEPTH, 2 * MAX_DEPTH + MAX_DEPTH // 2) | st.integers(0, 3 * MAX_DEPTH))
    tags = draw(st.lists(st.sampled_from(sorted(HOLDERS)), min_size=n, max_size=n))
    for step, t in zip(_steps(draw, ["paren", "not", "not", "and", "or"], n), tags, strict=True):
        g = _seg_step(g, step, t)
    return g


def _seg_outcome(text: str) -> list[str] | RuleError:
    try:
        return evaluate_segment(
            text, ASSIGN, all_customer_ids=UNIVERSE, known_tags=sorted(HOLDERS)
        ).tolist()
    except RuleError as exc:
        return exc


@SETTINGS
@given(nested_segments())
def test_generated_segment_accepted_exactly_within_limits_and_evaluates_right(g):
    got = _seg_outcome(g.text)
    event("accepted" if not isinstance(got, RuleError) else "refused")
    if len(g.text) <= MAX_LENGTH and g.levels <= MAX_DEPTH:
        assert got == sorted(g.members), (g.text, got)
    else:
        assert isinstance(got, RuleError), (g.text, g.levels)
        assert got.rule_id is None and 0 <= got.position <= min(len(g.text), MAX_LENGTH)


_SEG_TOKENS = [
    "(", ")", "NOT", "not", "AND", "or", "t1", "t2", "interest:理财", "😀", "&&", "|", "!",
    "'", '"', "`", "\\", "%", "_", "\t",
]  # fmt: skip


@SETTINGS
@given(
    st.lists(st.sampled_from(_SEG_TOKENS), max_size=400).map(" ".join)
    | st.text(max_size=400)
    | st.builds(lambda k, n: k * n, st.sampled_from(["NOT ", "(", "( NOT "]), st.integers(0, 1500))
)
def test_hostile_segment_text_raises_only_rule_error(text):
    got = _seg_outcome(text)
    if isinstance(got, RuleError):
        assert got.position is not None and 0 <= got.position <= max(len(text), MAX_LENGTH)
    else:
        assert set(got) <= set(UNIVERSE)


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ("NOT " * 999 + "t1", 4 * MAX_DEPTH),  # the case: 3,998 characters
        ("(" * 500 + "t1" + ")" * 500, MAX_DEPTH),
        ("NOT (" * 100 + "t1" + ")" * 100, 5 * (MAX_DEPTH // 2)),
        ("t1 OR " * 700 + "t1", MAX_LENGTH),
    ],
)
def test_too_deep_or_too_long_segment_names_the_position(text, position):
    with pytest.raises(RuleError) as exc:
        parse_segment(text)
    assert exc.value.position == position and exc.value.rule_id is None


def test_long_flat_segment_chains_are_fine():
    text = " OR ".join(["t3"] + ["NOT t1"] * 390)  # 3,902 characters, one level deep
    assert len(text) <= MAX_LENGTH
    assert _seg_outcome(text) == sorted(set(UNIVERSE) - HOLDERS["t1"] | HOLDERS["t3"])


# --------------------------------------------------------------------------- stack budget


@contextmanager
def _frames(budget: int) -> Iterator[None]:
    """Allow only ``budget`` more Python frames than the caller already uses."""
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(len(inspect.stack(0)) + budget)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


def _deepest(kind: str, levels: int) -> str:
    return {
        "parens": "(" * (levels - 1) + "a > 1" + ")" * (levels - 1),
        "calls": "abs(" * (levels - 1) + "a" + ")" * (levels - 1) + " > 1",
        "not": "not " * (levels - 1) + "a > 1",
        "chain": "+".join(["a"] * levels) + " > 1",
    }[kind]


@pytest.mark.parametrize("kind", ["parens", "calls", "not", "chain"])
def test_rule_work_needs_bounded_stack(kind):
    """Parsing, checking and evaluating the deepest accepted rule fits 12 frames a level (so
    well inside the default limit of 1,000 with room for the CLI or server above it), and
    one level more is refused within the same budget rather than by a RecursionError."""
    ok: Callable[[], object] = lambda: _outcome(_deepest(kind, MAX_DEPTH))  # noqa: E731
    with _frames(12 * MAX_DEPTH):
        assert not isinstance(ok(), RuleError)
        assert isinstance(_outcome(_deepest(kind, MAX_DEPTH + 1)), RuleError)


def test_segment_work_needs_bounded_stack():
    """Segments cost one frame per NOT and three per pair of parentheses: the issue's 999
    NOTs are refused within 200 frames, and any accepted segment fits 4 frames a level."""
    with _frames(200):
        assert isinstance(_seg_outcome("NOT " * 999 + "t1"), RuleError)
    with _frames(4 * MAX_DEPTH):
        assert isinstance(_seg_outcome("(" * 999 + "t1" + ")" * 999), RuleError)
        assert isinstance(_seg_outcome("(NOT " * 999 + "t1" + ")" * 999), RuleError)
        assert not isinstance(_seg_outcome("(" * MAX_DEPTH + "t1" + ")" * MAX_DEPTH), RuleError)
        assert not isinstance(_seg_outcome("NOT " * MAX_DEPTH + "t1"), RuleError)
