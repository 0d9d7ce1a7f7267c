"""`guanxi communities diff`: community ids kept between two runs, and their lineage."""

from __future__ import annotations

from typing import Annotated

import pandas as pd
import typer

from api import usecases
from api.cli.errors import errors
from api.cli.options import JsonOpt, StoreOpt
from api.cli.render import df_table, dump, out

communities_app = typer.Typer(help="Communities across runs.", no_args_is_help=True)


@communities_app.command("diff")
def communities_diff(
    run_a: Annotated[str, typer.Argument(help="Earlier run id.")],
    run_b: Annotated[str, typer.Argument(help="Later run id.")],
    limit: Annotated[
        int, typer.Option("--limit", min=0, help="Moved customers to list (all are counted).")
    ] = usecases.DIFF_MOVED_LIMIT,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Share of customers keeping their community id, NMI, and what each community became."""
    with errors(), usecases.open_default(store) as st:
        diff = usecases.communities_diff(st, run_a, run_b, limit=limit)
    if as_json:
        dump(diff)
        return
    out.print(
        f"[bold]communities {diff['from_run']} -> {diff['to_run']}[/bold]: "
        f"{diff['customers_kept']:,} of {diff['customers_compared']:,} customers kept their "
        f"community id ({diff['kept_share']:.1%}), NMI {diff['nmi']:.3f}; "
        f"{diff['communities_from']:,} -> {diff['communities_to']:,} communities"
    )
    counts = ", ".join(f"{k} {v:,}" for k, v in diff["lineage_counts"].items())
    out.print(f"lineage ({diff['lineage_source']}): {counts}")
    changes = [e for e in diff["lineage"] if e["event"] != "continue"]
    if changes:
        rows = pd.DataFrame(
            {
                "event": [e["event"] for e in changes],
                "from": [" ".join(e["from_ids"]) for e in changes],
                "to": [" ".join(e["to_ids"]) for e in changes],
                "from sizes": [" ".join(map(str, e["from_sizes"])) for e in changes],
                "to sizes": [" ".join(map(str, e["to_sizes"])) for e in changes],
            }
        )
        out.print(df_table(rows.head(50), "splits, merges, births and deaths (first 50)"))
    if diff["moved"]:
        out.print(df_table(pd.DataFrame(diff["moved"]), "customers who moved"))
    out.print(f"{diff['moved_count']:,} customers changed community id")
