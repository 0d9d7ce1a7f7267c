"""The hot endpoints' dependencies: api.http.deps' own functions, run on the event loop."""

from __future__ import annotations

import inspect

from fastapi.routing import APIRoute

from api.http import deps
from api.http.auth import access_of
from api.http.routes import customers, graph
from tests.api.conftest import key

HOT = {("GET", "/influencers"), ("GET", "/customers/{customer_id}")}


def _hot_routes() -> list[APIRoute]:
    routes = [
        r
        for module in (customers, graph)
        for r in module.router.routes
        if isinstance(r, APIRoute) and any((m, r.path) in HOT for m in r.methods)
    ]
    assert len(routes) == len(HOT)
    return routes


def test_hot_dependencies_are_event_loop_twins_of_deps():
    shared = {deps.get_reads, deps.get_caller, deps.limit20, deps.page_offset}
    for route in _hot_routes():
        for dep in route.dependant.dependencies:
            assert inspect.iscoroutinefunction(dep.call), (route.path, dep.call)
            original = inspect.unwrap(dep.call)
            assert original in shared, (route.path, original)
            assert inspect.signature(dep.call) == inspect.signature(original)
            assert access_of(dep.call) == access_of(original)


def test_hot_routes_check_keys_and_cap_limits_like_the_others(client):
    assert client.get("/influencers").status_code == 401
    assert client.get("/influencers", headers={"X-API-Key": "nope"}).status_code == 401
    page = client.get("/influencers?limit=5000&offset=3", headers=key("viewer")).json()
    assert (page["limit"], page["offset"]) == (1000, 3)
    assert client.get("/influencers?limit=0", headers=key("viewer")).status_code == 422
    cid = page["data"][0]["customer_id"]
    assert client.get(f"/customers/{cid}").status_code == 401
    assert client.get(f"/customers/{cid}", headers=key("viewer")).status_code == 200


def test_hot_parameters_are_documented_as_the_shared_ones(client):
    """The twins document what the thread-pool aliases of api.http.deps would."""
    from fastapi import FastAPI

    plain = FastAPI()

    @plain.get("/influencers")
    def influencers(caller: deps.CallerDep, limit: deps.Limit20, offset: deps.OffsetDep):
        return {}

    want = plain.openapi()["paths"]["/influencers"]["get"]
    got = client.get("/openapi.json").json()["paths"]["/influencers"]["get"]
    params = {p["name"]: p for p in got["parameters"]}
    for p in want["parameters"]:
        assert params[p["name"]] == p
    assert got["security"] == want["security"]
