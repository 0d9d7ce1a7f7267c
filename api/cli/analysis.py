"""`guanxi analyze`: metrics, communities and tags computed from the store as a new run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api import usecases
from api.cli.errors import errors
from api.cli.options import JsonOpt, StoreOpt
from api.cli.render import dump, out, progress
from api.settings import get_settings


def analyze(
    store: StoreOpt = None,
    seed: Annotated[
        int | None,
        typer.Option(
            help="Seed for communities and sampling (default GUANXI_SEED, else 42).",
            show_default=False,
        ),
    ] = None,
    rules: Annotated[
        Path | None,
        typer.Option(
            help="Your tag file (TOML) overriding or adding rules (default GUANXI_RULES_PATH)."
        ),
    ] = None,
    engine: Annotated[
        str, typer.Option(help="Analysis engine computing the run (only 'local' today).")
    ] = "local",
    as_json: JsonOpt = False,
) -> None:
    """Compute metrics, communities and tags from the store as a new run."""
    settings = get_settings()
    seed = settings.seed if seed is None else seed
    rules_path = str(rules) if rules else settings.rules_path
    with errors(), usecases.open_default(store) as st, progress(not as_json) as bar:
        res = usecases.analyze(st, seed=seed, rules_path=rules_path, progress=bar, engine=engine)
    info = {
        "run_id": res.run.run_id,
        "created_at": res.run.created_at,
        "input_counts": res.run.input_counts,
        "stats": res.run.stats,
        "timings_s": res.timings,
    }
    if as_json:
        dump(info)
        return
    s = res.run.stats
    out.print(
        f"run [bold]{res.run.run_id}[/bold]: {s.get('n_vertices', 0):,} customers, "
        f"{s.get('n_edges', 0):,} weighted edges, {s.get('n_communities', '?')} communities, "
        f"modularity {s.get('modularity', float('nan')):.3f}"
    )
    out.print("timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in res.timings.items()))
