"""GET /communities/diff answers what `guanxi communities diff --json` answers, over HTTP.

Why: both front ends call one use case; the route must not reshape it, must page the moved
customers with `limit`, map an unknown run to 404, and leave `/communities/{id}` working
(this route is registered before it).
"""

from __future__ import annotations

import json

from api import usecases
from graph.store import open_store
from tests.api.conftest import key


def _runs(uri: str) -> tuple[str, str]:
    with open_store(uri, read_only=True) as store:
        runs = store.list_runs()
    return runs[-1].run_id, runs[0].run_id


def test_the_route_returns_the_use_case_object(client, api_store_uri):
    a, b = _runs(api_store_uri)
    query = {"from": a, "to": b, "limit": 5}
    r = client.get("/communities/diff", params=query, headers=key("viewer"))
    assert r.status_code == 200, r.text
    with open_store(api_store_uri, read_only=True) as store:
        want = usecases.communities_diff(store, a, b, limit=5)
    assert r.json() == json.loads(json.dumps(want))
    body = r.json()
    assert len(body["moved"]) == min(5, body["moved_count"])
    assert body["lineage_source"] == "stored" and body["lineage"][0]["event"]


def test_unknown_runs_are_404_and_community_pages_still_resolve(client, api_store_uri):
    a, b = _runs(api_store_uri)
    r = client.get("/communities/diff", params={"from": a, "to": "r-nope"}, headers=key("viewer"))
    assert r.status_code == 404 and r.json()["error"] == "run_not_found"
    with open_store(api_store_uri, read_only=True) as store:
        some = str(store.read_communities(b)["community_id"].iloc[0])
    r = client.get(f"/communities/{some}", headers=key("viewer"))
    assert r.status_code == 200, r.text
