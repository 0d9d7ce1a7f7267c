"""Learnt activation probabilities (pure) against known true rates."""

from __future__ import annotations

import numpy as np
import pytest

from graph.activation import edge_index, expected_conversions, learn_probabilities
from graph.errors import ConfigError


def test_many_invitations_recover_each_ties_rate_and_unseen_ties_get_the_calibrated_prior():
    rng = np.random.default_rng(0)
    src = np.array([0, 0, 1, 2, 2])
    dst = np.array([1, 2, 2, 0, 3])
    true = np.array([0.05, 0.30, 0.10, 0.02, 0.2])
    default = np.full(5, 0.5)
    used = np.array([0, 1, 2, 3])  # tie 4 (2 -> 3) is never used to invite
    e = rng.choice(used, size=40_000)
    got = learn_probabilities(src, dst, default, src[e], dst[e], rng.random(e.size) < true[e])
    np.testing.assert_allclose(got.probs[used], true[used], atol=0.01)
    assert got.exposures == e.size and got.off_graph == 0 and got.edges_seen == 4
    # the unused tie's prior: the default, scaled by the history's overall rate and its
    # inviter's (vertex 2 invites along 2 -> 0 only, at 0.02 against a default of 0.5)
    assert got.global_scale == pytest.approx(true[used].mean() / 0.5, rel=0.05)
    assert got.probs[4] < 0.5 * got.global_scale


def test_sparse_ties_are_shrunk_and_off_graph_invitations_are_counted():
    src, dst = np.array([0, 1]), np.array([1, 0])
    got = learn_probabilities(
        src,
        dst,
        np.array([0.2, 0.2]),
        inviter=np.array([0, 0, 2]),
        invitee=np.array([1, 1, 0]),
        converted=np.array([True, True, True]),
    )
    assert got.off_graph == 1 and got.exposures == 2
    assert 0.2 < got.probs[0] < 1.0  # two of two converted: pulled up, not to 1
    with pytest.raises(ConfigError):
        learn_probabilities(
            src, dst, np.array([0.2]), np.array([0]), np.array([1]), np.array([True])
        )


def test_edge_index_and_expected_conversions():
    src, dst = np.array([0, 1, 1]), np.array([1, 2, 0])
    e = edge_index(src, dst, np.array([1, 1, 2, 0]), np.array([0, 2, 2, 1]))
    assert e.tolist() == [2, 1, -1, 0]
    codes, pred = expected_conversions(np.array([0.1, 0.2, 0.3]), e, np.array([5, 5, 5, 7]))
    assert codes.tolist() == [5, 7] and pred.tolist() == pytest.approx([0.5, 0.1])
