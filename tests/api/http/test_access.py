"""Every operation of the OpenAPI document, called with no key, an unknown key and each role.

The expectation of each operation is not written here: it is the ``x-guanxi-access`` the app
documents from the route's own caller dependency (`api.http.deps`), so a route added without one
fails `test_every_operation_declares_its_access`, and a route whose dependency does not do
what it declares fails the calls. Path parameters are real ids of the loaded and analysed
store, request bodies the smallest valid ones the schema describes.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import APIRouter

from api.http.app import _document_access, create_app
from api.http.auth import ACCESS_EXTENSION, PUBLIC, ROLE_RANK
from api.http.deps import CallerDep
from api.settings import Settings
from graph.store import open_store
from tests.api.conftest import KEYS

METHODS = ("get", "post", "put", "patch", "delete")
UNKNOWN_KEY = "no-such-key-0000"
#: Who calls: the X-API-Key header sent (None: no header) and the role it has.
CALLERS: dict[str, tuple[str | None, str | None]] = {
    "no key": (None, None),
    "unknown key": (UNKNOWN_KEY, None),
    **{role: (k, role) for role, k in KEYS.items()},
}


@dataclass(frozen=True)
class Probe:
    """One operation, with the query that selects its variant (``format=csv``)."""

    method: str
    path: str
    operation: dict = field(repr=False, compare=False)
    variant: tuple[tuple[str, str], ...] = ()

    @property
    def label(self) -> str:
        query = "&".join(f"{k}={v}" for k, v in self.variant)
        return f"{self.method.upper()} {self.path}" + (f"?{query}" if query else "")

    @property
    def access(self) -> dict:
        return self.operation[ACCESS_EXTENSION]

    def needed_role(self) -> str | None:
        """The least role this variant needs, as documented."""
        role = self.access["role"]
        needed = None if role == PUBLIC else role
        for param, value in self.variant:
            stronger = self.access.get("when", {}).get(param, {}).get(value)
            if stronger is not None and (needed is None or ROLE_RANK[stronger] > ROLE_RANK[needed]):
                needed = stronger
        return needed


def operations(schema: dict) -> list[tuple[str, str, dict]]:
    """(method, path, operation) of every operation in the document."""
    return [
        (method, path, op)
        for path, item in schema["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]


def undeclared(schema: dict) -> list[str]:
    """Operations the document gives no access expectation."""
    return [f"{m.upper()} {p}" for m, p, op in operations(schema) if ACCESS_EXTENSION not in op]


def probes(schema: dict) -> list[Probe]:
    """Every operation, plus one probe per query value that documents a stronger role."""
    out = []
    for method, path, op in operations(schema):
        out.append(Probe(method, path, op))
        for param, roles in op.get(ACCESS_EXTENSION, {}).get("when", {}).items():
            for value in roles:
                out.append(Probe(method, path, op, ((param, value),)))
    return out


def _resolve(schema: dict, node: dict) -> dict:
    while "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[-1]
        node = schema["components"]["schemas"][name]
    return node


def minimal_value(schema: dict, prop: dict, example: Any = None) -> Any:
    """The smallest valid value of a property: a number's minimum, else an example."""
    prop = _resolve(schema, prop)
    if prop.get("type") in ("integer", "number") and "minimum" in prop:
        value = prop["minimum"]
        return int(value) if prop["type"] == "integer" else value
    if example is not None:
        return example
    if prop.get("examples"):
        return prop["examples"][0]
    if "default" in prop:
        return prop["default"]
    kind = prop.get("type")
    if kind == "string":
        return "x" * int(prop.get("minLength", 1))
    if kind in ("integer", "number"):
        return 0
    if kind == "boolean":
        return False
    if kind == "array":
        return []
    if kind == "object":
        return minimal_body(schema, prop)
    raise AssertionError(f"no minimal value for {prop}")


def minimal_body(schema: dict, node: dict) -> dict:
    """Only the required properties, each its smallest valid value (the model's example for
    a free-text field such as a segment expression, which must name real tags)."""
    node = _resolve(schema, node)
    examples = (node.get("examples") or [{}])[0]
    return {
        name: minimal_value(schema, node["properties"][name], examples.get(name))
        for name in node.get("required", [])
    }


@dataclass(frozen=True)
class Fillers:
    """Real values of the store, by parameter name."""

    values: dict[str, str]

    def __call__(self, name: str, where: str, label: str) -> str:
        assert name in self.values, (
            f"{label}: no real value for the {where} parameter {name!r}; add one to Fillers"
        )
        return self.values[name]


def build_request(schema: dict, probe: Probe, fill: Fillers) -> dict:
    """Keyword arguments of `TestClient.request` for `probe` (no headers)."""
    path = probe.path
    query: list[tuple[str, str]] = []
    for param in probe.operation.get("parameters", []):
        name, where = param["name"], param["in"]
        if where == "path":
            path = path.replace("{" + name + "}", fill(name, where, probe.label))
        elif where == "query" and param.get("required"):
            query.append((name, fill(name, where, probe.label)))
    query += list(probe.variant)
    kwargs: dict = {"method": probe.method.upper(), "url": path, "params": query}
    body = probe.operation.get("requestBody")
    if body is not None:
        media = body["content"]["application/json"]["schema"]
        kwargs["json"] = minimal_body(schema, media)
    return kwargs


