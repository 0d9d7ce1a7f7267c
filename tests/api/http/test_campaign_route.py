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


def test_contexts_live_on_the_app_keyed_by_store_and_run(app, client, api_store_uri):
    from api.http.app import create_app

    contexts = app.state.guanxi.campaigns
    new, old = (r["run_id"] for r in client.get("/runs", headers=key("viewer")).json()["data"])
    plans = {}
    for run in (old, new):
        r = client.post(
            "/campaigns/referral-plan", json={"k": 3, "run_id": run}, headers=key("operator")
        )
        assert r.status_code == 200, r.text
        plans[run] = r.json()
        # one context is kept, the latest used, under the store's uri and the run's id
        assert contexts.keys() == [(api_store_uri, run)]
    assert plans[old]["run_id"] == old and plans[new]["run_id"] == new
    # a second app over the same settings starts with caches of its own
    other = create_app(app.state.guanxi.settings, warm=False)
    fresh = other.state.guanxi.campaigns
    assert fresh is not contexts and fresh.keys() == []


def test_evaluate_scores_a_list_beside_the_plan_for_operators(client):
    plan = client.post("/campaigns/referral-plan", json={"k": 4}, headers=key("operator")).json()
    mine = [s["customer_id"] for s in plan["seeds"]]
    r = client.post("/campaigns/evaluate", json={"seeds": mine}, headers=key("operator"))
    assert r.status_code == 200, r.text
    ev = r.json()
    # the plan's own seeds, scored on the plan's worlds, reach exactly what the plan reaches
    assert ev["k"] == 4 and ev["expected_reach"] == ev["plan_reach"] == plan["expected_reach"]
    assert ev["plan_uplift"] == 0.0
    assert ev["plan_reach"] <= ev["upper_bound"]
    assert (
        client.post("/campaigns/evaluate", json={"seeds": mine}, headers=key("viewer")).status_code
        == 403
    )
    assert client.post("/campaigns/evaluate", json={"seeds": mine}).status_code == 401


def test_evaluate_refuses_unknown_ids_naming_their_position(client):
    r = client.post("/campaigns/evaluate", json={"seeds": ["nobody-here"]}, headers=key("operator"))
    assert r.status_code == 422
    assert "seed 1" in r.text and "nobody-here" in r.text
    assert (
        client.post("/campaigns/evaluate", json={"seeds": []}, headers=key("admin")).status_code
        == 422
    )
