import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from graph.errors import RuleError
from tagging.engine import ASSIGNMENT_COLUMNS, evaluate, evaluate_chunks, tag_definitions
from tagging.rules import default_catalog, parse_rules

TAG = '[[tag]]\nid = "{id}"\nname_zh = "z"\nname_en = "e"\ncategory = "basic"\nwhen = "{when}"\n'


def _catalog(text):
    return parse_rules(text)


def _features():
    return pd.DataFrame(
        {
            "customer_id": ["c1", "c2", "c3", "c4"],
            "age": [25.0, 65.0, np.nan, 40.0],
            "txn_count": [0.0, 3.0, 10.0, 2.0],
            "pagerank": [0.1, 0.4, 0.3, 0.2],
            "community_id": pd.Series(["a", "a", "b", None], dtype="str"),
            "community_size": [2.0, 2.0, 1.0, 0.0],
            "topic_share:investment": np.array([0.5, 0.1, 0.0, 1.0], dtype="float32"),
            "topic_count:investment": np.array([3, 1, 0, 2], dtype="int32"),
        }
    )


def test_assignment_columns_scores_and_reasons():
    cat = _catalog(
        TAG.format(id="young", when="age <= 30")
        + 'score = "1 - age / 100"\n'
        + TAG.format(id="leader", when="pct(pagerank) >= 70")
    )
    out = evaluate(cat, _features(), run_id="run-1")
    assert list(out.columns) == list(ASSIGNMENT_COLUMNS)
    rows = {(r.customer_id, r.tag_id): r for r in out.itertuples()}
    assert set(rows) == {("c1", "young"), ("c2", "leader")}
    assert rows["c1", "young"].score == pytest.approx(0.75)
    assert rows["c1", "young"].reason == "age 25 <= 30"
    assert rows["c2", "leader"].reason == "PageRank percentile 75 >= 70"
    assert rows["c2", "leader"].score == 1.0
    assert (out["run_id"] == "run-1").all()


def test_exclusive_group_priority_and_fallback():
    text = (
        '[groups.stage]\nmode = "exactly_one"\nfallback = "mid"\n'
        + TAG.format(id="none", when="txn_count == 0")
        + 'group = "stage"\npriority = 1\n'
        + TAG.format(id="many", when="txn_count >= 3")
        + 'group = "stage"\npriority = 2\n'
        + TAG.format(id="any", when="txn_count >= 0")
        + 'group = "stage"\npriority = 3\n'
        + TAG.format(id="mid", when="txn_count == 1")
        + 'group = "stage"\npriority = 4\n'
    )
    # "any" would match everyone: priority keeps only the customers no earlier stage took
    out = evaluate(_catalog(text), _features(), run_id="r")
    got = dict(zip(out.customer_id, out.tag_id, strict=True))
    assert got == {"c1": "none", "c2": "many", "c3": "many", "c4": "any"}
    # without the catch-all, c4 (2 transactions) falls back to "mid"
    text = text.replace('when = "txn_count >= 0"', 'when = "txn_count > 100"')
    out = evaluate(_catalog(text), _features(), run_id="r")
    row = out[out.customer_id == "c4"].iloc[0]
    assert row.tag_id == "mid" and "fallback" in row.reason


def test_families_share_and_value():
    cat = default_catalog()
    cat = cat.__class__(
        tags=(),
        families=cat.families,
        groups={},
        params={**cat.params, "community_min_size": 2},
    )
    out = evaluate(cat, _features(), run_id="r")
    interest = out[out.tag_id == "interest:investment"]
    assert sorted(interest.customer_id) == ["c1", "c4"]
    r = interest.set_index("customer_id").loc["c1"]
    assert r.score == pytest.approx(0.5)
    assert r.reason == "topic investment count 3 >= 2; topic investment share 0.5 >= 0.2"
    comm = out[out.tag_id.str.startswith("community:")]
    assert sorted(zip(comm.customer_id, comm.tag_id, strict=True)) == [
        ("c1", "community:a"),
        ("c2", "community:a"),
    ]
    assert comm.reason.iloc[0] == "community a; community size 2 >= 2"
    defs = tag_definitions(default_catalog(), out)
    row = defs.set_index("tag_id").loc["interest:investment"]
    assert row.name_en == "Interested in investment" and row.family == "interest"


def test_disabled_tag_and_missing_feature():
    cat = _catalog(TAG.format(id="young", when="age <= 30") + "enabled = false\n")
    assert evaluate(cat, _features(), run_id="r").empty
    cat = _catalog(TAG.format(id="rich", when="age > 1 and aum > 5"))
    with pytest.raises(RuleError) as exc:
        evaluate(cat, _features(), run_id="r")
    assert exc.value.rule_id == "rich" and exc.value.position == 12


def test_unmerged_override_is_refused():
    with pytest.raises(RuleError, match="merge_catalogs"):
        evaluate(
            parse_rules('[[tag]]\nid = "young_customer"\nwhen = "age < 25"'),
            _features(),
            run_id="r",
        )


def test_customer_id_as_index():
    cat = _catalog(TAG.format(id="young", when="age <= 30"))
    out = evaluate(cat, _features().set_index("customer_id"), run_id="r")
    assert out.customer_id.tolist() == ["c1"]


def test_chunks_are_the_assignments_of_one_piece():
    """Ranges of 3 customers give evaluate's rows, with the decimals all holders share
    (the first range alone would show 0.4286 where all holders show 0.4)."""
    x = [0.4286, 0.5, 0.61, 12.25, 13.5, 0.0, 2.75, 40.125, 0.9, 7.0]
    f = pd.DataFrame({"customer_id": [f"c{i}" for i in range(10)], "pagerank": x})
    cat = _catalog(TAG.format(id="t", when="pagerank > 0"))
    whole = evaluate(cat, f, run_id="r")
    chunks = list(evaluate_chunks(cat, f, run_id="r", customers_per_chunk=3))
    assert len(chunks) == 4
    joined = pa.concat_tables(chunks).to_pandas()
    key = ["customer_id", "tag_id"]
    pd.testing.assert_frame_equal(
        joined.sort_values(key).reset_index(drop=True),
        whole.sort_values(key).reset_index(drop=True),
    )
    lone = evaluate(cat, f.iloc[:3], run_id="r")
    assert lone["reason"].tolist() != whole["reason"].iloc[:3].tolist()
