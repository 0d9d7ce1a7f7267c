"""Building the interaction graph: weights by hand, collapse, referral subgraph, counts."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pyarrow as pa
import pytest

from graph.build import (
    DEFAULT_TYPE_WEIGHTS,
    UNLISTED_TYPE_WEIGHT,
    build_interaction_graph,
    edge_arrays,
    edge_interactions,
)
from graph.errors import ConfigError


def relations(rows: list[tuple]) -> pa.Table:
    src, dst, typ, at, count = zip(*rows, strict=True)
    return pa.table(
        {
            "src_id": pa.array(src, pa.string()),
            "dst_id": pa.array(dst, pa.string()),
            "type": pa.array(typ, pa.string()),
            "occurred_at": pa.array(at, pa.timestamp("us")),
            "count": pa.array(count, pa.int64()),
        }
    )


D0 = datetime(2024, 7, 1)  # the latest interaction: the default as_of
D180 = datetime(2024, 1, 3)  # 180 days earlier: one half-life
D360 = datetime(2023, 7, 7)  # 360 days earlier: two half-lives

ROWS = [
    ("a", "b", "like", D0, 2),  # 0.5 * 2 * 1
    ("a", "b", "referral", D180, 1),  # 5 * 1 * 0.5 -- collapses with the like
    ("b", "a", "message", D360, None),  # 1.5 * 1 (null count) * 0.25
    ("a", "zz", "like", D0, 1),  # unknown dst: dropped, counted
    ("c", "c", "message", D0, 1),  # self-loop: dropped, counted
    ("d", "a", "gift", D180, 4),  # unlisted type: weight 1 * 4 * 0.5
    ("c", "d", "referral", D0, 3),  # 5 * 3
]


@pytest.fixture
def tiny():
    return build_interaction_graph(pa.array(["d", "c", "b", "a", "b"]), relations(ROWS))


def edge_map(g) -> dict:
    src, dst, w = edge_arrays(g)
    return {(int(s), int(d)): float(x) for s, d, x in zip(src, dst, w, strict=True)}


def test_ids_sorted_unique_and_lookup(tiny) -> None:
    assert tiny.ids.tolist() == ["a", "b", "c", "d"]
    assert tiny.n == tiny.graph.vcount() == tiny.referral.vcount() == 4
    assert tiny.index_of(np.array(["d", "nobody", "a"], dtype=object)).tolist() == [3, -1, 0]
    assert tiny.index_of(pa.array(["b"])).tolist() == [1]


def test_weights_decay_type_and_collapse(tiny) -> None:
    a, b, c, d = range(4)
    assert edge_map(tiny.graph) == pytest.approx(
        {
            (a, b): 0.5 * 2 + 5 * 0.5,
            (b, a): 1.5 * 0.25,
            (c, d): 5 * 3,
            (d, a): UNLISTED_TYPE_WEIGHT * 4 * 0.5,
        }
    )
    inter = dict(
        zip(tiny.graph.get_edgelist(), edge_interactions(tiny.graph).tolist(), strict=True)
    )
    assert inter == {(a, b): 3, (b, a): 1, (c, d): 3, (d, a): 4}
    assert edge_map(tiny.referral) == {(a, b): 1.0, (c, d): 3.0}


def test_undirected_view_sums_both_directions(tiny) -> None:
    und = tiny.undirected()
    assert not und.is_directed()
    assert und is tiny.undirected()  # cached
    assert edge_map(und) == pytest.approx({(0, 1): 3.5 + 0.375, (2, 3): 15.0, (0, 3): 2.0})
    assert edge_interactions(und).tolist() == [4, 4, 3]


def test_the_directed_graph_is_built_when_asked_and_again_after_its_release(tiny) -> None:
    first = tiny.graph
    assert first is tiny.graph  # kept once built
    before = (first.get_edgelist(), edge_map(first), edge_interactions(first).tolist())
    tiny.release_graph()
    again = tiny.graph
    assert again is not first and again.is_directed() and again.vcount() == tiny.n
    assert (again.get_edgelist(), edge_map(again), edge_interactions(again).tolist()) == before
    assert tiny.edge_count == again.ecount() == 4


def test_dropped_rows_are_counted(tiny) -> None:
    assert tiny.stats["relations_total"] == 7
    assert tiny.stats["relations_used"] == 5
    assert tiny.stats["relations_dropped_unknown_id"] == 1
    assert tiny.stats["relations_dropped_self_loop"] == 1
    assert tiny.stats["relations_unlisted_type"] == 1
    assert tiny.stats["as_of"] == "2024-07-01T00:00:00"


def test_explicit_as_of_and_future_rows_clip_to_age_zero() -> None:
    rows = [("a", "b", "transfer", D0, 1), ("b", "a", "transfer", D360, 1)]
    g = build_interaction_graph(
        pa.array(["a", "b"]), relations(rows), as_of=D180, half_life_days=180
    )
    # a->b is dated after as_of: counts as fresh (3), not more than fresh.
    assert edge_map(g.graph) == pytest.approx({(0, 1): 3.0, (1, 0): 3.0 * 0.5})


def test_type_weight_override_merges_with_defaults() -> None:
    rows = [("a", "b", "like", D0, 1), ("b", "a", "family", D0, 1)]
    g = build_interaction_graph(pa.array(["a", "b"]), relations(rows), type_weights={"like": 2})
    assert edge_map(g.graph) == {(0, 1): 2.0, (1, 0): DEFAULT_TYPE_WEIGHTS["family"]}
    assert DEFAULT_TYPE_WEIGHTS["referral"] > DEFAULT_TYPE_WEIGHTS["like"]


def test_missing_count_column_and_no_relations() -> None:
    rel = relations([("a", "b", "share", D0, 1)]).drop_columns(["count"])
    g = build_interaction_graph(np.array(["a", "b", "c"], dtype=object), rel)
    assert edge_map(g.graph) == {(0, 1): 2.0}
    empty = build_interaction_graph(pa.array(["x"]), rel.slice(0, 0))
    assert empty.graph.ecount() == 0 and empty.undirected().ecount() == 0
    assert empty.stats["relations_total"] == 0


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [({"half_life_days": 0}, "half_life_days"), ({"type_weights": {"like": -1}}, "type_weights")],
)
def test_bad_parameters_raise_config_error(kwargs: dict, fragment: str) -> None:
    with pytest.raises(ConfigError, match=fragment):
        build_interaction_graph(pa.array(["a"]), relations([("a", "a", "like", D0, 1)]), **kwargs)


def test_vectorised_build_handles_many_rows_quickly() -> None:
    rng = np.random.default_rng(0)
    n, m = 20_000, 300_000
    ids = np.array([f"C{i:06d}" for i in range(n)], dtype=object)
    src, dst = rng.integers(0, n, m), rng.integers(0, n, m)
    rel = pa.table(
        {
            "src_id": pa.array(ids[src]),
            "dst_id": pa.array(ids[dst]),
            "type": pa.array(np.array(["like", "referral", "transfer"])[rng.integers(0, 3, m)]),
            "occurred_at": pa.array(
                np.datetime64("2024-01-01", "us") + rng.integers(0, 10**13, m).astype("m8[us]")
            ),
        }
    )
    g = build_interaction_graph(pa.array(ids), rel)
    expected = np.unique(src[src != dst] * n + dst[src != dst]).size
    assert g.graph.ecount() == expected
    assert g.stats["relations_used"] == int((src != dst).sum())
    total_w = edge_arrays(g.graph)[2].sum()
    # the undirected view is the independent per-pair sum of both directions, pair by pair
    directed = g.graph.get_edgelist()
    pair_sum: dict[tuple[int, int], float] = {}
    for (a, b), w in zip(directed, edge_arrays(g.graph)[2], strict=True):
        pair = (min(a, b), max(a, b))
        pair_sum[pair] = pair_sum.get(pair, 0.0) + w
    und = g.undirected()
    got = {
        (min(a, b), max(a, b)): w
        for (a, b), w in zip(und.get_edgelist(), edge_arrays(und)[2], strict=True)
    }
    assert und.ecount() == len(pair_sum) < g.graph.ecount()
    assert got.keys() == pair_sum.keys()
    assert [got[p] for p in sorted(got)] == pytest.approx([pair_sum[p] for p in sorted(got)])
    assert np.sum(edge_arrays(und)[2]) == pytest.approx(total_w)


def test_the_graph_is_bit_identical_whatever_the_row_order(small_data):
    """Stores may return relations in any order; sums per pair must not depend on it."""
    import numpy as np

    from graph.build import build_interaction_graph, edge_arrays, edge_interactions

    rel = small_data.relations
    ids = small_data.customers.column("customer_id")
    a = build_interaction_graph(ids, rel)
    for seed in (1, 2, 3):
        shuffled = rel.take(np.random.default_rng(seed).permutation(rel.num_rows))
        b = build_interaction_graph(ids, shuffled)
        for x, y in zip(edge_arrays(a.graph), edge_arrays(b.graph), strict=True):
            assert np.array_equal(x, y)
        assert np.array_equal(edge_interactions(a.graph), edge_interactions(b.graph))
        assert np.array_equal(edge_arrays(a.referral)[2], edge_arrays(b.referral)[2])


def test_pair_weights_are_summed_left_to_right_in_ascending_order() -> None:
    """Pairs of 1 to 40 rows in shuffled row order: each weight is the left fold of its
    sorted values (what the Spark projection computes), not numpy's pairwise sum."""
    from graph.build import _collapse

    rng = np.random.default_rng(3)
    lengths = np.r_[np.ones(300, int), np.full(200, 2), rng.integers(3, 41, 200)]
    n = 1000
    pairs = rng.choice(n * n, size=lengths.size, replace=False)
    key = np.repeat(pairs, lengths)
    values = rng.random(key.size) * 10.0 ** rng.integers(-8, 8, key.size)
    mix = rng.permutation(key.size)
    src, dst, w, c = _collapse(key[mix] // n, key[mix] % n, n, values[mix], np.ones(key.size, int))

    folds, pairwise = {}, {}
    for k in pairs.tolist():
        sorted_values = np.sort(values[key == k])
        acc = sorted_values[0]
        for v in sorted_values[1:]:
            acc = acc + v
        folds[k], pairwise[k] = acc, np.add.reduce(sorted_values)
    assert folds != pairwise  # the data tells the two sums apart
    got = src * n + dst
    assert dict(zip(got.tolist(), w.tolist(), strict=True)) == folds
    assert c.tolist() == [int((key == k).sum()) for k in got.tolist()]


def test_a_reader_of_small_batches_builds_the_graph_the_whole_table_builds(small_data):
    """A store streams its relations in batches (and the Neo4j path hands its table over
    as one): each batch is read on its own, so the batches' columns must join exactly."""
    from graph.build import handed_over

    rel = small_data.relations
    ids = small_data.customers.column("customer_id")
    whole = build_interaction_graph(ids, rel)
    batched = pa.Table.from_batches(rel.to_batches(max_chunksize=97))
    assert batched.to_batches()[0].num_rows == 97
    streamed = build_interaction_graph(ids, handed_over(batched))
    for x, y in zip(edge_arrays(whole.graph), edge_arrays(streamed.graph), strict=True):
        assert np.array_equal(x, y)
    assert np.array_equal(edge_interactions(whole.graph), edge_interactions(streamed.graph))
    assert np.array_equal(edge_arrays(whole.referral)[2], edge_arrays(streamed.referral)[2])
    assert whole.stats == streamed.stats
    empty = pa.RecordBatchReader.from_batches(rel.schema, iter([]))
    none = build_interaction_graph(ids, empty)
    assert none.graph.ecount() == 0 and none.n == whole.n
