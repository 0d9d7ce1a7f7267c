"""No PII below admin, anywhere: sentinel values loaded, every surface read, none found.

Every customer of a small generated dataset gets a unique sentinel in name, phone and
id_number and in two extra columns declared PII, ``email`` by the operator
(``GUANXI_PII_COLUMNS``) and ``passport`` by the data owner (the store's declaration, what
``guanxi load --pii-columns`` writes), plus one undeclared extra column that must stay
readable. The data goes through the real loader and two analyses; then every HTTP operation
of the OpenAPI document (and each customer's profile and network, each tag's and
community's page, every CSV export) is called as viewer and as operator, and every CLI read
command runs with and without ``--json``. No response body, header, output or written file
may hold a sentinel. Admin sees the built-in columns in clear, which shows the probes could
have seen a leak.

A sentinel is ``<6 letters>SNTL<kind><n>X<4 letters>``: every masker keeps at most the first
six and the last four characters, so any ``SNTL`` in an answer is an unmasked value.
"""

from __future__ import annotations

import csv
import io
import json
import re
import warnings
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from api import usecases
from api.cli import app as cli_app
from api.http.app import create_app
from api.settings import Settings, get_settings
from graph.store import open_store
from loaders.generate import generate, write_dataset
from tests.api.conftest import KEYS
from tests.api.http.test_access import Fillers, build_request, probes

N_CUSTOMERS = 300
MARK = "SNTL"
LEAK = re.compile(MARK + r"[A-Z]{2}\d+X")
BUILTIN = {"name": "NM", "phone": "PH", "id_number": "ID"}
DECLARED = {"email": "EM", "passport": "PP"}  # settings, store declaration
OPEN_COLUMN = "nickname"  # an extra column nobody declared: shown to everyone


def sentinel(kind: str, i: int) -> str:
    return f"abcdef{MARK}{kind}{i}Xwxyz"


runner = CliRunner()


