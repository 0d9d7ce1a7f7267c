"""The one JSON encoder: values made JSON-ready, the HTTP and CLI renderings."""

from __future__ import annotations

import datetime as dt
import json

import numpy as np
import pandas as pd
import pytest

from api.usecases.encoding import json_bytes, json_text, jsonable, records


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (np.int64(7), 7),
        (np.float32(0.5), 0.5),
        (np.bool_(True), True),
        (float("nan"), None),
        (np.float64("inf"), None),
        (-float("inf"), None),
        (pd.NaT, None),
        (pd.Timestamp("2024-05-04 02:12:55"), "2024-05-04T02:12:55"),
        (dt.datetime(2024, 5, 4, 2, 12, 55), "2024-05-04T02:12:55"),
        (dt.date(2002, 11, 20), "2002-11-20"),
        (np.datetime64("2020-01-02T03:04:05"), "2020-01-02T03:04:05"),
        (np.datetime64("2020-01-02"), "2020-01-02"),
        ("王小明", "王小明"),
        (b"\xe7\x8e\x8b\xff", "王\ufffd"),
        (None, None),
    ],
)
def test_jsonable(value, expected):
    got = jsonable(value)
    assert got == expected
    assert type(got) is type(expected)


def test_records_keep_column_order_and_convert_values():
    df = pd.DataFrame({"b": [1, 2], "a": [0.5, float("nan")], "t": [pd.Timestamp(0), pd.NaT]})
    assert records(df) == [
        {"b": 1, "a": 0.5, "t": "1970-01-01T00:00:00"},
        {"b": 2, "a": None, "t": None},
    ]
    assert [list(r) for r in records(df)] == [["b", "a", "t"]] * 2


def test_http_bytes_are_compact_strict_and_keep_non_ascii():
    body = {"name": "王*", "n": [1, 2.5, None]}
    assert json_bytes(body) == '{"name":"王*","n":[1,2.5,null]}'.encode()
    with pytest.raises(ValueError):
        json_bytes({"x": float("nan")})


def test_cli_text_uses_default_separators_and_prints_anything():
    assert json_text({"name": "王*", "n": [1]}) == '{"name": "王*", "n": [1]}'
    when = dt.datetime(2024, 5, 4, 2, 12, 55)
    assert json.loads(json_text({"at": when})) == {"at": str(when)}
