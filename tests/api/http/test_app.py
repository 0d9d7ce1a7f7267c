"""Route tests over a real DuckDB store: auth, masking per role, paging, 404s, CSV export."""

from __future__ import annotations

import csv
import io
import re

import pytest

from api import usecases
from api.http.app import create_app
from api.http.auth import KeyRing
from api.settings import Settings
from graph.errors import ConfigError
from tests.api.conftest import KEYS, key

MASKED_PHONE = re.compile(r"^\d{3}\*+\d{4}$")


@pytest.fixture(scope="module")
def some_customer(client) -> str:
    return client.get("/influencers?limit=1", headers=key("viewer")).json()["data"][0][
        "customer_id"
    ]


# --- auth ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "path",
    ["/influencers", "/customers/C0000001", "/communities", "/tags", "/runs"],
)
def test_missing_key_is_401(client, path):
    r = client.get(path)
    assert r.status_code == 401
    assert r.json() == {"error": "unauthorized", "detail": "missing X-API-Key header"}


def test_unknown_key_is_401(client):
    r = client.get("/influencers", headers={"X-API-Key": "view-key-2"})
    assert r.status_code == 401
    assert r.json()["detail"] == "unknown API key"


def test_health_needs_no_key_and_names_store_and_run(client, api_store_uri):
    r = client.get("/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok"
    assert body["store"] == api_store_uri
    runs = client.get("/runs", headers=key("viewer")).json()
    assert body["run_id"] == runs["data"][0]["run_id"]


def test_viewer_cannot_export_is_403(client):
    r = client.post(
        "/segments?format=csv", json={"expression": "opinion_leader"}, headers=key("viewer")
    )
    assert r.status_code == 403
    assert r.json() == {
        "error": "forbidden",
        "detail": "CSV export needs the operator role; this key has the viewer role",
    }


def test_keyring_checks_every_key():
    ring = KeyRing({"a": "viewer", "b": "admin"})
    assert ring.role_for("b") == "admin"
    assert ring.role_for("c") is None
    assert ring.role_for("") is None
    assert ring.role_for("é") is None


def test_malformed_api_keys_setting_fails_early(api_store_uri):
    with pytest.raises(ConfigError, match="GUANXI_API_KEYS"):
        create_app(Settings(store=api_store_uri, api_keys="boss:xyz"))


# --- masking ------------------------------------------------------------------------------
@pytest.mark.parametrize("role", ["viewer", "operator"])
def test_pii_masked_below_admin(client, some_customer, role):
    attrs = client.get(f"/customers/{some_customer}", headers=key(role)).json()["attributes"]
    assert MASKED_PHONE.match(attrs["phone"])
    assert "*" in attrs["name"]
    assert "*" in attrs["id_number"]


def test_admin_sees_pii(client, some_customer):
    attrs = client.get(f"/customers/{some_customer}", headers=key("admin")).json()["attributes"]
    assert attrs["phone"].isdigit()
    assert "*" not in attrs["name"]
    assert "*" not in attrs["id_number"]


def _csv_rows(client, role: str, expression: str) -> list[dict]:
    r = client.post("/segments?format=csv", json={"expression": expression}, headers=key(role))
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(r.text)))


def test_csv_export_masks_pii_for_operator_and_matches_json_count(client):
    expr = "opinion_leader OR high_influence"
    rows = _csv_rows(client, "operator", expr)
    page = client.post("/segments?limit=5", json={"expression": expr}, headers=key("viewer"))
    assert page.status_code == 200
    assert len(rows) == page.json()["count"] > 0
    assert [r["customer_id"] for r in rows[:5]] == [m["customer_id"] for m in page.json()["data"]]
    assert all(MASKED_PHONE.match(r["phone"]) for r in rows if r["phone"])
    assert all("*" in r["id_number"] for r in rows if r["id_number"])


def test_csv_export_unmasked_for_admin(client):
    rows = _csv_rows(client, "admin", "opinion_leader")
    assert rows and all(r["phone"].isdigit() for r in rows if r["phone"])


# --- customers ----------------------------------------------------------------------------
def test_customer_profile_has_metrics_and_tag_reasons(client, some_customer):
    body = client.get(f"/customers/{some_customer}", headers=key("viewer")).json()
    assert body["customer_id"] == some_customer
    assert body["run_id"] and body["community_id"]
    assert body["metrics"]["influence"] > 0
    assert body["tags"] and all(t["reason"] for t in body["tags"])


def test_unknown_customer_is_404_with_json_body(client):
    r = client.get("/customers/NO-SUCH", headers=key("viewer"))
    assert r.status_code == 404
    assert r.json() == {
        "error": "customer_not_found",
        "detail": "customer 'NO-SUCH' not found",
        "customer_id": "NO-SUCH",
    }
    assert client.get("/customers/NO-SUCH/network", headers=key("viewer")).status_code == 404


