import numpy as np
import pandas as pd
import pytest

from graph.errors import RuleError
from tagging.engine import LABELS
from tagging.evaluator import (
    Evaluator,
    community_percentile_below,
    community_rank,
    percentile_below,
)
from tagging.reasons import parse_template, render_facts, render_template
from tagging.rule_parser import parse_expr


def test_percentile_below_ties_share_lowest():
    x = np.array([0.0, 0.0, 1.0, 2.0, np.nan])
    np.testing.assert_allclose(percentile_below(x)[:4], [0, 0, 50, 75])
    assert np.isnan(percentile_below(x)[4])


def test_community_rank_and_pct():
    x = np.array([5.0, 3.0, 3.0, 9.0, 1.0, 7.0])
    codes = np.array([0, 0, 0, 1, 1, -1])
    np.testing.assert_array_equal(community_rank(x, codes)[:5], [1, 2, 2, 1, 2])
    assert np.isnan(community_rank(x, codes)[5])
    pct = community_percentile_below(x, codes, 2)
    np.testing.assert_allclose(pct[:5], [200 / 3, 0, 0, 50, 0])
    assert np.isnan(pct[5])


def _features(n=500):
    return pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "pagerank": np.arange(n, dtype=float),
            "in_degree": np.where(np.arange(n) == n - 1, 41.0, 2.0),
            "age": np.where(np.arange(n) % 2 == 0, np.nan, 40.0),
            "community_id": pd.Series(["a", "b"] * (n // 2), dtype="str"),
        }
    )


def test_reason_names_values_and_thresholds():
    ev = Evaluator(_features(), {"pl": 99}, labels=LABELS)
    expr = parse_expr("pct(pagerank) >= pl and in_degree >= 10")
    mask, facts = ev.condition(expr)
    idx = np.flatnonzero(mask)
    assert idx.tolist() == [499]
    reasons = render_facts(facts, idx, fallback="")
    assert reasons.to_pylist() == ["PageRank percentile 99.8 >= 99; in-degree 41 >= 10"]


def test_or_lists_only_the_branch_that_fired_and_not_flips_op():
    ev = Evaluator(_features(4), {}, labels=LABELS)
    expr = parse_expr("(in_degree >= 10 or pagerank >= 2) and not (pagerank > 2)")
    mask, facts = ev.condition(expr)
    idx = np.flatnonzero(mask)
    assert idx.tolist() == [2]
    assert render_facts(facts, idx, fallback="").to_pylist() == ["PageRank 2 >= 2; PageRank 2 <= 2"]


def test_missing_values_compare_false():
    ev = Evaluator(_features(4), {}, labels=LABELS)
    mask, _ = ev.condition(parse_expr("age >= 18"))
    assert mask.tolist() == [False, True, False, True]
    mask, _ = ev.condition(parse_expr("age != 40"))
    assert mask.tolist() == [False, False, False, False]
    mask, _ = ev.condition(parse_expr("coalesce(age, 0) < 18"))
    assert mask.tolist() == [True, False, True, False]


def test_community_rank_in_rule():
    ev = Evaluator(_features(6), {}, labels=LABELS)
    mask, facts = ev.condition(parse_expr("community_rank(pagerank) <= 1"))
    assert np.flatnonzero(mask).tolist() == [4, 5]
    assert render_facts(facts, np.array([4]), fallback="").to_pylist() == [
        "PageRank rank in community 1 <= 1"
    ]


def test_missing_feature_column_is_rule_error_with_position():
    ev = Evaluator(_features(4), {}, labels=LABELS)
    with pytest.raises(RuleError) as exc:
        ev.condition(parse_expr("in_degree > 1 and betweenness > 0"), rule_id="bridge")
    assert exc.value.rule_id == "bridge" and exc.value.position == 18


def test_template_rendering():
    ev = Evaluator(_features(), {"pl": 99}, labels=LABELS)
    tpl = parse_template("PR pct {pct(pagerank):.2f} (min {pl}), in {in_degree}", rule_id="t")
    out = render_template(tpl, ev, np.array([499]))
    assert out.to_pylist() == ["PR pct 99.8 (min 99), in 41"]


def test_template_error_position():
    with pytest.raises(RuleError) as exc:
        parse_template("value {pct(pagerank) >=}", rule_id="t")
    assert exc.value.position == 23 and exc.value.field == "reason"


def test_is_null_fact_and_both_render_paths_agree(monkeypatch):
    import tagging.reasons as reasons

    rng = np.random.default_rng(3)
    n = 2000
    feats = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "pagerank": rng.random(n),
            "in_degree": rng.integers(0, 50, n).astype(float),
            "age": np.where(rng.random(n) < 0.3, np.nan, rng.integers(18, 90, n)),
            "member_level": pd.Series(rng.choice(["gold", "silver", None], n), dtype="str"),
        }
    )
    ev = Evaluator(feats, {"lv": ["gold"]}, labels=LABELS)
    expr = parse_expr(
        "(pct(pagerank) >= 50 and in_degree > 10) or is_null(age) or member_level in lv"
    )
    mask, facts = ev.condition(expr)
    idx = np.flatnonzero(mask)
    fast = render_facts(facts, idx, fallback="").to_pylist()
    monkeypatch.setattr(reasons, "_MAX_DISTINCT_REASONS", 0.0)
    slow = render_facts(facts, idx, fallback="").to_pylist()
    assert fast == slow
    assert any(r.startswith("age is missing") or "; age is missing" in r for r in fast)
    assert any("member level gold in [gold]" in r for r in fast)


def test_arrow_reasons_keep_one_row_per_holder_when_a_single_fact_fails_for_some():
    """pyarrow's one-argument join dropped the null rows, so reasons came out too few."""
    import numpy as np

    from tagging.evaluator import Fact, Side
    from tagging.reasons import render_facts

    n = 400
    age = np.arange(n, dtype=float)  # every holder its own value: the Arrow path
    holds = np.arange(n) % 3 != 0
    fact = Fact(Side("age", age), ">=", Side(None, 30.0), holds)
    got = render_facts([fact], np.arange(n), fallback="fallback")
    assert len(got) == n
    assert got[0].as_py() == "fallback" and got[1].as_py() == "age 1 >= 30"
