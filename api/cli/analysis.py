"""`guanxi analyze`: metrics, communities and tags computed as a new run (local or Spark)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api import usecases
from api.cli.errors import errors
from api.cli.options import JsonOpt, StoreOpt
from api.cli.render import dump, out, progress
from api.settings import get_settings

#: The spark engine's master and settings, shared by analyze and bench.
MasterOpt = Annotated[
    str, typer.Option(help="spark: master URL (local[N], yarn, spark://..., k8s://...).")
]
ConfOpt = Annotated[
    list[str] | None, typer.Option("--conf", help="spark: a Spark setting k=v (repeatable).")
]


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
        str,
        typer.Option(help="Analysis engine: 'local' (reads the store) or 'spark' (reads --input)."),
    ] = "local",
    input: Annotated[
        str | None,
        typer.Option(
            "--input",
            help="spark: folder or URI (file:, hdfs:, s3a:) of the four tables as Parquet or "
            "CSV, or hive:DB.",
        ),
    ] = None,
    master: MasterOpt = "local[*]",
    conf: ConfOpt = None,
    out_dir: Annotated[
        str | None,
        typer.Option("--out", help="spark: folder or URI for the run's Parquet output."),
    ] = None,
    threads: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="local: processes for the metric families (default GUANXI_THREADS, else all "
            "cores; 1 is sequential; the numbers are the same for every value).",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Compute metrics, communities and tags as a new run (spark: from --input, into the store)."""
    settings = get_settings()
    seed = settings.seed if seed is None else seed
    rules_path = str(rules) if rules else settings.rules_path
    threads = settings.threads if threads is None else threads
    options = None
    if engine == "spark":
        if threads is not None:
            raise typer.BadParameter("--threads is for --engine local; spark: --master local[N]")
        options = _spark_options(input, master, conf or [], out_dir, settings)
    elif input or conf or out_dir:
        raise typer.BadParameter("--input, --conf and --out are for --engine spark")
    elif threads is not None:
        options = {"workers": threads}
    with errors(), usecases.open_default(store) as st, progress(not as_json) as bar:
        res = usecases.analyze(
            st,
            seed=seed,
            rules_path=rules_path,
            progress=bar,
            engine=engine,
            engine_options=options,
        )
    info = {
        "run_id": res.run.run_id,
        "created_at": res.run.created_at,
        "input_counts": res.run.input_counts,
        "stats": res.run.stats,
        "timings_s": res.timings,
        "peak_rss_mb": res.peak_rss_mb,
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


def parse_conf(items: list[str]) -> dict[str, str]:
    """``--conf k=v`` values as a dict (Spark settings passed through)."""
    pairs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"--conf {item!r} must look like key=value")
        pairs[key.strip()] = value
    return pairs


def _spark_options(
    source: str | None, master: str, conf: list[str], out_dir: str | None, settings
) -> dict:
    """The spark engine's options from the command line and the settings."""
    pairs = parse_conf(conf)
    if not source:
        raise typer.BadParameter("--engine spark needs --input SRC")
    return {
        "source": source,
        "master": master,
        "conf": pairs,
        "out_dir": out_dir,
        "driver_budget_mb": settings.spark_driver_budget_mb,
        "cache_dir": settings.spark_cache_dir,
        "graphx_jar": settings.spark_graphx_jar,
    }