@pytest.fixture(scope="module")
def fillers(api_store_uri) -> Fillers:
    """A customer, a community and a tag of the newest run, and both runs, from the store."""
    with open_store(api_store_uri, read_only=True) as store:
        runs = store.list_runs()
        newest = runs[0].run_id
        catalog = store.read_catalog(newest)
        held = catalog[catalog["count"] > 0]
        communities = store.read_communities(newest)
        return Fillers(
            {
                "customer_id": str(store.read_metrics(newest)["customer_id"].iloc[0]),
                "community_id": str(communities["community_id"].iloc[0]),
                "tag_id": str(held["tag_id"].iloc[0]),
                "from": runs[-1].run_id,
                "to": newest,
            }
        )


@pytest.fixture(scope="module")
def schema(client) -> dict:
    r = client.get("/openapi.json")
    assert r.status_code == 200
    return r.json()


def test_every_operation_declares_its_access(schema):
    assert undeclared(schema) == []
    assert len(operations(schema)) >= 12


def test_a_route_without_a_caller_dependency_is_caught(api_store_uri):
    """The check above can fail: an app with one unguarded route added is reported."""
    app = create_app(Settings(store=api_store_uri), warm=False)

    @app.get("/unguarded")
    def unguarded() -> dict:
        return {}

    def guarded(caller: CallerDep) -> dict:
        return {}

    router = APIRouter()
    router.add_api_route("/guarded", guarded, methods=["GET"])
    _document_access(router)
    app.include_router(router)
    doc = app.openapi()
    assert undeclared(doc) == ["GET /unguarded"]
    assert doc["paths"]["/guarded"]["get"][ACCESS_EXTENSION] == {"role": "viewer"}


def _expected_status(needed: str | None, role: str | None, sent: str | None) -> int | None:
    """401/403 for a caller who may not call; None for one who may (any 2xx)."""
    if needed is None:
        return None
    if role is None:
        return 401
    return 403 if ROLE_RANK[role] < ROLE_RANK[needed] else None


def test_every_operation_answers_each_caller_as_documented(client, schema, fillers):
    failures: list[str] = []
    table: dict[str, dict[str, int]] = {}
    for probe in probes(schema):
        request = build_request(schema, probe, fillers)
        needed = probe.needed_role()
        documented = set(probe.operation["responses"])
        row = table.setdefault(probe.label, {})
        for who, (sent, role) in CALLERS.items():
            headers = {} if sent is None else {"X-API-Key": sent}
            r = client.request(**copy.deepcopy(request), headers=headers)
            row[who] = r.status_code
            want = _expected_status(needed, role, sent)
            where = f"{probe.label} as {who}"
            if want is None:
                if not 200 <= r.status_code < 300:
                    failures.append(f"{where}: {r.status_code} {r.text[:200]}")
                elif str(r.status_code) not in documented:
                    failures.append(f"{where}: {r.status_code} is not documented")
                continue
            if r.status_code != want:
                failures.append(f"{where}: {r.status_code}, expected {want}: {r.text[:200]}")
                continue
            if str(want) not in documented:
                failures.append(f"{where}: {want} is returned but not documented")
            body = r.json()
            if want == 401:
                detail = "missing X-API-Key header" if sent is None else "unknown API key"
                if body != {"error": "unauthorized", "detail": detail}:
                    failures.append(f"{where}: body {body}")
                if r.headers.get("www-authenticate") != "ApiKey":
                    failures.append(f"{where}: no WWW-Authenticate header")
            else:
                tail = f"needs the {needed} role; this key has the {role} role"
                if body.get("error") != "forbidden" or not body.get("detail", "").endswith(tail):
                    failures.append(f"{where}: body {body}")
        # the key header is part of the documented contract of every guarded operation
        if (needed is not None) != bool(probe.operation.get("security")):
            failures.append(f"{probe.label}: security {probe.operation.get('security')}")
    _print_table(table)
    assert not failures, "\n".join(failures)
    n_operations = len(operations(schema))
    variants = [v for _, _, op in operations(schema) for v in op[ACCESS_EXTENSION].get("when", {})]
    assert len(table) >= n_operations + len(variants)
    print(f"access: {len(table)} probes ({n_operations} operations) x {len(CALLERS)} callers")


def _print_table(table: dict[str, dict[str, int]]) -> None:
    width = max(map(len, table))
    print("\n" + "operation".ljust(width) + "".join(f"{w:>13}" for w in CALLERS))
    for label, row in table.items():
        print(label.ljust(width) + "".join(f"{row.get(w, 0):>13}" for w in CALLERS))


def test_only_exports_and_campaign_planning_need_more_than_a_viewer_key(schema):
    """What README promises, pinned apart from the declarations: weakening one is caught."""
    stronger = {
        p.label: p.needed_role() for p in probes(schema) if p.needed_role() not in ("viewer", None)
    }
    assert stronger == {
        "POST /segments?format=csv": "operator",
        "POST /campaigns/referral-plan": "operator",
        "POST /campaigns/evaluate": "operator",
    }
    public = [p.label for p in probes(schema) if p.needed_role() is None]
    assert public == ["GET /health"]
