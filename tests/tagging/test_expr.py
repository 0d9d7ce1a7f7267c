import pytest

from graph.errors import RuleError
from tagging.rule_check import check_expr
from tagging.rule_parser import parse_expr
from tagging.rule_tree import BoolOp, Call, Compare, InSet, Not

NAMES = {"pagerank": "num", "in_degree": "num", "member_level": "str", "gold": "list", "k": "num"}


def test_precedence_not_and_or():
    tree = parse_expr("not a > 1 and b < 2 or c == 3").tree
    assert isinstance(tree, BoolOp) and tree.op == "or"
    left = tree.operands[0]
    assert isinstance(left, BoolOp) and left.op == "and"
    assert isinstance(left.operands[0], Not)


def test_keywords_case_insensitive_and_functions():
    tree = parse_expr("PCT(pagerank) >= 99 AND in_degree >= 10").tree
    assert isinstance(tree, BoolOp) and tree.op == "and"
    cmp = tree.operands[0]
    assert isinstance(cmp, Compare) and isinstance(cmp.left, Call) and cmp.left.func == "pct"


def test_in_list_and_not_in():
    tree = parse_expr("member_level not in ['gold', \"金卡\"]").tree
    assert isinstance(tree, InSet) and tree.negated
    assert tree.items.items == ("gold", "金卡")


@pytest.mark.parametrize(
    ("text", "position", "fragment"),
    [
        ("pct(pagerank) >= 99 and", 23, "expected a value"),
        ("in_degree = 3", 10, "use '=='"),
        ("foo(pagerank) > 1", 0, "unknown function"),
        ("pct(pagerank, in_degree) > 1", 0, "takes 1 argument"),
        ("(in_degree > 1", 14, "expected ')'"),
        ("in_degree > 1 in_degree", 14, "after a complete expression"),
        ("in_degree > $", 12, "unexpected character"),
        ("", 0, "empty expression"),
    ],
)
def test_syntax_errors_carry_position(text, position, fragment):
    with pytest.raises(RuleError) as exc:
        parse_expr(text, rule_id="t1", field="when")
    assert exc.value.rule_id == "t1"
    assert exc.value.position == position
    assert fragment in str(exc.value)
    assert "tag 't1'" in str(exc.value)


def test_check_unknown_name_position_and_hint():
    expr = parse_expr("in_degree >= 1 and pagernk > 0")
    with pytest.raises(RuleError) as exc:
        check_expr(expr, names=NAMES, want="bool", rule_id="x", field="when")
    assert exc.value.position == 19
    assert "pagerank" in str(exc.value)  # did-you-mean hint


@pytest.mark.parametrize(
    ("text", "position"),
    [
        ("member_level > 3", 0),  # str vs num
        ("in_degree and pagerank > 1", 0),  # number where a condition is needed
        ("pct(member_level) > 1", 4),
        ("in_degree in k", 13),  # k is a number, not a list
    ],
)
def test_check_kinds(text, position):
    with pytest.raises(RuleError) as exc:
        check_expr(parse_expr(text), names=NAMES, want="bool", rule_id="x")
    assert exc.value.position == position


def test_check_root_kind_and_list_param():
    check_expr(parse_expr("member_level in gold"), names=NAMES, want="bool")
    check_expr(parse_expr("pct(pagerank) / 100"), names=NAMES, want="num")
    with pytest.raises(RuleError, match="must be a condition"):
        check_expr(parse_expr("pagerank + 1"), names=NAMES, want="bool")
