"""GET /customers/{id} and /customers/{id}/network with hostile ids: 200 or 404, never 5xx.

The ids are those of ``tests/graph/store/test_hostile_ids.py`` (CJK, emoji, quotes,
backticks, backslashes, ``%``, ``_``, a tab, 1,000-character ids, padded ids), percent-encoded
in the path. A loaded id answers 200 with that exact id; its padded form, which the loader
trimmed away, and ids that were never loaded answer 404 naming the id.
"""

from __future__ import annotations

import warnings
from urllib.parse import quote

import pytest

from api import usecases
from api.http.app import create_app
from api.settings import Settings
from graph.store import open_store
from loaders.ingest import load_folder
from tests.graph.store.test_hostile_ids import HOSTILE, HUB, TIES, _frames, _write_csv, stored

KEY = {"X-API-Key": "admin-key-1"}
#: Ids no route can match: Starlette decodes %2F before routing, and the client removes the
#: dot segment "..". They answer 404 too, as a path that does not exist. An id over the
#: path limit (1,000 characters) is a 422.
UNROUTABLE = {"a/b", ".."}
#: No "%XX" sequences: Starlette's TestClient decodes the path twice ("%2541" reaches the
#: route as "A"), which a real server does not.
NEVER_LOADED = ["x" * 999, "客" * 999 + "!", "😀😀", "%%", "__", "É", "nope\t", "..", "a/b"]


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    d = tmp_path_factory.mktemp("hostile_api")
    uri = f"duckdb:///{d / 'store.duckdb'}"
    with open_store(uri) as store:
        report = load_folder(store, _write_csv(_frames(), d / "csv"), quarantine_dir=d / "q")
        assert report.quarantined == 0
        usecases.analyze(store, seed=3)
    app = create_app(Settings(store=uri, api_keys="admin:admin-key-1"), warm=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from fastapi.testclient import TestClient
    with TestClient(app, raise_server_exceptions=False) as c:
        yield c


def _path(cid: str, suffix: str = "") -> str:
    return "/customers/" + quote(cid, safe="") + suffix


@pytest.mark.parametrize("cid", [stored(c) for c in HOSTILE] + TIES[:3] + [HUB])
def test_loaded_hostile_id_is_200_with_that_id(client, cid):
    r = client.get(_path(cid), headers=KEY)
    assert r.status_code == 200, (cid[:40], r.status_code, r.text[:200])
    assert r.json()["customer_id"] == cid
    for hops in (1, 2):
        r = client.get(_path(cid, f"/network?hops={hops}&limit=5"), headers=KEY)
        assert r.status_code == 200, (cid[:40], r.text[:200])
        body = r.json()
        assert body["customer_id"] == cid
        assert body["nodes"][0]["id"] == cid and body["nodes"][0]["hop"] == 0
        ids = {n["id"] for n in body["nodes"]}
        assert all({e["source"], e["target"]} <= ids for e in body["edges"])


@pytest.mark.parametrize(
    "cid", [c for c in HOSTILE if c != stored(c)] + NEVER_LOADED, ids=lambda c: repr(c[:12])
)
def test_unknown_or_padded_id_is_404_never_5xx(client, cid):
    for suffix in ("", "/network"):
        r = client.get(_path(cid, suffix), headers=KEY)
        if cid in UNROUTABLE and r.request.url.path == "/":
            # ``/customers/..`` normalises to ``/``: the web workspace's shell, no data
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
            continue
        assert r.status_code == 404, (cid[:40], suffix, r.status_code, r.text[:200])
        body = r.json()
        if cid in UNROUTABLE:
            assert body["error"] == "not_found"
        else:
            assert body["error"] == "customer_not_found" and body["customer_id"] == cid


def test_id_over_the_path_limit_is_422_never_5xx(client):
    from api.http.routes.customers import CUSTOMER_ID_MAX

    for suffix in ("", "/network"):
        r = client.get(_path("x" * (CUSTOMER_ID_MAX + 1), suffix), headers=KEY)
        assert r.status_code == 422 and r.json()["error"] == "invalid_request"
