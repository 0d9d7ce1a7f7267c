"""POST /campaigns/referral-plan: operator role or above; seeds respect consent and risk."""

from __future__ import annotations

from tests.api.conftest import key


def test_viewer_is_forbidden(client):
    r = client.post("/campaigns/referral-plan", json={"k": 5}, headers=key("viewer"))
    assert r.status_code == 403


def test_missing_key_is_401(client):
    assert client.post("/campaigns/referral-plan", json={"k": 5}).status_code == 401


def test_operator_gets_a_plan_with_baselines(client):
    r = client.post(
        "/campaigns/referral-plan",
        json={"k": 8, "max_per_community": 2},
        headers=key("operator"),
    )
    assert r.status_code == 200, r.text
    plan = r.json()
    assert len(plan["seeds"]) == 8
    assert {"top_degree", "top_pagerank"} <= set(plan["baselines"])
    communities = [s["community_id"] for s in plan["seeds"]]
    assert max(communities.count(c) for c in communities) <= 2
    for s in plan["seeds"]:
        assert not {"fraud_risk", "credit_risk"} & set(s["tags"])


def test_bad_target_is_422_with_position(client):
    r = client.post(
        "/campaigns/referral-plan",
        json={"k": 5, "target": "opinion_leader AND"},
        headers=key("operator"),
    )
    assert r.status_code == 422
    assert "position" in r.json()


def test_k_above_cap_is_422(client):
    r = client.post("/campaigns/referral-plan", json={"k": 5000}, headers=key("admin"))
    assert r.status_code == 422
