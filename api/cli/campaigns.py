"""`guanxi plan-referral`, `evaluate-seeds` and `learn-probabilities`: referral campaigns."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api import usecases
from api.cli.errors import errors
from api.cli.options import JsonOpt, StoreOpt
from api.cli.render import dump, out, progress

TargetOpt = Annotated[
    str | None, typer.Option(help="Segment expression; only reached members count.")
]
CapOpt = Annotated[int | None, typer.Option(help="Cap on seeds per community.")]
RunOpt = Annotated[str | None, typer.Option(help="Analysis run (default: latest).")]
SeedOpt = Annotated[int, typer.Option(help="Random seed.")]
ProbabilitiesOpt = Annotated[
    str,
    typer.Option(
        "--probabilities",
        help="default (weighted cascade) or learned (from --history).",
        show_default=True,
    ),
]
HistoryOpt = Annotated[
    Path | None,
    typer.Option(
        help="Referral history (campaign_id, inviter_id, invitee_id, invited_at, "
        "converted_at) to learn probabilities from."
    ),
]


def _context(st, run: str | None, probabilities: str, history: Path | None):
    """The campaign context to plan on: learned probabilities attached when asked for."""
    from graph.errors import ConfigError

    if probabilities not in ("default", "learned"):
        raise ConfigError(f"--probabilities {probabilities!r}: use default or learned")
    if probabilities == "default":
        if history is not None:
            raise ConfigError("--history is only read with --probabilities learned")
        return None, "weighted_cascade"
    if history is None:
        raise ConfigError("--probabilities learned needs --history FILE")
    from api.usecases.probabilities import learned_context

    ctx, _ = learned_context(st, history, run_id=run)
    return ctx, "learned"


def plan_referral_cmd(
    seeds: Annotated[int, typer.Option("--seeds", help="Budget k: seed customers to contact.")],
    target: TargetOpt = None,
    max_per_community: CapOpt = None,
    csv_out: Annotated[Path | None, typer.Option("--csv", help="Write seeds to a CSV.")] = None,
    run: RunOpt = None,
    seed: SeedOpt = 0,
    probabilities: ProbabilitiesOpt = "default",
    history: HistoryOpt = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Choose K seed customers that maximise expected referral reach (IMM), with baselines.

    Customers without marketing consent or holding fraud_risk / credit_risk are never seeds.
    """
    from api.usecases.campaign_setup import CampaignParams
    from api.usecases.campaigns import plan_referral, plan_to_csv

    with errors(), usecases.open_default(store) as st, progress(not as_json) as bar:
        ctx, mapping = _context(st, run, probabilities, history)
        params = CampaignParams(
            k=seeds,
            target=target,
            max_per_community=max_per_community,
            seed=seed,
            mapping=mapping,
        )
        plan = plan_referral(st, params, run_id=run, context=ctx, progress=bar)
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
    target: TargetOpt = None,
    max_per_community: CapOpt = None,
    run: RunOpt = None,
    seed: SeedOpt = 0,
    probabilities: ProbabilitiesOpt = "default",
    history: HistoryOpt = None,
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
        ctx, mapping = _context(st, run, probabilities, history)
        params = CampaignParams(
            k=max(1, len(set(seeds.ids))),
            target=target,
            max_per_community=max_per_community,
            seed=seed,
            mapping=mapping,
        )
        ev = evaluate_seeds(st, seeds, params, run_id=run, context=ctx, progress=bar)
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


def learn_probabilities_cmd(
    history: Annotated[Path, typer.Option(help="Referral history CSV or Parquet.")],
    holdout_share: Annotated[
        float, typer.Option(help="Share of the latest campaigns held out for the check.")
    ] = 0.25,
    run: RunOpt = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Check probabilities learnt from your referral history: learn from the earlier
    campaigns, predict each later campaign's conversions, beside the default mapping."""
    from api.usecases.probabilities import score_history

    with errors(), usecases.open_default(store) as st:
        score = score_history(st, history, holdout_share=holdout_share, run_id=run)
    if as_json:
        dump(score)
        return
    used = score["used"]
    out.print(
        f"learnt from {score['train_campaigns']} campaigns ({used['invitations']:,} invitations, "
        f"{used['conversions']:,} conversions, {used['edges_seen']:,} ties seen; "
        f"conversion is {used['global_scale']:.2f}x what the default mapping predicts)"
    )
    out.print(
        f"on the {score['test_campaigns']} later campaigns, conversions per campaign are "
        f"predicted within {score['learned_mae']:,.1f} (learned) vs "
        f"{score['default_mae']:,.1f} (default) on average"
    )
    if used["unknown_customers"] or used["off_graph"]:
        out.print(
            f"left out: {used['unknown_customers']:,} invitations naming someone not in the "
            f"run, {used['off_graph']:,} between customers with no tie"
        )
