"""Hostile segment and rule expressions at the edges: 422 with the position over HTTP, exit 1
with the position (and the tag id for a rules file) in the CLI, never a 5xx or a traceback."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from api.cli import app as cli
from graph.store import open_store
from tagging.rule_parser import MAX_DEPTH, MAX_LENGTH
from tests.api.conftest import key

runner = CliRunner()
# The case: 999 NOTs within the request's 4,000 characters (3,997; the tag id need
# not exist, the depth is refused first).
DEEP = "NOT " * 999 + "x"
DEEP_AT = 4 * MAX_DEPTH  # the first NOT too many
HOSTILE = [
    DEEP,
    "NOT " * 999 + "opinion_leader",  # 4,010 characters: over the request limit
    "(" * 1999 + "opinion_leader",
    "(" * 1000 + "opinion_leader" + ")" * 1000,
    "NOT (" * 700 + "opinion_leader",
    "opinion_leader OR " * 222 + "bridge",  # 4,002 characters, flat
    "opinion_leader AND `x` OR 'y' AND \"z\" AND \\ AND 理财 AND 😀 AND %_ AND \t",
    "opinion_leader\x00",
    ")",
    "NOT",
]


def _run(*args: str):
    return runner.invoke(cli, list(args), catch_exceptions=False)


# --------------------------------------------------------------------------- HTTP


def test_999_nots_segment_is_422_with_position(client):
    r = client.post("/segments", json={"expression": DEEP}, headers=key("viewer"))
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "rule_error" and body["position"] == DEEP_AT
    assert f"more than {MAX_DEPTH} levels deep" in body["detail"]


def test_999_nots_segment_csv_is_422_with_position(client):
    r = client.post("/segments?format=csv", json={"expression": DEEP}, headers=key("operator"))
    assert r.status_code == 422 and r.json()["position"] == DEEP_AT


def test_999_nots_referral_target_is_422_with_position(client):
    r = client.post(
        "/campaigns/referral-plan", json={"k": 3, "target": DEEP}, headers=key("operator")
    )
    assert r.status_code == 422
    assert r.json()["error"] == "rule_error" and r.json()["position"] == DEEP_AT


def test_too_long_referral_target_is_422_with_position(client):
    # the request model puts no length limit on target: the segment language does
    target = "opinion_leader OR " * 300 + "bridge"
    r = client.post(
        "/campaigns/referral-plan", json={"k": 3, "target": target}, headers=key("operator")
    )
    assert r.status_code == 422
    assert r.json()["error"] == "rule_error" and r.json()["position"] == MAX_LENGTH


@pytest.mark.parametrize("expression", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_segments_are_never_5xx(client, expression):
    r = client.post("/segments", json={"expression": expression}, headers=key("viewer"))
    assert r.status_code in (200, 422), r.text
    if r.status_code == 422 and len(expression) <= MAX_LENGTH:
        assert r.json()["error"] == "rule_error" and isinstance(r.json()["position"], int)
    r = client.post(
        "/campaigns/referral-plan", json={"k": 2, "target": expression}, headers=key("operator")
    )
    assert r.status_code in (200, 422), r.text


def test_good_segment_still_200_after_hostile_ones(client):
    r = client.post(
        "/segments", json={"expression": "NOT " * 10 + "opinion_leader"}, headers=key("viewer")
    )
    assert r.status_code == 200 and r.json()["count"] >= 1


# --------------------------------------------------------------------------- CLI


def test_cli_segment_999_nots_exits_1_with_position(analysed_store_uri):
    res = _run("segment", DEEP, "--store", analysed_store_uri)
    assert res.exit_code == 1
    assert f"position {DEEP_AT}" in res.stderr and "levels deep" in res.stderr
    assert "Traceback" not in res.stderr + res.stdout


def test_cli_plan_referral_deep_target_exits_1_with_position(analysed_store_uri):
    res = _run(
        "plan-referral", "--seeds", "3", "--target", DEEP, "--json", "--store", analysed_store_uri
    )
    assert res.exit_code == 1
    assert f"position {DEEP_AT}" in res.stderr and "Traceback" not in res.stderr


def test_cli_analyze_rules_file_with_too_deep_rule_exits_1_naming_tag(analysed_store_uri, tmp_path):
    deep = "not " * 200 + "age >= 60"
    rules = tmp_path / "deep.toml"
    rules.write_text(f'[[tag]]\nid = "senior_customer"\nwhen = "{deep}"\n', encoding="utf-8")
    with open_store(analysed_store_uri) as st:
        runs_before = [r.run_id for r in st.list_runs()]
    res = _run("analyze", "--rules", str(rules), "--json", "--store", analysed_store_uri)
    assert res.exit_code == 1
    assert "tag 'senior_customer'" in res.stderr and "field 'when'" in res.stderr
    assert f"position {DEEP_AT}" in res.stderr and str(rules) in res.stderr.replace("\n", "")
    with open_store(analysed_store_uri) as st:
        assert [r.run_id for r in st.list_runs()] == runs_before  # refused before any write


def test_cli_segment_deepest_accepted_works(analysed_store_uri):
    expr = "NOT " * MAX_DEPTH + "opinion_leader"  # an even count of NOTs: the tag itself
    res = _run("segment", expr, "--json", "--store", analysed_store_uri)
    plain = _run("segment", "opinion_leader", "--json", "--store", analysed_store_uri)
    assert res.exit_code == 0 and plain.exit_code == 0
    assert json.loads(res.stdout)["count"] == json.loads(plain.stdout)["count"] >= 1
