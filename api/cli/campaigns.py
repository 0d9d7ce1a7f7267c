"""`guanxi plan-referral`: the K seed customers that maximise expected referral reach."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api import usecases
from api.cli.errors import errors
from api.cli.options import JsonOpt, StoreOpt
from api.cli.render import dump, out, progress


def plan_referral_cmd(
    seeds: Annotated[int, typer.Option("--seeds", help="Budget k: seed customers to contact.")],
    target: Annotated[
        str | None, typer.Option(help="Segment expression; only reached members count.")
    ] = None,
    max_per_community: Annotated[
        int | None, typer.Option(help="Cap on seeds per community.")
    ] = None,
    csv_out: Annotated[Path | None, typer.Option("--csv", help="Write seeds to a CSV.")] = None,
    run: Annotated[str | None, typer.Option(help="Analysis run (default: latest).")] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Choose K seed customers that maximise expected referral reach (IMM), with baselines.

    Customers without marketing consent or holding fraud_risk / credit_risk are never seeds.
    """
    from api.usecases.campaign_setup import CampaignParams
    from api.usecases.campaigns import plan_referral, plan_to_csv

    with errors(), usecases.open_default(store) as st, progress(not as_json) as bar:
        params = CampaignParams(
            k=seeds, target=target, max_per_community=max_per_community, seed=seed
        )
        plan = plan_referral(st, params, run_id=run, progress=bar)
    if csv_out:
        csv_out.write_text(plan_to_csv(plan), encoding="utf-8")
    if as_json:
        dump(plan)
        return
    lo, hi = plan["reach_ci"]
    out.print(
        f"expected reach {plan['expected_reach']:,.0f} customers (95% CI {lo:,.0f}-{hi:,.0f}); "
        "baselines on the same simulations: "
        + ", ".join(f"{k} {v:,.0f}" for k, v in plan["baselines"].items())
    )
    for s in plan["seeds"]:
        out.print(f"  {s['rank']:>3} {s['customer_id']}  {s['reason']}")


def evaluate_seeds_cmd(
    file: Annotated[
        Path,
        typer.Argument(help="One customer id per line, or a CSV with a customer_id column."),
    ],
    target: Annotated[
        str | None, typer.Option(help="Segment expression; only reached members count.")
    ] = None,
    max_per_community: Annotated[
        int | None, typer.Option(help="Cap on seeds per community for the IMM plan beside it.")
    ] = None,
    run: Annotated[str | None, typer.Option(help="Analysis run (default: latest).")] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """How good is your seed list? Its reach beside IMM's plan for as many seeds and the
    upper bound on the best possible, on the same simulated cascades.
    """
    from api.usecases.campaign_setup import CampaignParams
    from api.usecases.seed_evaluation import evaluate_seeds, read_seed_file

    with errors(), usecases.open_default(store) as st, progress(not as_json) as bar:
        seeds = read_seed_file(file)
        params = CampaignParams(
            k=max(1, len(set(seeds.ids))),
            target=target,
            max_per_community=max_per_community,
            seed=seed,
        )
        ev = evaluate_seeds(st, seeds, params, run_id=run, progress=bar)
    if as_json:
        dump(ev)
        return
    lo, hi = ev["reach_ci"]
    plo, phi = ev["plan_reach_ci"]
    out.print(
        f"your {ev['k']} seeds: expected reach {ev['expected_reach']:,.0f} customers "
        f"(95% CI {lo:,.0f}-{hi:,.0f})"
    )
    out.print(
        f"IMM plan, same k: {ev['plan_reach']:,.0f} (95% CI {plo:,.0f}-{phi:,.0f}); "
        f"upper bound on the best: {ev['upper_bound']:,.0f}; your list reaches "
        f"{100 * (ev['share_of_upper_bound'] or 0):.1f}% of it"
    )
    out.print(
        "reach per hop: " + ", ".join(f"{h}: {r:,.1f}" for h, r in enumerate(ev["reach_per_hop"]))
    )
    out.print(
        "baselines on the same simulations: "
        + ", ".join(f"{k} {v:,.0f}" for k, v in ev["baselines"].items())
    )
    blocked = [s for s in ev["seeds"] if not s["contactable"]]
    if blocked:
        out.print(f"{len(blocked)} of your seeds may not be contacted:")
        for s in blocked[:10]:
            out.print(f"  line {s['line']} {s['customer_id']}: {s['why_not']}")
    if ev["duplicate_lines"]:
        out.print(f"repeated ids counted once (lines {ev['duplicate_lines'][:10]})")