@pytest.mark.parametrize("hops", [1, 2])
def test_network_nodes_and_edges(client, some_customer, hops):
    r = client.get(
        f"/customers/{some_customer}/network?hops={hops}&limit=15", headers=key("viewer")
    )
    assert r.status_code == 200
    body = r.json()
    ids = {n["id"] for n in body["nodes"]}
    assert some_customer in ids and 1 < len(ids) <= 16
    assert max(n["hop"] for n in body["nodes"]) <= hops
    assert body["edges"]
    for e in body["edges"]:
        assert e["source"] in ids and e["target"] in ids
        assert e["weight"] > 0 and e["type"]


def test_network_hops_out_of_range_is_422(client, some_customer):
    r = client.get(f"/customers/{some_customer}/network?hops=3", headers=key("viewer"))
    assert r.status_code == 422
    assert r.json()["error"] == "invalid_request"
    assert r.json()["detail"] == "query.hops: Input should be less than or equal to 2"


# --- influencers and paging ---------------------------------------------------------------
def test_influencers_paging_is_consistent(client):
    full = client.get("/influencers?limit=30", headers=key("viewer")).json()
    assert full["count"] == 30
    scores = [d["score"] for d in full["data"]]
    assert scores == sorted(scores, reverse=True)
    page = client.get("/influencers?limit=10&offset=10", headers=key("viewer")).json()
    assert page["data"] == full["data"][10:20]
    assert page["data"][0]["rank"] == 11


def test_limit_is_capped_at_1000(client):
    body = client.get("/influencers?limit=5000", headers=key("viewer")).json()
    assert body["limit"] == 1000
    assert body["count"] == 1000


def test_influencers_by_community_and_tag(client):
    com = client.get("/communities?limit=1", headers=key("viewer")).json()["data"][0]
    body = client.get(
        f"/influencers?community={com['community_id']}&limit=5", headers=key("viewer")
    ).json()
    assert {d["community_id"] for d in body["data"]} == {com["community_id"]}
    body = client.get("/influencers?tag=opinion_leader&limit=5", headers=key("viewer")).json()
    assert body["data"] and all("opinion_leader" in d["tags"] for d in body["data"])


def test_unknown_community_and_tag_are_404(client):
    r = client.get("/communities/zzz", headers=key("viewer"))
    assert r.status_code == 404
    assert r.json()["error"] == "community_not_found"
    r = client.get("/influencers?tag=zzz", headers=key("viewer"))
    assert r.status_code == 404
    assert r.json() == {
        "error": "tag_not_found",
        "detail": "tag 'zzz' not found in the catalog of the current run",
        "tag_id": "zzz",
    }
    assert client.get("/tags/zzz/customers", headers=key("viewer")).status_code == 404


# --- communities and tags -----------------------------------------------------------------
def test_community_detail(client):
    listing = client.get("/communities?limit=2", headers=key("viewer")).json()
    assert listing["count"] == 2 and listing["total"] >= 2
    cid = listing["data"][0]["community_id"]
    body = client.get(f"/communities/{cid}", headers=key("viewer")).json()
    assert body["community"]["community_id"] == cid
    assert body["leaders"] and all(ld["community_id"] == cid for ld in body["leaders"])
    comp = {t["tag_id"]: t for t in body["tag_composition"]}
    assert comp[f"community:{cid}"]["customers"] == body["community"]["size"]


def test_tags_catalog_and_members_paging(client):
    cat = client.get("/tags", headers=key("viewer")).json()
    tags = {t["tag_id"]: t for t in cat["data"]}
    ol = tags["opinion_leader"]
    assert 0 < ol["coverage"] < 1 and ol["name_zh"] == "意见领袖"
    first = client.get("/tags/opinion_leader/customers?limit=3", headers=key("viewer")).json()
    second = client.get(
        "/tags/opinion_leader/customers?limit=3&offset=3", headers=key("viewer")
    ).json()
    assert first["total"] == ol["customers"]
    assert {d["customer_id"] for d in first["data"]}.isdisjoint(
        d["customer_id"] for d in second["data"]
    )


# --- segments, runs, diff -----------------------------------------------------------------
def test_malformed_expression_is_422_naming_position(client):
    r = client.post("/segments", json={"expression": "opinion_leader AND ("}, headers=key("viewer"))
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "rule_error" and body["position"] == 20


def test_segment_paging(client):
    expr = "opinion_leader OR high_influence"
    a = client.post("/segments?limit=4", json={"expression": expr}, headers=key("viewer")).json()
    b = client.post(
        "/segments?limit=4&offset=4", json={"expression": expr}, headers=key("viewer")
    ).json()
    assert a["count"] == b["count"] >= 8
    ids = [m["customer_id"] for m in a["data"] + b["data"]]
    assert ids == sorted(ids) and len(set(ids)) == 8


def test_segment_unknown_run_is_404(client):
    r = client.post(
        "/segments", json={"expression": "opinion_leader", "run_id": "r-x"}, headers=key("viewer")
    )
    assert r.status_code == 404
    assert r.json() == {"error": "run_not_found", "detail": "run 'r-x' not found", "run_id": "r-x"}


