import pandas as pd
import pytest

from graph.errors import RuleError
from tagging.segments import SegNot, SegOp, SegTag, evaluate_segment, parse_segment, segment_tags

ASSIGN = pd.DataFrame(
    {
        "customer_id": ["a", "a", "b", "b", "c", "d", "d"],
        "tag_id": [
            "opinion_leader",
            "churn_risk",
            "opinion_leader",
            "interest:investment",
            "high_net_worth",
            "rfm_important_value",
            "interest:investment",
        ],
    }
)


def test_parse_precedence_and_case():
    tree = parse_segment("a or B:x AND not c")
    assert isinstance(tree, SegOp) and tree.op == "or"
    right = tree.operands[1]
    assert isinstance(right, SegOp) and right.op == "and"
    assert right.operands[0] == SegTag("B:x", 5)
    assert isinstance(right.operands[1], SegNot)
    assert segment_tags(tree) == [("a", 0), ("B:x", 5), ("c", 17)]


def test_evaluate_and_not():
    got = evaluate_segment(parse_segment("opinion_leader AND NOT churn_risk"), ASSIGN)
    assert got.tolist() == ["b"]


def test_evaluate_family_tags_and_parentheses():
    expr = "(rfm_important_value OR high_net_worth) AND interest:investment"
    assert evaluate_segment(expr, ASSIGN).tolist() == ["d"]
    assert evaluate_segment("rfm_important_value or high_net_worth", ASSIGN).tolist() == ["c", "d"]


def test_not_uses_universe():
    got = evaluate_segment("NOT opinion_leader", ASSIGN, all_customer_ids=["a", "b", "c", "d", "e"])
    assert got.tolist() == ["c", "d", "e"]


@pytest.mark.parametrize(
    ("expr", "position"),
    [
        ("opinion_leader AND", 18),
        ("opinion_leader churn_risk", 15),
        ("(a OR b", 7),
        ("a AND )", 6),
        ("a && b", 2),
        ("   ", 0),
    ],
)
def test_errors_carry_position(expr, position):
    with pytest.raises(RuleError) as exc:
        parse_segment(expr)
    assert exc.value.position == position and exc.value.rule_id is None


def test_unknown_tag_when_known_tags_given():
    with pytest.raises(RuleError) as exc:
        evaluate_segment(
            "opinion_leader AND NOT churn_rsk", ASSIGN, known_tags=["opinion_leader", "churn_risk"]
        )
    assert exc.value.position == 23 and "churn_rsk" in str(exc.value)


def test_universe_from_arrow_array():
    import pyarrow as pa

    ids = pa.array(["a", "b", "c", "d", "e"])
    assert evaluate_segment("NOT opinion_leader", ASSIGN, all_customer_ids=ids).tolist() == [
        "c",
        "d",
        "e",
    ]
