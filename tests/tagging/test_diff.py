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


def test_random_runs_match_set_difference():
    """Against Python sets on random runs with repeated pairs, ids that are prefixes of each
    other and tags only one run has (the integer codes must not collide or shift)."""
    import numpy as np

    rng = np.random.default_rng(3)
    ids = [f"c{i}" for i in range(120)] + ["c1x", "", "中文"]
    tags = ["t", "t1", "prefers:food", "community:c0001"]

    def run(n: int, extra: list[str]) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "customer_id": rng.choice(ids, n),
                "tag_id": rng.choice(tags + extra, n),
            }
        )

    a, b = run(900, ["only_a"]), run(900, ["only_b"])
    sa = set(zip(a.customer_id, a.tag_id, strict=True))
    sb = set(zip(b.customer_id, b.tag_id, strict=True))
    want = sorted([(c, t, "gained") for c, t in sb - sa] + [(c, t, "lost") for c, t in sa - sb])
    per, totals = diff_assignments(a, b)
    assert [tuple(r) for r in per.values.tolist()] == want
    for tag, gained, lost in totals.values.tolist():
        assert gained == sum(1 for _, t, ch in want if t == tag and ch == "gained")
        assert lost == sum(1 for _, t, ch in want if t == tag and ch == "lost")
    assert set(totals.tag_id) == {t for _, t, _ in want}