def test_runs_and_tags_diff(client):
    runs = client.get("/runs", headers=key("viewer")).json()
    assert runs["count"] == 2
    new, old = (r["run_id"] for r in runs["data"])
    d = client.get(f"/tags/diff?from={old}&to={new}&limit=5", headers=key("viewer")).json()
    assert d["from_run"] == old and d["count"] <= 5
    assert d["total"] == sum(t["gained"] + t["lost"] for t in d["totals"])
    r = client.get(f"/tags/diff?from={old}&to=nope", headers=key("viewer"))
    assert r.status_code == 404 and r.json()["run_id"] == "nope"


def test_openapi_documents_every_endpoint_with_examples(client):
    spec = client.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["APIKeyHeader"]["name"] == "X-API-Key"
    paths = spec["paths"]
    expected = {
        "/health", "/influencers", "/customers/{customer_id}", "/customers/{customer_id}/network",
        "/communities", "/communities/{community_id}", "/tags", "/tags/{tag_id}/customers",
        "/segments", "/runs", "/tags/diff",
    }  # fmt: skip
    assert expected <= set(paths)
    for path in expected:
        for op in paths[path].values():
            ok = op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
            name = ok.rsplit("/", 1)[1]
            assert spec["components"]["schemas"][name].get("examples"), path
            if path != "/health":
                assert "401" in op["responses"], path
    assert set(KEYS) == {"viewer", "operator", "admin"}


# --- declared PII columns -----------------------------------------------------------------
def test_declared_columns_are_masked_in_records_and_frames():
    import pandas as pd

    from api.usecases.masking import pii_columns, public_attributes

    cols = pii_columns(["email", "attr.city"], None)
    assert cols == ("name", "phone", "id_number", "email", "city")
    row = {
        "customer_id": "C1",
        "name": "王小明",
        "phone": "13812345678",
        "city": "上海",
        "attributes": '{"email": "wang@example.com", "tier": "gold"}',
    }
    shown = public_attributes(row, columns=cols)
    assert shown == {
        "customer_id": "C1",
        "name": "王**",
        "phone": "138****5678",
        "city": "**",
        "attr.email": "*" * len("wang@example.com"),
        "attr.tier": "gold",
    }
    assert public_attributes(row, columns=cols, unmasked=True)["attr.email"] == "wang@example.com"
    # undeclared extras stay readable; a non-JSON blob is masked whole once extras are declared
    assert public_attributes(row)["attr.email"] == "wang@example.com"
    blob = {"customer_id": "C1", "attributes": "not json"}
    assert public_attributes(blob)["attributes"] == "not json"
    assert public_attributes(blob, columns=cols)["attributes"] == "********"
    from api.usecases.masking import mask_frame

    df = pd.DataFrame({"phone": ["13812345678", None], "attr.email": ["a@b.c", "x"]})
    masked = mask_frame(df, columns=cols)
    assert masked["phone"][0] == "138****5678" and pd.isna(masked["phone"][1])
    assert masked["attr.email"].tolist() == ["*****", "*"]
    assert df["attr.email"].tolist() == ["a@b.c", "x"]


def test_pii_columns_setting_reads_a_comma_list(monkeypatch):
    monkeypatch.setenv("GUANXI_PII_COLUMNS", " email, attr.passport ,,")
    assert Settings().pii_columns == ("email", "attr.passport")
    monkeypatch.delenv("GUANXI_PII_COLUMNS")
    assert Settings().pii_columns == ()


def test_start_up_reads_ahead_then_health_says_so(api_store_uri):
    """`guanxi serve` reads ahead in a thread (ties, referrals, the two latest runs' diff);
    /health says ``warming`` until it is done, and the diff page is then answered from what
    it read (the same answer as computing it afresh)."""
    import time

    from fastapi.testclient import TestClient

    settings = Settings(store=api_store_uri, api_keys="admin:admin-key-1")
    app = create_app(settings, warm=True)
    with TestClient(app) as client:
        deadline = time.monotonic() + 120
        while client.get("/health").json()["warming"]:
            assert time.monotonic() < deadline, "still warming after 120 s"
            time.sleep(0.2)
        reads = app.state.guanxi.reads
        runs = [r.run_id for r in reads.store.list_runs()]
        assert (api_store_uri, runs[1], runs[0]) in reads._diffs._d  # read ahead
        assert reads._neighbour_index() is not None  # ego networks from memory
        got = client.get(
            f"/tags/diff?from={runs[1]}&to={runs[0]}&limit=1000",
            headers={"X-API-Key": "admin-key-1"},
        ).json()
        per, totals = usecases.tags_diff(reads.store, runs[1], runs[0])
        assert got["total"] == len(per) > 0
        assert [t["tag_id"] for t in got["totals"]] == totals["tag_id"].tolist()