def _cli(*args: str):
    return runner.invoke(cli_app, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def sentinel_store(tmp_path_factory) -> tuple[str, list[str], Path, str]:
    """A store loaded with ``guanxi load --pii-columns passport`` and analysed twice, whose
    every customer holds sentinels; one more sentinel row (a bad birth date) is quarantined.

    Returns the store URI, the customer ids, the quarantine folder and what the load printed.
    """
    root = tmp_path_factory.mktemp("sentinel")
    data_dir = root / "data"
    write_dataset(generate(N_CUSTOMERS, seed=5), data_dir, fmt="csv")
    customers = pd.read_csv(data_dir / "customers.csv", dtype=str, keep_default_na=False)
    bad = customers.iloc[[0]].copy()
    bad["customer_id"], bad["birth_date"] = "CQUARANTINED", "not-a-date"
    customers = pd.concat([customers, bad], ignore_index=True)
    for i in range(len(customers)):
        for col, kind in {**BUILTIN, **DECLARED}.items():
            customers.loc[i, col] = sentinel(kind, i)
        customers.loc[i, OPEN_COLUMN] = f"open-{i}"
    customers.to_csv(data_dir / "customers.csv", index=False)
    uri = f"duckdb:///{root / 'store.duckdb'}"
    quarantine = root / "quarantine"
    res = _cli(
        "load", str(data_dir), "--store", uri, "--pii-columns", "passport",
        "--quarantine-dir", str(quarantine), "--json",
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    tables = json.loads(res.stdout)["tables"]
    assert (tables["customers"]["loaded"], tables["customers"]["quarantined"]) == (N_CUSTOMERS, 1)
    with open_store(uri) as store:
        assert store.declared_pii_columns() == ("passport",)
        usecases.analyze(store, seed=1)
        usecases.analyze(store, seed=2)
        ids = store.customer_ids().to_pylist()
    return uri, sorted(ids), quarantine, res.stdout + res.stderr


class Probes:
    """Counts what was inspected and collects every leak with where it was found."""

    def __init__(self) -> None:
        self.count = 0
        self.leaks: list[str] = []

    def check(self, where: str, *texts: str | bytes) -> None:
        self.count += 1
        for text in texts:
            if isinstance(text, bytes):
                text = text.decode("utf-8", errors="replace")
            for m in LEAK.finditer(text):
                self.leaks.append(f"{where}: {m.group(0)}")


def _headers_text(r) -> str:
    return "\n".join(f"{k}: {v}" for k, v in r.headers.items())


def _store_facts(uri: str) -> dict:
    with open_store(uri, read_only=True) as store:
        runs = store.list_runs()
        newest = runs[0].run_id
        catalog = store.read_catalog(newest)
        return {
            "runs": [r.run_id for r in runs],
            "tags": [str(t) for t in catalog[catalog["count"] > 0]["tag_id"]],
            "communities": [str(c) for c in store.read_communities(newest)["community_id"]],
        }


def test_no_sentinel_reaches_a_viewer_or_operator_over_http(sentinel_store):
    uri, ids, _, _ = sentinel_store
    facts = _store_facts(uri)
    settings = Settings(
        store=uri,
        api_keys=",".join(f"{role}:{k}" for role, k in KEYS.items()),
        pii_columns=("email",),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from fastapi.testclient import TestClient

    seen = Probes()
    everything = f"{facts['tags'][0]} OR NOT {facts['tags'][0]}"
    with TestClient(create_app(settings, warm=False), raise_server_exceptions=False) as client:
        schema = client.get("/openapi.json").json()
        fill = Fillers(
            {
                "customer_id": ids[0],
                "community_id": facts["communities"][0],
                "tag_id": facts["tags"][0],
                "from": facts["runs"][-1],
                "to": facts["runs"][0],
            }
        )
        requests = [(p.label, build_request(schema, p, fill)) for p in probes(schema)]
        for cid in ids:
            requests.append((f"profile {cid}", {"method": "GET", "url": f"/customers/{cid}"}))
            requests.append(
                (
                    f"network {cid}",
                    {"method": "GET", "url": f"/customers/{cid}/network?hops=2&limit=1000"},
                )
            )
        for tag in facts["tags"]:
            url = f"/tags/{tag}/customers?limit=1000"
            requests.append((f"tag {tag}", {"method": "GET", "url": url}))
        for com in facts["communities"]:
            requests.append((f"community {com}", {"method": "GET", "url": f"/communities/{com}"}))
        for fmt in ("json", "csv"):
            requests.append(
                (
                    f"segment of everyone as {fmt}",
                    {
                        "method": "POST",
                        "url": f"/segments?format={fmt}&limit=1000",
                        "json": {"expression": everything},
                    },
                )
            )
        requests += [
            ("all influencers", {"method": "GET", "url": "/influencers?limit=1000"}),
            ("all communities", {"method": "GET", "url": "/communities?limit=1000"}),
            (
                "whole diff",
                {
                    "method": "GET",
                    "url": "/tags/diff",
                    "params": {"from": fill.values["from"], "to": fill.values["to"], "limit": 1000},
                },
            ),
            ("unknown customer", {"method": "GET", "url": "/customers/NO-SUCH"}),
        ]
        statuses: dict[int, int] = {}
        for role in ("viewer", "operator"):
            for label, request in requests:
                r = client.request(**request, headers={"X-API-Key": KEYS[role]})
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
                assert r.status_code < 500, f"{label} as {role}: {r.status_code} {r.text[:200]}"
                seen.check(f"{label} as {role}", r.content, _headers_text(r))

        # the probes can see PII: an undeclared extra column shows to a viewer, and admin
        # gets the built-in columns (and the declared ones) in clear
        viewer = client.get(f"/customers/{ids[7]}", headers={"X-API-Key": KEYS["viewer"]})
        assert viewer.json()["attributes"][f"attr.{OPEN_COLUMN}"].startswith("open-")
        admin = client.get(f"/customers/{ids[7]}", headers={"X-API-Key": KEYS["admin"]})
        attrs = admin.json()["attributes"]
        assert {attrs["name"], attrs["phone"], attrs["id_number"]} <= {
            sentinel(k, i) for k in BUILTIN.values() for i in range(N_CUSTOMERS)
        }
        assert LEAK.search(attrs["attr.email"]) and LEAK.search(attrs["attr.passport"])
        masked = viewer.json()["attributes"]
        assert masked["attr.email"] == "*" * len(attrs["attr.email"])
        assert masked["attr.passport"] == "*" * len(attrs["attr.passport"])
        export = client.post(
            "/segments?format=csv",
            json={"expression": everything},
            headers={"X-API-Key": KEYS["admin"]},
        )
        rows = list(csv.DictReader(io.StringIO(export.text)))
        assert len(rows) == N_CUSTOMERS
        assert all(LEAK.fullmatch(r["name"][6:-4]) for r in rows)
    print(
        f"\nPII sentinel over HTTP: {seen.count} probes, statuses {sorted(statuses.items())}, "
        f"{len(seen.leaks)} leaks"
    )
    assert seen.leaks == []
    assert seen.count == 2 * len(requests)


@pytest.fixture
def cli_settings(monkeypatch):
    """The CLI reads GUANXI_PII_COLUMNS through the cached settings: set, then re-read."""
    monkeypatch.setenv("GUANXI_PII_COLUMNS", "email")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def test_no_sentinel_in_any_cli_read_command(sentinel_store, cli_settings, tmp_path):
    uri, ids, quarantine, load_output = sentinel_store
    facts = _store_facts(uri)
    old, new = facts["runs"][-1], facts["runs"][0]
    everything = f"{facts['tags'][0]} OR NOT {facts['tags'][0]}"
    seen = Probes()
    seen.check("guanxi load --json", load_output)
    quarantined = sorted(quarantine.rglob("*.csv"))
    assert quarantined, "the bad row was quarantined somewhere"
    for path in quarantined:
        seen.check(f"quarantine file {path.name}", path.read_text(encoding="utf-8"))
    commands: list[list[str]] = []
    for cid in ids[:: max(1, len(ids) // 25)]:
        commands.append(["customer", cid])
    commands += [
        ["influencers", "--top", "1000"],
        ["segment", everything, "--limit", "1000"],
        ["tags"],
        ["tags", "diff", old, new],
    ]
    for args in commands:
        for extra in ([], ["--json"]):
            if args[0] == "tags" and len(args) == 1:
                argv = ["tags", "--store", uri, *extra]
            else:
                argv = [*args, "--store", uri, *extra]
            res = _cli(*argv)
            assert res.exit_code == 0, f"{argv}: {res.output}"
            seen.check(" ".join(argv), res.stdout, res.stderr)
    files = []
    for suffix in ("csv", "parquet"):
        out = tmp_path / f"metrics.{suffix}"
        res = _cli("metrics", "export", "--out", str(out), "--store", uri)
        assert res.exit_code == 0, res.output
        seen.check(f"metrics export {suffix}", res.stdout, res.stderr)
        files.append(out)
    for extra in ([], ["--json"]):
        out = tmp_path / f"plan{len(extra)}.csv"
        res = _cli("plan-referral", "--seeds", "3", "--csv", str(out), "--store", uri, *extra)
        assert res.exit_code == 0, res.output
        seen.check("plan-referral " + " ".join(extra), res.stdout, res.stderr)
        files.append(out)
    for path in files:
        text = (
            pd.read_parquet(path).to_csv(index=False)
            if path.suffix == ".parquet"
            else path.read_text(encoding="utf-8")
        )
        assert text.strip(), path
        seen.check(f"file {path.name}", text)
    # a profile is there and masked: the undeclared column shows, the declared ones do not
    prof = json.loads(_cli("customer", ids[3], "--store", uri, "--json").stdout)
    assert prof["attributes"][f"attr.{OPEN_COLUMN}"].startswith("open-")
    assert set(prof["attributes"]["attr.email"]) == {"*"}
    assert set(prof["attributes"]["attr.passport"]) == {"*"}
    assert prof["attributes"]["phone"].startswith("abc") and "*" in prof["attributes"]["phone"]
    print(f"\nPII sentinel in the CLI: {seen.count} probes, {len(seen.leaks)} leaks")
    assert seen.leaks == []
    assert seen.count == 1 + len(quarantined) + 2 * len(commands) + 4 + len(files)
