"""A planner's own seed list judged on a real DuckDB store, against independent references.

The references: degrees counted with pandas from the stored relations (the "top-degree
list" a planner would bring), consent and risk tags read straight from the store, and the
plan's own seeds (which, scored on the plan's worlds, must reach exactly the plan's reach).
"""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from api.cli import app
from api.usecases.campaign_setup import CampaignParams, prepare_campaign
from api.usecases.campaigns import plan_referral, plan_to_csv
from api.usecases.seed_evaluation import evaluate_seeds, read_seed_file, seed_list
from graph.errors import ConfigError, LoaderError
from graph.store import open_store


@pytest.fixture(scope="module")
def store(analysed_store_uri):
    s = open_store(analysed_store_uri)
    yield s
    s.close()


@pytest.fixture(scope="module")
def ctx(store):
    return prepare_campaign(store)


@pytest.fixture(scope="module")
def top_degree(store) -> list[str]:
    """The 15 customers with the most distinct contacts, counted with pandas."""
    rel = store.read_table("relations", ["src_id", "dst_id"]).to_pandas()
    rel = rel[rel.src_id != rel.dst_id]
    pairs = pd.concat(
        [
            rel.rename(columns={"src_id": "a", "dst_id": "b"}),
            rel.rename(columns={"dst_id": "a", "src_id": "b"}),
        ]
    ).drop_duplicates()
    deg = pairs.groupby("a").size().sort_values(ascending=False, kind="stable")
    return deg.index[:15].tolist()


def test_a_top_degree_list_is_judged_beside_the_plan_and_the_bound(store, ctx, top_degree):
    ev = evaluate_seeds(store, seed_list(top_degree), CampaignParams(k=1, seed=2), context=ctx)
    assert ev["k"] == 15 and [s["customer_id"] for s in ev["seeds"]] == top_degree
    lo, hi = ev["reach_ci"]
    assert lo <= ev["expected_reach"] <= hi
    assert sum(ev["reach_per_hop"]) == pytest.approx(ev["expected_reach"], abs=0.05 * 15)
    assert ev["reach_per_hop"][0] == 15.0  # every seed reaches itself
    assert sum(ev["reach_per_community"].values()) <= ev["expected_reach"] + 0.01 * 20
    # the bound holds for every list of 15 eligible customers, the plan's included
    assert ev["plan_reach"] <= ev["upper_bound"]
    assert ev["share_of_upper_bound"] == pytest.approx(
        ev["expected_reach"] / ev["upper_bound"], abs=1e-3
    )
    assert ev["plan"]["params"]["k"] == 15 and len(ev["plan"]["seeds"]) <= 15
    assert set(ev["baselines"]) == {"top_degree", "top_out_strength", "top_pagerank"}
    print(
        f"\ntop-degree list of 15: reach {ev['expected_reach']}, IMM {ev['plan_reach']}, "
        f"upper bound {ev['upper_bound']}"
    )


def test_contactable_flags_follow_consent_and_risk_tags_read_from_the_store(store, ctx, top_degree):
    ev = evaluate_seeds(store, seed_list(top_degree), context=ctx)
    run = ctx.run.run_id
    cust = store.read_table("customers", ["customer_id", "marketing_consent"]).to_pandas()
    consent = dict(zip(cust.customer_id, cust.marketing_consent.fillna(False), strict=True))
    risky = set(store.read_tags(run, tag_id="fraud_risk")["customer_id"]) | set(
        store.read_tags(run, tag_id="credit_risk")["customer_id"]
    )
    for s in ev["seeds"]:
        want = bool(consent[s["customer_id"]]) and s["customer_id"] not in risky
        assert s["contactable"] is want, s
        assert (s["why_not"] is None) is want


def test_the_plans_own_seeds_reach_exactly_the_plans_reach(store, ctx, tmp_path):
    plan = plan_referral(store, CampaignParams(k=6, seed=5), context=ctx)
    path = tmp_path / "plan.csv"
    path.write_text(plan_to_csv(plan), encoding="utf-8")
    seeds = read_seed_file(path)  # a plan's CSV reads back as a seed list
    assert list(seeds.ids) == [s["customer_id"] for s in plan["seeds"]]
    assert seeds.lines == tuple(range(2, 8))
    ev = evaluate_seeds(store, seeds, CampaignParams(k=1, seed=5), context=ctx)
    assert ev["expected_reach"] == ev["plan_reach"] == plan["expected_reach"]
    assert ev["plan_uplift"] == 0.0 and ev["plan_uplift_ci"] == [0.0, 0.0]


def test_repeats_count_once_and_unknown_ids_fail_naming_their_lines(store, ctx, tmp_path):
    a, b = (
        s["customer_id"] for s in plan_referral(store, CampaignParams(k=2), context=ctx)["seeds"]
    )
    f = tmp_path / "mine.txt"
    f.write_text(f"# brand ambassadors\n{a}\n\n {b}\u3000\n{a}\n", encoding="utf-8")
    ev = evaluate_seeds(store, read_seed_file(f), context=ctx)
    assert ev["k"] == 2 and ev["duplicate_lines"] == [5]
    assert [s["line"] for s in ev["seeds"]] == [2, 4]
    f.write_text(f"{a}\nghost-1\n{b}\nghost-2\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"2 id\(s\).*line 2: 'ghost-1'; line 4: 'ghost-2'"):
        evaluate_seeds(store, read_seed_file(f), context=ctx)


def test_seed_files_in_gbk_and_broken_files(tmp_path):
    f = tmp_path / "gbk.txt"
    f.write_bytes("客户甲\n客户乙\n".encode("gbk"))
    assert read_seed_file(f).ids == ("客户甲", "客户乙")
    f.write_bytes(b"\xff\xfe\xff\n")
    with pytest.raises(LoaderError, match="byte"):
        read_seed_file(f)
    f.write_text("# nothing\n\n", encoding="utf-8")
    with pytest.raises(LoaderError, match="no customer ids"):
        read_seed_file(f)
    f.write_text("rank,customer_id\n1,C1\n2,\n", encoding="utf-8")
    with pytest.raises(LoaderError, match="line 3, column customer_id"):
        read_seed_file(f)
    with pytest.raises(LoaderError, match="cannot read"):
        read_seed_file(tmp_path / "absent.txt")


def test_cli_json_interface(analysed_store_uri, store, ctx, tmp_path):
    ids = [
        s["customer_id"] for s in plan_referral(store, CampaignParams(k=3), context=ctx)["seeds"]
    ]
    f = tmp_path / "seeds.txt"
    f.write_text("\n".join(ids) + "\n", encoding="utf-8")
    r = CliRunner().invoke(
        app,
        ["evaluate-seeds", str(f), "--store", analysed_store_uri, "--json"],
        catch_exceptions=False,
    )
    assert r.exit_code == 0, r.output
    ev = json.loads(r.output)
    assert {"expected_reach", "reach_ci", "plan_reach", "upper_bound"} <= set(ev)
    assert ev["plan_reach"] <= ev["upper_bound"]
    f.write_text("ghost\n", encoding="utf-8")
    r = CliRunner().invoke(app, ["evaluate-seeds", str(f), "--store", analysed_store_uri])
    assert r.exit_code == 1 and "line 1: 'ghost'" in r.output
