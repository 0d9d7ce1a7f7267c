"""Reading a run: `guanxi influencers`, `metrics export`, `tags`, `tags diff`, `tags quality`,
`customer`, `segment`. Each opens the store, asks one use case, prints (PII masked by the
use cases)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from api import usecases
from api.cli.errors import errors
from api.cli.options import JsonOpt, StoreOpt
from api.cli.render import df_table, dump, fmt, out
from api.usecases.tag_health import DEFAULT_MOVE_SHARE, tag_quality_report


def influencers(
    top: Annotated[int, typer.Option(help="How many.")] = 20,
    community: Annotated[str | None, typer.Option(help="Only this community.")] = None,
    tag: Annotated[str | None, typer.Option(help="Only customers holding this tag.")] = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Customers ranked by influence score (latest run)."""
    with errors(), usecases.open_default(store) as st:
        run, df = usecases.influencers(st, limit=top, community_id=community, tag_id=tag)
    if as_json:
        dump(df.to_dict(orient="records"))
        return
    cols = [
        "customer_id",
        "score",
        "community_id",
        "pagerank",
        "in_degree",
        "betweenness",
        "referral_downstream",
    ]
    out.print(df_table(df, f"top {top} influencers, run {run.run_id}", cols))


def metrics_export(
    out_file: Annotated[Path, typer.Option("--out", help="FILE.csv or FILE.parquet")],
    store: StoreOpt = None,
    run: Annotated[str | None, typer.Option(help="Run id (default latest).")] = None,
) -> None:
    """Write every metric of a run, one row per customer."""
    with errors(), usecases.open_default(store) as st:
        n = usecases.export_metrics(st, out_file, run_id=run)
    out.print(f"wrote {n:,} rows to {out_file}")


def tags(
    ctx: typer.Context,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The tag catalog with how many customers hold each tag (latest run)."""
    if ctx.invoked_subcommand is not None:
        return
    with errors(), usecases.open_default(store) as st:
        df = usecases.tag_coverage(st)
    if as_json:
        dump(df.rename(columns={}).to_dict(orient="records"))
        return
    out.print(df_table(df, "tag coverage", ["category", "tag_id", "name_zh", "count"]))
    if "not_evaluated" in df.columns:
        for r in df[df["not_evaluated"].notna()].itertuples():
            out.print(f"not evaluated: {r.tag_id} ({r.not_evaluated})")


def tags_diff(
    run_a: Annotated[str, typer.Argument(help="Earlier run id.")],
    run_b: Annotated[str, typer.Argument(help="Later run id.")],
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Tags gained and lost per customer between two runs, and totals per tag."""
    with errors(), usecases.open_default(store) as st:
        changes, totals = usecases.tags_diff(st, run_a, run_b)
    if as_json:
        dump(
            {
                "from": run_a,
                "to": run_b,
                "changes": changes.to_dict(orient="records"),
                "totals": totals.to_dict(orient="records"),
            }
        )
        return
    out.print(df_table(totals, f"tag changes {run_a} -> {run_b}"))
    out.print(f"{len(changes):,} customer-tag changes")


def tags_quality(
    run: Annotated[str | None, typer.Option(help="Run id (default latest).")] = None,
    move_share: Annotated[
        float, typer.Option(help="Flag a tag whose count moved by more than this share.")
    ] = DEFAULT_MOVE_SHARE,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Every tag's health: coverage, the most overlapping tag of its category, the share of
    the previous run's holders it kept, and a flag where its count moved a lot."""
    with errors(), usecases.open_default(store) as st:
        report = tag_quality_report(st, run_id=run, move_share=move_share)
    if as_json:
        dump(report["tags"])
        return
    prev = report["previous_run_id"] or "none (first run)"
    df = pd.DataFrame(report["tags"])
    show = pd.DataFrame(
        {
            "tag_id": df["tag_id"],
            "count": df["count"],
            "coverage": [f"{c:.1%}" for c in df["coverage"]],
            "overlaps most": [
                "" if t is None else f"{t} ({j:.2f})"
                for t, j in zip(df["overlap_tag"], df["overlap_jaccard"], strict=True)
            ],
            "kept": ["" if x is None else f"{x:.0%}" for x in df["stability"]],
            "moved": ["!" if f else "" for f in df["flagged"]],
        }
    )
    out.print(df_table(show, f"tag quality, run {report['run_id']} (previous {prev})"))
    flagged = df[df["flagged"].astype(bool)]
    if len(flagged):
        out.print(
            f"{len(flagged)} tag(s) moved by more than {move_share:.0%}: "
            + ", ".join(flagged["tag_id"].astype(str).head(20))
        )


def customer(
    customer_id: Annotated[str, typer.Argument(help="Customer id.")],
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One customer's attributes (PII masked), metrics and tags with reasons."""
    with errors(), usecases.open_default(store) as st:
        prof = usecases.customer_profile(st, customer_id)
    if as_json:
        dump(prof)
        return
    _print_profile(prof)


def _print_profile(prof: dict) -> None:
    out.print(f"[bold]customer {prof['customer_id']}[/bold]  community {prof.get('community_id')}")
    attrs = {k: v for k, v in prof["attributes"].items() if v is not None}
    out.print("  " + ", ".join(f"{k}={v}" for k, v in attrs.items()))
    m = prof.get("metrics", {})
    keys = (
        "influence",
        "pagerank",
        "in_degree",
        "out_degree",
        "betweenness",
        "coreness",
        "referral_downstream",
    )
    out.print("  metrics: " + ", ".join(f"{k}={fmt(m[k])}" for k in keys if k in m))
    for t in prof.get("tags", []):
        out.print(f"  [green]{t['tag_id']}[/green] ({t['score']:.2f}): {t['reason']}")


def segment(
    expr: Annotated[str, typer.Argument(help="e.g. 'opinion_leader AND NOT churn_risk'")],
    limit: Annotated[int, typer.Option(help="Members to list.")] = 20,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Customers matching a boolean expression over tag ids (latest run)."""
    with errors(), usecases.open_default(store) as st:
        run, members = usecases.segment(st, expr)
    if as_json:
        dump(
            {
                "expression": expr,
                "run_id": run.run_id,
                "count": len(members),
                "members": members[:limit],
            }
        )
        return
    out.print(f"{len(members):,} customers match {expr!r} (run {run.run_id})")
    for c in members[:limit]:
        out.print(f"  {c}")
