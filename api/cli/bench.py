"""`guanxi bench`: time each stage, or compare with Neo4j GDS; a table and a JSON file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from api.cli.analysis import ConfOpt, MasterOpt, parse_conf
from api.cli.errors import errors
from api.cli.options import JsonOpt
from api.cli.render import dump, err, out
from api.settings import get_settings


def bench(
    customers: Annotated[int, typer.Option(help="Customers to generate.")] = 100_000,
    workdir: Annotated[Path, typer.Option(help="Scratch folder.")] = Path("bench-results"),
    stages: Annotated[
        str, typer.Option(help="Comma list of stages: generate,load,reload,analyze,...")
    ] = "generate,load,reload,analyze",
    networkx: Annotated[
        bool, typer.Option("--networkx", help="Side by side with networkx on the same graph.")
    ] = False,
    json_out: Annotated[Path | None, typer.Option("--json-out", help="JSON file.")] = None,
    peer: Annotated[
        str | None,
        typer.Option(help="'gds': guanxi vs Neo4j Graph Data Science on the same graph."),
    ] = None,
    store: Annotated[
        str | None, typer.Option("--store", help="With --peer gds: a running Neo4j with GDS.")
    ] = None,
    engine: Annotated[
        str, typer.Option(help="'local' (the stages above) or 'spark' (the spark engine's).")
    ] = "local",
    master: MasterOpt = "local[*]",
    conf: ConfOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Time each stage (wall time, rows/s, peak RSS); print a table and write JSON."""
    if engine == "spark":
        _spark_bench(customers, workdir, master, conf or [], json_out, as_json)
        return
    if engine != "local":
        raise typer.BadParameter("--engine takes 'local' or 'spark'")
    if conf or master != "local[*]":
        raise typer.BadParameter("--master and --conf are for --engine spark")
    if peer is not None:
        if peer != "gds":
            raise typer.BadParameter("--peer takes 'gds'")
        from api.bench.gds import run_gds_bench

        with errors():
            result = run_gds_bench(
                customers=customers,
                store_uri=store,
                workdir=workdir,
                console=err,
                neo4j=get_settings().neo4j,
            )
        path = _write(result, json_out or workdir / f"bench-gds-{customers}.json")
        if as_json:
            dump(result)
        else:
            out.print(f"JSON: {path}")
        return
    from api.bench.runner import run_bench

    with errors():
        result = run_bench(
            customers=customers,
            workdir=workdir,
            stages=stages.split(","),
            networkx=networkx,
            console=err,
        )
    path = _write(result, json_out or workdir / f"bench-{customers}.json")
    if as_json:
        dump(result)
        return
    t = Table(title=f"guanxi bench, {customers:,} customers")
    for c in ("stage", "wall s", "rows", "rows/s", "peak RSS MB", "process tree MB"):
        t.add_column(c, justify="right" if c != "stage" else "left")
    for s in result["stages"]:
        t.add_row(
            s["stage"],
            f"{s['wall_s']:.2f}",
            f"{s.get('rows', 0):,}",
            f"{s.get('rows_per_s', 0):,.0f}",
            f"{s['peak_rss_mb']:,.0f}",
            f"{s['peak_tree_mb']:,.0f}",
        )
    out.print(t)
    out.print(f"JSON: {path}")


def _spark_bench(
    customers: int, workdir: Path, master: str, conf: list[str], json_out, as_json: bool
) -> None:
    """The spark engine's stages (`api.bench.spark_stages`): a table and a JSON file."""
    from api.bench.spark_stages import run_spark_bench

    pairs = parse_conf(conf)
    with errors():
        result = run_spark_bench(
            customers=customers, workdir=workdir, master=master, conf=pairs, console=err
        )
    safe = master.replace("[", "").replace("]", "").replace("*", "all").replace("/", "_")
    path = _write(result, json_out or workdir / f"bench-spark-{safe}-{customers}.json")
    if as_json:
        dump(result)
        return
    t = Table(title=f"guanxi bench --engine spark, {customers:,} customers, {master}")
    cols = ("stage", "s", "rows", "rows/s", "driver RSS MB", "JVM RSS MB", "JVM heap peak MB")
    for c in cols:
        t.add_column(c, justify="right" if c != "stage" else "left")
    for s in result["stages"]:
        t.add_row(
            s["stage"],
            f"{s['stage_s']:.2f}",
            f"{s['rows']:,}",
            f"{s['rows_per_s']:,.0f}",
            f"{s['peak_rss_mb']:,.0f}",
            "" if s.get("jvm_rss_mb") is None else f"{s['jvm_rss_mb']:,.0f}",
            "" if s.get("jvm_heap_peak_mb") is None else f"{s['jvm_heap_peak_mb']:,.0f}",
        )
    out.print(t)
    graph = next((s for s in result["stages"] if s["stage"] == "graph"), None)
    if graph and (graph.get("detail") or {}).get("timings_s"):
        out.print("graph stages: " + ", ".join(
            f"{k} {v:.1f}s" for k, v in graph["detail"]["timings_s"].items()
        ))  # fmt: skip
    out.print(f"JSON: {path}")


def _write(result: dict, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, default=str))
    return path
