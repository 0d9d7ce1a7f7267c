import pandas as pd

from tagging.diff import diff_assignments


def test_gained_lost_and_totals():
    a = pd.DataFrame(
        {
            "customer_id": ["c1", "c1", "c2", "c3"],
            "tag_id": ["x", "y", "x", "x"],
            "score": [1.0, 1.0, 1.0, 0.2],
        }
    )
    b = pd.DataFrame(
        {
            "customer_id": ["c1", "c2", "c2", "c3", "c4"],
            "tag_id": ["x", "x", "z", "x", "z"],
            "score": [1.0, 1.0, 1.0, 0.9, 1.0],  # a score change is not a tag change
        }
    )
    per, totals = diff_assignments(a, b)
    assert per.values.tolist() == [
        ["c1", "y", "lost"],
        ["c2", "z", "gained"],
        ["c4", "z", "gained"],
    ]
    assert totals.values.tolist() == [["y", 0, 1], ["z", 2, 0]]
    assert list(totals.columns) == ["tag_id", "gained", "lost"]


def test_identical_runs_have_no_changes():
    a = pd.DataFrame({"customer_id": ["c1"], "tag_id": ["x"]})
    per, totals = diff_assignments(a, a)
    assert per.empty and totals.empty
    assert list(per.columns) == ["customer_id", "tag_id", "change"]
