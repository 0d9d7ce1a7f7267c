"""Community matching and lineage: constructed histories, brute force, an independent NMI."""

from __future__ import annotations

import itertools

import igraph as ig
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graph.lineage import (
    PreviousPartition,
    community_id,
    community_number,
    initial_membership,
    kept_share,
    lineage_events,
    match_communities,
    normalized_mutual_information,
)

T = 0.3


def _events(lineage) -> list[tuple]:
    return [
        (r.event, tuple(r.from_ids), tuple(r.to_ids), tuple(r.from_sizes), tuple(r.to_sizes))
        for r in lineage.itertuples()
    ]


def test_a_constructed_history_has_each_event():
    # c0000 (6) splits 4 + 2, c0001 (4) and c0002 (3) merge, c0003 (2) scatters and dies,
    # three new customers form a community of their own
    prev = ["c0000"] * 6 + ["c0001"] * 4 + ["c0002"] * 3 + ["c0003"] * 2 + [None] * 3
    new = [0] * 4 + [1] * 2 + [2] * 7 + [0, 2] + [3] * 3
    m = match_communities(np.array(prev, dtype=object), np.array(new), threshold=T, next_number=4)
    assert m.labels.tolist() == ["c0000", "c0004", "c0001", "c0005"]
    assert m.next_number == 6
    assert _events(m.lineage) == [
        ("continue", ("c0000",), ("c0000",), (6,), (5,)),
        ("continue", ("c0001",), ("c0001",), (4,), (8,)),
        ("split", ("c0000",), ("c0000", "c0004"), (6,), (5, 2)),
        ("merge", ("c0001", "c0002"), ("c0001",), (4, 3), (8,)),
        ("birth", (), ("c0005",), (), (3,)),
        ("death", ("c0003",), (), (2,), ()),
    ]
    merge = m.lineage[m.lineage.event == "merge"].iloc[0]
    assert merge.shared == 7 and merge.jaccard == pytest.approx(7 / 8)


def test_an_unchanged_partition_keeps_every_id_whatever_its_numbering():
    prev = np.array(["c0012", "c0012", "c0003", "c0003", "c0003", "c0040"], dtype=object)
    new = np.array([1, 1, 0, 0, 0, 2])  # numbered by size, unlike the ids
    m = match_communities(prev, new, threshold=T, next_number=41)
    assert m.labels[new].tolist() == prev.tolist()
    assert set(m.lineage.event) == {"continue"} and m.next_number == 41
    assert kept_share(prev, m.labels[new]) == (1.0, 6, 6)


def test_fresh_ids_are_never_reused_and_go_to_the_largest_first():
    prev = np.array(["c0001"] * 3 + [None] * 5, dtype=object)
    new = np.array([1, 1, 1, 0, 0, 0, 0, 2])
    # the store used numbers up to 9 (next 10), the previous run only c0001
    m = match_communities(prev, new, threshold=T, next_number=10)
    assert m.labels.tolist() == ["c0010", "c0001", "c0011"]
    # ids above the store's counter are still never reused
    m = match_communities(prev, new, threshold=T, next_number=0)
    assert m.labels.tolist() == ["c0002", "c0001", "c0003"]


def test_below_the_threshold_a_community_is_not_matched():
    # of 10 members, 2 stay together with 8 newcomers (Jaccard 2 / 18), 8 go alone (1 / 10)
    prev = np.array(["c0000"] * 10 + [None] * 8, dtype=object)
    new = np.array([0, 0, *range(1, 9)] + [0] * 8)
    m = match_communities(prev, new, threshold=T, next_number=1)
    assert "c0000" not in set(m.labels)
    assert [e[0] for e in _events(m.lineage)] == ["birth"] * 9 + ["death"]


def test_ids_keep_their_format_and_parse_back():
    assert community_id(3) == "c0003" and community_id(123456) == "c123456"
    assert community_number("c00042") == 42 and community_number("x7") is None


def _jaccard(a: set, b: set) -> float:
    return len(a & b) / len(a | b)


def _brute_best(prev_sets: dict, new_sets: dict) -> float:
    """Best total Jaccard of a one-to-one matching of candidate pairs, by enumeration."""
    cands = [
        (a, b, _jaccard(sa, sb))
        for a, sa in prev_sets.items()
        for b, sb in new_sets.items()
        if _jaccard(sa, sb) >= T
    ]
    best = 0.0
    for r in range(len(cands) + 1):
        for combo in itertools.combinations(cands, r):
            olds = [c[0] for c in combo]
            news = [c[1] for c in combo]
            if len(set(olds)) == r and len(set(news)) == r:
                best = max(best, sum(c[2] for c in combo))
    return best


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.integers(0, 3), min_size=1, max_size=12).flatmap(
        lambda prev: st.tuples(
            st.just(prev),
            st.lists(st.integers(0, 3), min_size=len(prev), max_size=len(prev)),
            st.integers(0, 3),
        )
    )
)
def test_the_matching_is_optimal_against_brute_force(case):
    prev_codes, new_codes, n_new = case
    prev = np.array([f"c{c:04d}" for c in prev_codes] + [None] * n_new, dtype=object)
    raw = np.array(new_codes + [4] * n_new)
    new = np.unique(raw, return_inverse=True)[1]
    m = match_communities(prev, new, threshold=T, next_number=4)
    labels = m.labels[new]
    prev_sets = {p: {i for i, x in enumerate(prev) if x == p} for p in set(prev) - {None}}
    new_sets = {k: {i for i, x in enumerate(new) if x == k} for k in set(new.tolist())}
    got = 0.0
    for k, members in new_sets.items():
        lab = m.labels[k]
        if lab in prev_sets:
            assert _jaccard(prev_sets[lab], members) >= T
            got += _jaccard(prev_sets[lab], members)
    assert got == pytest.approx(_brute_best(prev_sets, new_sets))
    assert len(set(m.labels)) == len(m.labels)  # one-to-one
    # every new id is explained: continue, or the target of a split / merge / birth
    explained = {t for ids in m.lineage.to_ids for t in ids}
    assert explained == set(m.labels)
    # the events derive from the labels alone: recomputing them gives the same frame
    again = lineage_events(prev, labels, threshold=T)
    assert _events(again) == _events(m.lineage)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 5)), min_size=1, max_size=40))
def test_nmi_agrees_with_igraph(pairs):
    a = [p[0] for p in pairs]
    b = [p[1] for p in pairs]
    ours = normalized_mutual_information(np.array(a), np.array(b))
    ra = np.unique(a, return_inverse=True)[1].tolist()
    rb = np.unique(b, return_inverse=True)[1].tolist()
    if len(set(a)) == 1 and len(set(b)) == 1:
        assert ours == 1.0
    else:
        assert ours == pytest.approx(ig.compare_communities(ra, rb, method="nmi"), abs=1e-9)


def test_initial_membership_keeps_previous_groups_and_isolates_newcomers():
    prev = PreviousPartition(
        run_id="r1",
        customer_ids=np.array(["a", "b", "c", "d"], dtype=object),
        community_ids=np.array(["c0005", "c0005", "c0002", "c0009"], dtype=object),
        next_number=10,
    )
    start = initial_membership(np.array(["n1", "a", "c", "b", "n2"], dtype=object), prev)
    assert start[1] == start[3] and len({start[0], start[1], start[2], start[4]}) == 4
    assert sorted(set(start.tolist())) == list(range(4))  # compact, d's community gone
