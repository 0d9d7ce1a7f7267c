"""Tag health against a brute-force reference on Python sets, and definition fingerprints."""

from __future__ import annotations

import math

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from tagging import default_catalog, merge_catalogs, parse_rules
from tagging.quality import attribute_changes, definition_fingerprints, tag_quality

TAGS = ["a", "b", "c", "d", "e"]
CATEGORY = {"a": "k1", "b": "k1", "c": "k1", "d": "k2", "e": "k2"}
PAIRS = st.sets(st.tuples(st.sampled_from([f"u{i}" for i in range(12)]), st.sampled_from(TAGS)))


def frame(pairs) -> pd.DataFrame:
    return pd.DataFrame(sorted(pairs), columns=["customer_id", "tag_id"]).astype(str)


@settings(max_examples=200, deadline=None)
@given(PAIRS, st.one_of(st.none(), PAIRS), st.floats(0.05, 2.0))
def test_quality_matches_sets(cur, prev, share):
    cat = pd.DataFrame({"tag_id": TAGS, "category": [CATEGORY[t] for t in TAGS]})
    q = tag_quality(
        frame(cur),
        cat,
        customers=12,
        previous=None if prev is None else frame(prev),
        move_share=share,
    ).set_index("tag_id")
    holders = {t: {c for c, x in cur if x == t} for t in TAGS}
    for t in TAGS:
        row = q.loc[t]
        assert row["count"] == len(holders[t])
        assert math.isclose(row["coverage"], len(holders[t]) / 12)
        others = [o for o in TAGS if o != t and CATEGORY[o] == CATEGORY[t]]
        jac = {
            o: len(holders[t] & holders[o]) / len(holders[t] | holders[o])
            for o in others
            if holders[t] | holders[o]
        }
        best = max(jac.values(), default=0.0)
        if best > 0:
            assert math.isclose(row["overlap_jaccard"], best)
            first = next(o for o in others if jac.get(o) == best)  # ties: catalog order
            assert row["overlap_tag"] == first
        else:
            assert pd.isna(row["overlap_tag"]) and math.isnan(row["overlap_jaccard"])
        if prev is None:
            assert pd.isna(row["stability"]) and not row["flagged"]
            continue
        before = {c for c, x in prev if x == t}
        assert row["previous_count"] == len(before)
        if before:
            assert math.isclose(row["stability"], len(before & holders[t]) / len(before))
            moved = abs(len(holders[t]) - len(before)) / len(before) > share
            assert bool(row["flagged"]) is moved
        else:
            assert pd.isna(row["stability"])
            assert bool(row["flagged"]) is bool(holders[t])


def test_fingerprints_follow_what_decides_the_holders():
    base = default_catalog()
    fp = definition_fingerprints(base)
    older = merge_catalogs(base, parse_rules("[params]\nyoung_max_age = 35\n", base=base))
    fp2 = definition_fingerprints(older)
    changed = {t for t in fp if fp[t] != fp2.get(t)}
    assert "young_customer" in changed
    assert "senior_customer" not in changed and "opinion_leader" not in changed
    renamed = merge_catalogs(
        base, parse_rules('[[tag]]\nid = "young_customer"\nname_en = "Youth"\n', base=base)
    )
    assert definition_fingerprints(renamed)["young_customer"] == fp["young_customer"]


def test_attribution():
    totals = pd.DataFrame({"tag_id": ["x", "y", "prefers:tea"]})
    a = {"x": "1", "y": "1", "prefers": "p"}
    b = {"x": "2", "y": "1", "prefers": "p"}
    same_data = attribute_changes(totals, a, b, data_changed=False).tolist()
    assert same_data == ["definition", "analysis", "analysis"]
    new_data = attribute_changes(totals, a, b, data_changed=True).tolist()
    assert new_data == ["definition+data", "data", "data"]
    assert attribute_changes(totals, None, b, data_changed=True).tolist() == ["unknown"] * 3
