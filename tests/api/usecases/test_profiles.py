"""The one profile builder: masking, value conversion and shape, fed with literals."""

from __future__ import annotations

import numpy as np
import pandas as pd

from api.usecases.profiles import build_profile, community_of, tags_from_frame

RECORD = {
    "customer_id": "C1",
    "name": "王小明",
    "phone": "13812345678",
    "id_number": "310101199001011234",
    "city": "上海",
    "registered_at": pd.Timestamp("2024-05-04 02:12:55"),
    "attributes": '{"risk_grade": "C", "email": "a@b.cn"}',
}


def _profile(**kw):
    args = {
        "run_id": "r1",
        "metrics": {
            "customer_id": "C1",
            "run_id": "r1",
            "community_id": "c7",
            "pagerank": np.float64(0.25),
            "coreness": np.int64(3),
            "betweenness": float("nan"),
        },
        "tags": [{"tag_id": "bridge", "score": 0.9, "reason": "why"}],
        "unmasked": False,
        "pii_columns": ("name", "phone", "id_number", "email"),
    }
    return build_profile("C1", RECORD, **(args | kw))


def test_viewer_profile_is_masked_converted_and_shaped():
    p = _profile()
    assert list(p) == ["customer_id", "attributes", "run_id", "community_id", "metrics", "tags"]
    assert p["attributes"] == {
        "customer_id": "C1",
        "name": "王**",
        "phone": "138****5678",
        "id_number": "310101********1234",
        "city": "上海",
        "registered_at": "2024-05-04T02:12:55",
        "attr.risk_grade": "C",
        "attr.email": "******",
    }
    # the row keys name the customer and run once, at the top
    assert p["metrics"] == {
        "community_id": "c7",
        "pagerank": 0.25,
        "coreness": 3,
        "betweenness": None,
    }
    assert type(p["metrics"]["coreness"]) is int
    assert (p["run_id"], p["community_id"]) == ("r1", "c7")
    assert p["tags"] == [{"tag_id": "bridge", "score": 0.9, "reason": "why"}]


def test_admin_sees_attributes_in_clear():
    p = _profile(unmasked=True)
    assert p["attributes"]["name"] == "王小明"
    assert p["attributes"]["attr.email"] == "a@b.cn"


def test_without_a_run_or_community():
    p = _profile(run_id=None, metrics={}, tags=[])
    assert (p["run_id"], p["community_id"], p["metrics"], p["tags"]) == (None, None, {}, [])
    assert _profile(metrics={"community_id": float("nan")})["community_id"] is None
    assert community_of(np.float64("nan")) is None
    assert community_of(12) == "12"


def test_tags_from_frame_keeps_the_frame_order():
    df = pd.DataFrame({"tag_id": ["b", "a"], "score": [np.float32(0.5), 1], "reason": ["x", "y"]})
    assert tags_from_frame(df) == [
        {"tag_id": "b", "score": 0.5, "reason": "x"},
        {"tag_id": "a", "score": 1.0, "reason": "y"},
    ]
