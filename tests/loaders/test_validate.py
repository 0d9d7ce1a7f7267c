"""Validation shortcuts give exactly what the general expressions give."""

from __future__ import annotations

import pyarrow as pa
import pytest

from graph.model import SCHEMAS
from loaders.validate import _may_be_padded, validate_table


def _relations(occurred_at: list[str], *, channel: list[str] | None = None) -> pa.Table:
    n = len(occurred_at)
    return pa.table(
        {
            "src_id": ["A"] * n,
            "dst_id": ["B"] * n,
            "type": ["like"] * n,
            "occurred_at": occurred_at,
            "channel": channel or ["app"] * n,
            "_row": list(range(1, n + 1)),
        }
    )


def _validate(raw: pa.Table):
    return validate_table("relations", raw, file="r.csv", known_customers=pa.array(["A", "B"]))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01T10:20:30", "2024-05-01 10:20:30"),
        ("2024-05-01 10:20:30", "2024-05-01 10:20:30"),
        ("2024-05-01T10:20:30+08:00", "2024-05-01 02:20:30"),
        ("2024-05-01T10:20:30Z", "2024-05-01 10:20:30"),
        ("2024-05-01T10:20:30.250", "2024-05-01 10:20:30.250000"),
        (" 2024-05-01T10:20:30\u3000", "2024-05-01 10:20:30"),
        ("2024-05-01", "2024-05-01 00:00:00"),
    ],
)
def test_timestamps_read_with_and_without_offset(text, expected):
    res = _validate(_relations([text]))
    assert res.quarantined.num_rows == 0
    assert str(res.valid.column("occurred_at")[0].as_py()) == expected


@pytest.mark.parametrize("text", ["2024-13-01T00:00:00", "2024-02-30T10:00:00", "yesterday"])
def test_impossible_timestamps_are_quarantined(text):
    res = _validate(_relations([text]))
    assert res.valid.num_rows == 0
    assert res.quarantined.column("reason").to_pylist() == ["bad_timestamp"]
    assert res.quarantined.column("value").to_pylist() == [text]


def test_padding_is_trimmed_in_a_padded_column_only_where_present():
    ts = ["2024-05-01T10:20:30"] * 4
    res = _validate(_relations(ts, channel=["app", "\u3000web", "app\u00a0", "  "]))
    got = sorted(res.valid.column("channel").to_pylist(), key=str)
    assert got == [None, "app", "app", "web"]
    assert res.valid.schema == SCHEMAS["relations"].append(pa.field("_pos", pa.int64()))


def test_padding_detection_reads_both_ends_and_slices():
    assert not _may_be_padded(pa.chunked_array([["a", "", None, "b c"]]))
    assert _may_be_padded(pa.chunked_array([["a", " b"]]))
    assert _may_be_padded(pa.chunked_array([["a", "b "]]))
    assert _may_be_padded(pa.chunked_array([["a", "城"]]))  # non-ASCII: may be U+3000 and kin
    assert _may_be_padded(pa.chunked_array([pa.array(["a", "b"], pa.large_string()), ["c "]]))
    sliced = pa.array([" x", "a", "b", "y "]).slice(1, 2)
    assert not _may_be_padded(pa.chunked_array([sliced]))
    assert not _may_be_padded(pa.chunked_array([], pa.string()))


def test_non_finite_amounts_are_quarantined_with_their_text():
    # an exact (decimal) sum of amounts holds no NaN or infinity; a number that is merely
    # large, negative or written in exponent form stays
    amounts = ["NaN", "inf", "-Infinity", " nan ", "1e300", "-12.5", "7"]
    raw = pa.table(
        {
            "customer_id": ["A"] * len(amounts),
            "occurred_at": ["2024-05-01T10:20:30"] * len(amounts),
            "amount": amounts,
            "_row": list(range(1, len(amounts) + 1)),
        }
    )
    res = validate_table("transactions", raw, file="t.csv", known_customers=pa.array(["A"]))
    bad = res.quarantined.to_pandas()
    assert bad["row"].tolist() == [1, 2, 3, 4]
    assert set(bad["reason"]) == {"non_finite_number"}
    assert set(bad["column"]) == {"amount"}
    assert bad["value"].tolist() == ["NaN", "inf", "-Infinity", "nan"]
    assert res.valid.column("amount").to_pylist() == [1e300, -12.5, 7.0]
