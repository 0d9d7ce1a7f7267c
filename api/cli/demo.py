"""`guanxi demo`: the whole product on built-in sample data, in one command."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from api import usecases
from api.cli.errors import errors
from api.cli.render import err, out, progress


def demo(
    customers: Annotated[int, typer.Option(help="Customers to generate.")] = 5000,
    workdir: Annotated[Path, typer.Option(help="Where data and store go.")] = Path("guanxi-demo"),
    seed: Annotated[int, typer.Option(help="Seed for data and analysis.")] = 7,
) -> None:
    """Generate sample data, load it into a fresh embedded store, analyse and show results."""
    with errors():
        run_demo(out, err, customers=customers, workdir=workdir, seed=seed, progress=progress)


def run_demo(
    out: Console, err: Console, *, customers: int, workdir: Path, seed: int, progress
) -> None:
    """Generate → load into a fresh DuckDB file → analyse and tag → print a summary."""
    data = workdir / "data"
    store_path = (workdir / "guanxi.duckdb").resolve()  # the URI's path must be absolute
    workdir.mkdir(parents=True, exist_ok=True)
    for p in (store_path, store_path.with_suffix(".duckdb.wal")):
        p.unlink(missing_ok=True)
    shutil.rmtree(data, ignore_errors=True)
    uri = f"duckdb:///{store_path}"

    with progress(True) as bar:
        bar("generate sample data", 0.0)
        info = usecases.generate_dataset(customers, seed=seed, out=data)
        bar("generate sample data", 1.0)
        with usecases.open_configured_store(uri) as st:
            bar("load", 0.0)
            report = usecases.load(st, data)
            bar("load", 1.0)
            res = usecases.analyze(st, seed=seed, progress=bar)
            _, top = usecases.influencers(st, limit=10)
            comms = st.read_communities(res.run.run_id).head(8)
            cov = usecases.tag_coverage(st)
            example = top.iloc[0]["customer_id"]
            profile = usecases.customer_profile(st, example)

    out.rule("[bold]guanxi demo[/bold]")
    out.print(f"data: {data}/ ({', '.join(f'{k} {v:,}' for k, v in info['rows'].items())})")
    t = Table(title=f"load into {uri}")
    for c in ("table", "read", "loaded", "quarantined"):
        t.add_column(c)
    for name, c in report.tables.items():
        t.add_row(name, f"{c.read:,}", f"{c.loaded:,}", f"{c.quarantined:,}")
    out.print(t)
    s = res.run.stats
    out.print(
        f"run {res.run.run_id}: {s.get('n_vertices', 0):,} customers, "
        f"{s.get('n_edges', 0):,} weighted edges, modularity {s.get('modularity', 0):.3f}; "
        + ", ".join(f"{k} {v:.1f}s" for k, v in res.timings.items())
    )
    t = Table(title="top 10 influencers")
    for c in (
        "customer_id",
        "score",
        "community_id",
        "pagerank",
        "in_degree",
        "referral_downstream",
    ):
        t.add_column(c)
    for r in top.itertuples():
        t.add_row(
            r.customer_id,
            f"{r.score:.1f}",
            r.community_id,
            f"{r.pagerank:.5f}",
            str(r.in_degree),
            str(r.referral_downstream),
        )
    out.print(t)
    t = Table(title="largest communities")
    for c in ("community_id", "size", "density", "internal_weight", "external_weight", "leader"):
        t.add_column(c)
    for r in comms.itertuples():
        t.add_row(
            r.community_id,
            f"{r.size:,}",
            f"{r.density:.4f}",
            f"{r.internal_weight:.1f}",
            f"{r.external_weight:.1f}",
            r.leader_id,
        )
    out.print(t)
    t = Table(title="tag coverage (customers holding each tag)")
    for c in ("category", "tag_id", "name_zh", "count"):
        t.add_column(c)
    community = cov["tag_id"].str.startswith("community:")
    for r in cov[~community].itertuples():
        t.add_row(r.category, r.tag_id, r.name_zh, f"{r.count:,}")
    out.print(t)
    out.print(f"(and {int(community.sum())} community:* membership tags, one per community)")
    out.rule(f"why {example}? (PII masked)")
    attrs = {k: v for k, v in profile["attributes"].items() if v is not None}
    out.print(", ".join(f"{k}={v}" for k, v in attrs.items()))
    for tag in profile["tags"]:
        out.print(f"  [green]{tag['tag_id']}[/green] ({tag['score']:.2f}): {tag['reason']}")
    out.print(f"\nnext: guanxi influencers --store {uri}   guanxi customer {example} --store {uri}")
