"""The workspace endpoints over the real API store, against the store read independently."""

from __future__ import annotations

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from graph.store import open_store
from tagging.evaluator import percentile_below
from tests.api.conftest import key


@pytest.fixture(scope="module")
def reference(api_store_uri) -> dict:
    """The latest run's metrics and the relations, read straight from the store."""
    with open_store(api_store_uri, read_only=True) as store:
        run = store.list_runs()[0]
        metrics = store.read_metrics(run.run_id)
        relations = store.read_table("relations", ["src_id", "dst_id", "type"]).to_pandas()
        communities = store.read_communities(run.run_id)
    return {"run": run, "metrics": metrics, "relations": relations, "communities": communities}


@pytest.mark.parametrize(
    ("role", "unmasked", "export"),
    [("viewer", False, False), ("operator", False, True), ("admin", True, True)],
)
def test_me_tells_the_page_what_the_key_allows(client, role, unmasked, export):
    r = client.get("/me", headers=key(role))
    assert r.status_code == 200
    assert r.json() == {"role": role, "unmasked": unmasked, "can_export": export}
    # what /me promises is what the API does
    csv = client.post("/segments?format=csv", json={"expression": "bridge"}, headers=key(role))
    assert csv.status_code == (200 if export else 403)
    assert client.get("/me").status_code == 401


def test_community_map_counts_ties_between_the_largest_communities(client, reference):
    r = client.get("/community-map?limit=8", headers=key("viewer"))
    assert r.status_code == 200
    body = r.json()
    com = reference["communities"]
    assert body["run_id"] == reference["run"].run_id
    assert body["total_communities"] == len(com)
    assert [n["community_id"] for n in body["nodes"]] == list(com["community_id"].astype(str)[:8])
    assert [n["size"] for n in body["nodes"]] == [int(s) for s in com["size"][:8]]

    m = reference["metrics"]
    of = dict(zip(m["customer_id"], m["community_id"], strict=True))
    rel = reference["relations"]
    a, b = rel["src_id"].map(of), rel["dst_id"].map(of)
    keep = a.notna() & b.notna() & (a != b)
    lo = np.minimum(rel["src_id"][keep], rel["dst_id"][keep])
    hi = np.maximum(rel["src_id"][keep], rel["dst_id"][keep])
    pairs = pd.DataFrame({"lo": lo, "hi": hi}).drop_duplicates()
    ca, cb = pairs["lo"].map(of), pairs["hi"].map(of)
    pairs["x"], pairs["y"] = np.minimum(ca, cb), np.maximum(ca, cb)
    shown = {n["community_id"] for n in body["nodes"]}
    want = {
        (x, y): int(n)
        for (x, y), n in pairs.groupby(["x", "y"]).size().items()
        if x in shown and y in shown
    }
    got = {(link["source"], link["target"]): link["ties"] for link in body["links"]}
    assert got == want and want


def test_referral_tree_follows_the_referral_relations(client, reference):
    rel = reference["relations"]
    ref = rel[rel["type"] == "referral"]
    g = nx.DiGraph()
    g.add_edges_from(zip(ref["src_id"], ref["dst_id"], strict=True))
    m = reference["metrics"].set_index("customer_id")
    root = m["referral_downstream"].astype(float).idxmax()
    r = client.get(f"/customers/{root}/referral-tree", headers=key("viewer"))
    assert r.status_code == 200
    body = r.json()
    levels = nx.single_source_shortest_path_length(g, root, cutoff=body["max_depth"])
    assert not body["truncated"]
    assert {e["referred"]: e["level"] for e in body["edges"]} == {
        c: d for c, d in levels.items() if c != root
    }
    for e in body["edges"]:
        assert g.has_edge(e["referrer"], e["referred"])
    # the run's own referral metric counts the same tree
    assert len(body["edges"]) == int(m.loc[root, "referral_downstream"])
    assert client.get("/customers/nope/referral-tree", headers=key("viewer")).status_code == 404


def test_percentiles_are_the_rule_languages(client, reference):
    m = reference["metrics"]
    cid = str(m["customer_id"].iloc[17])
    r = client.get(f"/customers/{cid}/percentiles", headers=key("viewer"))
    assert r.status_code == 200
    got = r.json()["percentiles"]
    for name in ("pagerank", "degree", "betweenness", "influence", "reach_2hop"):
        want = percentile_below(m[name].to_numpy(dtype=float))[17]
        assert got[name] == pytest.approx(want), name
    assert client.get("/customers/nope/percentiles", headers=key("viewer")).status_code == 404


def test_customer_tags_are_the_profiles_catalog_tags(client):
    top = client.get("/influencers?limit=5", headers=key("viewer")).json()["data"]
    ids = [row["customer_id"] for row in top]
    r = client.post(
        "/customers/tags", json={"customer_ids": [*ids, "nope", ids[0]]}, headers=key("viewer")
    )
    assert r.status_code == 200
    body = r.json()
    assert [row["customer_id"] for row in body["data"]] == ids  # unknown and repeated ids left out
    for row, inf in zip(body["data"], top, strict=True):
        profile = client.get(f"/customers/{row['customer_id']}", headers=key("viewer")).json()
        assert set(row["tags"]) == {t["tag_id"] for t in profile["tags"]} & set(inf["tags"])
        assert row["tags"] == inf["tags"]
    too_many = {"customer_ids": [f"C{i}" for i in range(1001)]}
    assert client.post("/customers/tags", json=too_many, headers=key("viewer")).status_code == 422
    assert client.post("/customers/tags", json={"customer_ids": ids}).status_code == 401


def test_warm_reads_the_current_runs_relations_once(app, client, reference, monkeypatch):
    from api.http.readmodel.workspace import WorkspaceReads
    from api.http.routes import workspace

    monkeypatch.setattr(workspace, "_workspace", WorkspaceReads())  # nothing read yet
    reads = app.state.guanxi.reads
    client.get("/health")  # the app is started and serving
    workspace.warm(reads)
    served = (reads.store.uri, reference["run"].run_id)
    assert workspace._workspace._referrals[0] == served
    assert workspace._workspace._ties[0] == served
    held = workspace._workspace._ties[1]
    assert client.get("/community-map", headers=key("viewer")).status_code == 200
    assert workspace._workspace._ties[1] is held  # served from what warm read
