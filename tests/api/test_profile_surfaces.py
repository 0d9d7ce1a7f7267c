"""One profile on both surfaces: `guanxi customer ID --json` and ``GET /customers/{id}`` give
the same document for the same customer, field by field, masked the same way for a viewer,
and both match a reference assembled here from the store's own rows."""

from __future__ import annotations

import json
import math
import warnings

import pytest
from typer.testing import CliRunner

from api.cli import app as cli_app
from api.http.app import create_app
from api.settings import Settings, get_settings
from graph.store import open_store

KEYS = {"viewer": "v-key-1", "admin": "a-key-1"}
DECLARED = "city"  # a contract column declared PII by the operator


def _masked_like_a_viewer(col: str, v):
    """Independent masking reference: name keeps the surname, phone and id_number keep
    their ends, a declared column keeps nothing but its length."""
    if v is None:
        return None
    v = str(v)
    if col == "name":
        return v[0] + "*" * max(1, len(v) - 1)
    if col == "phone":
        return v[:3] + "*" * (len(v) - 7) + v[-4:] if len(v) >= 7 else "*" * len(v)
    if col == "id_number":
        return v[:6] + "*" * (len(v) - 10) + v[-4:] if len(v) >= 10 else "*" * len(v)
    return "*" * max(1, len(v))


def _plain(v):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return None
    if hasattr(v, "item"):
        v = v.item()
    return v.isoformat() if hasattr(v, "isoformat") else v


def _reference(store, customer_id: str, *, unmasked: bool) -> dict:
    run = store.list_runs()[0].run_id
    record = dict(store.get_customer(customer_id))
    extra = json.loads(record.pop("attributes") or "{}")
    attributes = {k: _plain(v) for k, v in record.items()}
    attributes.update({f"attr.{k}": v for k, v in extra.items()})
    if not unmasked:
        for col in ("name", "phone", "id_number", DECLARED):
            attributes[col] = _masked_like_a_viewer(col, attributes[col])
    m = store.read_metrics(run)
    row = m[m["customer_id"] == customer_id].iloc[0].to_dict()
    metrics = {k: _plain(v) for k, v in row.items() if k not in ("customer_id", "run_id")}
    tags = store.read_tags(run, customer_id=customer_id)
    return {
        "customer_id": customer_id,
        "attributes": attributes,
        "run_id": run,
        "community_id": metrics["community_id"],
        "metrics": metrics,
        "tags": [
            {"tag_id": t, "score": float(s), "reason": r}
            for t, s, r in zip(tags["tag_id"], tags["score"], tags["reason"], strict=True)
        ],
    }


@pytest.fixture(scope="module")
def customers(analysed_store_uri) -> list[str]:
    with open_store(analysed_store_uri, read_only=True) as store:
        ids = store.customer_ids().to_pylist()
        run = store.list_runs()[0].run_id
        top = store.top_influencers(run, limit=1)["customer_id"].iloc[0]
    return [str(top), *ids[::397]]


@pytest.fixture(scope="module")
def http_bodies(analysed_store_uri, customers) -> dict[tuple[str, str], bytes]:
    settings = Settings(
        store=analysed_store_uri,
        api_keys=",".join(f"{role}:{k}" for role, k in KEYS.items()),
        pii_columns=(DECLARED,),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from fastapi.testclient import TestClient

    out = {}
    with TestClient(create_app(settings, warm=False)) as client:
        for role in KEYS:
            for cid in customers:
                r = client.get(f"/customers/{cid}", headers={"X-API-Key": KEYS[role]})
                assert r.status_code == 200, r.text
                out[role, cid] = r.content
    return out


def test_cli_and_http_show_the_same_profile_field_by_field(
    analysed_store_uri, customers, http_bodies, monkeypatch
):
    monkeypatch.setenv("GUANXI_PII_COLUMNS", DECLARED)
    get_settings.cache_clear()
    try:
        for cid in customers:
            res = CliRunner().invoke(
                cli_app, ["customer", cid, "--json", "--store", analysed_store_uri]
            )
            assert res.exit_code == 0, res.output
            cli = json.loads(res.stdout)
            api = json.loads(http_bodies["viewer", cid])
            assert list(cli) == list(api)
            for field in api:
                if isinstance(api[field], dict):
                    assert list(cli[field]) == list(api[field]), (cid, field)
                    for k, v in api[field].items():
                        assert cli[field][k] == v, (cid, field, k)
                else:
                    assert cli[field] == api[field], (cid, field)
            # the CLI prints one line of JSON with the default separators, non-ASCII kept
            assert res.stdout == json.dumps(cli, ensure_ascii=False) + "\n"
    finally:
        get_settings.cache_clear()


def test_profiles_match_the_store_rows(analysed_store_uri, customers, http_bodies):
    with open_store(analysed_store_uri, read_only=True) as store:
        for cid in customers:
            for role in KEYS:
                body = http_bodies[role, cid]
                got = json.loads(body)
                assert got == _reference(store, cid, unmasked=role == "admin"), (role, cid)
                # the wire form: compact separators, non-ASCII kept
                assert body == json.dumps(got, ensure_ascii=False, separators=(",", ":")).encode()
                assert got["tags"], cid  # every sampled customer holds tags
