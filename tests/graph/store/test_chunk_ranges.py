"""The Neo4j store's read chunks partition the ids the same way under both string orders.

Why: a chunk's query compares ids by code point when the planner seeks the index and by
UTF-16 code unit when it scans and filters (while the index populates, say); if the two orders
put an id in different chunks, one read returns a customer's rows twice or not at all. This
checks `chunk_ranges` against both orders directly, in Python, on ids mixing the characters
where the orders disagree.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from graph.store.neo4j.codec import chunk_ranges, order_safe_prefix

#: ASCII, CJK, private use and full-width forms (BMP from U+E000 up), emoji and CJK
#: Extension B (outside the BMP): the mix where code point and UTF-16 order disagree.
BMP = ["a", "z", "~", "客", "户", "\ue000", "\ue001", "Ａ", "ｚ", "\uffee"]
ALPHABET = st.sampled_from([*BMP, "😀", "🙂", "𠀀", "\U0010fffd"])
IDS = st.lists(st.text(ALPHABET, min_size=1, max_size=4), min_size=1, max_size=60, unique=True)


def utf16(text: str) -> bytes:
    return text.encode("utf-16-be", "surrogatepass")


def chunk_of(x: str, ranges, key) -> list[int]:
    """Every range holding `x` when ids compare by `key`."""
    return [
        i
        for i, (lo, hi) in enumerate(ranges)
        if key(x) >= key(lo) and (hi is None or key(x) < key(hi))
    ]


@settings(max_examples=300, deadline=None)
@given(IDS, st.integers(min_value=1, max_value=7))
def test_every_id_is_in_the_same_single_chunk_under_both_orders(ids, step):
    cuts = sorted(ids)[step::step]  # the server's cuts: every step-th id in ORDER BY order
    ranges = chunk_ranges(cuts)
    for x in ids:
        by_code_point = chunk_of(x, ranges, lambda t: t)
        by_utf16 = chunk_of(x, ranges, utf16)
        assert len(by_code_point) == 1, (x, ranges)
        assert by_code_point == by_utf16, (x, ranges)
    his = [hi for _, hi in ranges[:-1]]
    assert his == sorted(his) == sorted(his, key=utf16)
    assert len(ranges) <= len(cuts) + 1


def test_plain_ids_keep_every_cut():
    assert chunk_ranges(["C1", "C5"]) == [("", "C1"), ("C1", "C5"), ("C5", None)]
    assert chunk_ranges(["客户1", "客户5"])[1] == ("客户1", "客户5")


def test_a_cut_is_cut_back_before_its_first_order_sensitive_character():
    assert order_safe_prefix("客户😀z") == "客户"
    assert order_safe_prefix("Ａ全角") == ""
    assert chunk_ranges(["😀", "b😀", "c"]) == [("", "b"), ("b", "c"), ("c", None)]
