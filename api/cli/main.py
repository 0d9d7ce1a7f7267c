"""The `guanxi` command line: parse arguments, call `api.usecases`, print.

Human output goes to stdout through rich; `--json` prints exactly one JSON document for
machines. Exit codes: 0 success, 1 a GuanxiError (one line on stderr), 2 usage errors.
"""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import click
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from api import usecases
from graph.errors import GuanxiError
from loaders.dialect import DELIMITERS, ENCODINGS

app = typer.Typer(
    name="guanxi",
    help="Customer social-relationship graph: load, analyse, tag, explain.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
    pretty_exceptions_enable=False,
)
metrics_app = typer.Typer(help="Per-customer metrics of a run.", no_args_is_help=True)
tags_app = typer.Typer(help="Tag catalog, coverage and history.", invoke_without_command=True)
neo4j_app = typer.Typer(
    help="Neo4j: a local server, Cypher statements, Browser kit.", no_args_is_help=True
)
neo4j_local_app = typer.Typer(
    help="A real local Neo4j 5.26 built from Maven Central.", no_args_is_help=True
)
app.add_typer(metrics_app, name="metrics")
app.add_typer(tags_app, name="tags")
app.add_typer(neo4j_app, name="neo4j")
neo4j_app.add_typer(neo4j_local_app, name="local")
DirOpt = Annotated[Path, typer.Option("--dir", help="Server folder (data kept across restarts).")]

out = Console()
err = Console(stderr=True)

StoreOpt = Annotated[
    str | None,
    typer.Option(
        "--store",
        help="Store URI (duckdb:///file.duckdb or bolt://host:7687); "
        "default from GUANXI_STORE or ./guanxi.duckdb",
        envvar="GUANXI_STORE",
    ),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document.")]


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        out.print(f"guanxi {version('guanxi')}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show version.")
    ] = False,
    verbose: Annotated[bool, typer.Option("-v", "--verbose", help="Log to stderr.")] = False,
) -> None:
    if verbose:
        import logging

        logging.basicConfig(level=logging.INFO, stream=sys.stderr)


@contextmanager
def _errors():
    """Translate errors into one line on stderr: exit 1 for a GuanxiError, 2 for a bug.

    A GuanxiError is the user's to fix (a bad file, an unknown id) and its message says how.
    Anything else is ours: the user sees one line naming the command, the files it was given
    and where the traceback went, never the traceback itself, which goes to a log file to
    attach to a bug report.
    """
    try:
        yield
    except GuanxiError as exc:
        err.print(f"[red]error:[/red] {exc}", highlight=False, soft_wrap=True)
        raise typer.Exit(1) from None
    except (click.exceptions.Exit, click.Abort, click.ClickException):
        raise  # typer's own ways out: exit codes and usage errors
    except Exception as exc:
        command, arguments = _failing_command(exc)
        _report_crash(command, _files_named(arguments, exc), exc)
        raise typer.Exit(2) from None


def _report_crash(command: str, where: str, exc: BaseException) -> None:
    log = _write_crash_log(command, exc)
    err.print(
        f"[red]internal error[/red] in `{command}`"
        + (f" on {where}" if where else "")
        + f": {type(exc).__name__}: {_one_line(exc)}; traceback written to {log}",
        highlight=False,
        soft_wrap=True,
    )


def _one_line(exc: BaseException, width: int = 300) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= width else text[: width - 1] + "…"


def _failing_command(exc: BaseException) -> tuple[str, dict]:
    """The command whose body raised `exc` (as typed, e.g. ``guanxi tags diff``) and its
    arguments, read from the command function's frame in the traceback."""
    paths = _command_paths()
    tb = exc.__traceback__
    while tb is not None:
        code = tb.tb_frame.f_code
        if tb.tb_frame.f_globals is globals() and code in paths:
            return paths[code], dict(tb.tb_frame.f_locals)
        tb = tb.tb_next
    return "guanxi", {}


def _command_paths() -> dict:
    """Code object of every command and group callback -> the words that invoke it."""
    out = {}

    def walk(typer_app: typer.Typer, words: list[str]) -> None:
        if typer_app.registered_callback is not None:
            out[typer_app.registered_callback.callback.__code__] = " ".join(words)
        for cmd in typer_app.registered_commands:
            name = cmd.name or cmd.callback.__name__.replace("_", "-")
            out[cmd.callback.__code__] = " ".join([*words, name])
        for group in typer_app.registered_groups:
            walk(group.typer_instance, [*words, group.name])

    walk(app, ["guanxi"])
    return out


def _files_named(arguments: dict, exc: BaseException) -> str:
    """The files the failing command was working on: its path arguments and store, plus any
    file an inner layer attached to the exception as a note ("file: ...")."""
    names = [
        str(value)
        for name, value in arguments.items()
        if isinstance(value, Path) or (name == "store" and isinstance(value, str))
    ]
    for note in getattr(exc, "__notes__", ()):
        if note.startswith("file: "):
            names.append(note[len("file: ") :])
    return ", ".join(dict.fromkeys(names))


def _write_crash_log(command: str, exc: BaseException) -> Path:
    """Write the traceback to a fresh log file and return its path.

    Under the user's state folder (``$XDG_STATE_HOME/guanxi/logs``, else
    ``~/.local/state/guanxi/logs``), or the temporary folder when that is not writable.
    """
    import os
    import tempfile
    import traceback
    from datetime import datetime

    stamp = datetime.now().strftime("%Y%m%d-%H%M%S-%f")
    text = f"{command}\n" + "".join(traceback.format_exception(exc))
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    for folder in (Path(state) / "guanxi" / "logs", Path(tempfile.gettempdir()) / "guanxi-logs"):
        try:
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"crash-{stamp}-{os.getpid()}.log"
            path.write_text(text, encoding="utf-8")
            return path
        except OSError:
            continue
    return Path("(no writable log folder)")


@contextmanager
def _progress(enabled: bool):
    """A rich progress display whose callback takes (stage, fraction)."""
    if not enabled:
        yield lambda stage, frac: None
        return
    prog = Progress(
        SpinnerColumn(),
        TextColumn("{task.description:<22}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=err,
        transient=False,
    )
    tasks: dict[str, int] = {}

    def update(stage: str, frac: float) -> None:
        if stage not in tasks:
            tasks[stage] = prog.add_task(stage, total=1.0)
        prog.update(tasks[stage], completed=float(frac))

    with prog:
        yield update


def _dump(obj) -> None:
    sys.stdout.write(json.dumps(obj, ensure_ascii=False, default=str) + "\n")


def _df_table(df, title: str | None = None, columns: list[str] | None = None) -> Table:
    t = Table(title=title, show_lines=False)
    cols = columns or list(df.columns)
    for c in cols:
        t.add_column(c)
    for row in df[cols].itertuples(index=False):
        t.add_row(*[_fmt(v) for v in row])
    return t


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "" if v is None else str(v)


# --- data -----------------------------------------------------------------------------------
@app.command()
def generate(
    customers: Annotated[int, typer.Option(help="Number of customers.")] = 5000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same files.")] = 7,
    out_dir: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("guanxi-data"),
    fmt: Annotated[str, typer.Option("--format", help="csv or parquet.")] = "csv",
    as_json: JsonOpt = False,
) -> None:
    """Write realistic sample bank data (four tables + ground_truth) to a folder."""
    if fmt not in ("csv", "parquet"):
        raise typer.BadParameter("--format must be csv or parquet")
    with _errors():
        info = usecases.generate_dataset(customers, seed=seed, out=out_dir, fmt=fmt)
    if as_json:
        _dump(info)
        return
    out.print(f"wrote {out_dir}/ in {info['generate_s'] + info['write_s']:.1f}s:")
    for name, n in info["rows"].items():
        out.print(f"  {name:<13} {n:>12,} rows")


def _one_of(choices: tuple[str, ...] | list[str]):
    """A typer parser accepting only `choices` (anything else is a usage error, exit 2)."""

    def parse(value: str) -> str:
        if value not in choices:
            raise typer.BadParameter(f"{value!r} is not one of {', '.join(choices)}")
        return value

    return parse


@app.command()
def load(
    folder: Annotated[
        Path,
        typer.Argument(
            help="Folder with customers, relations, transactions, events (.csv or .parquet)."
        ),
    ],
    store: StoreOpt = None,
    quarantine_dir: Annotated[
        Path | None, typer.Option(help="Where rejected rows go (default FOLDER/quarantine).")
    ] = None,
    encoding: Annotated[
        str | None,
        typer.Option(
            parser=_one_of(ENCODINGS),
            metavar="|".join(ENCODINGS),
            help="Encoding of the CSV files (default auto: detected per file). A table's "
            "section in FOLDER/guanxi-load.toml wins over this.",
            show_default=False,
        ),
    ] = None,
    delimiter: Annotated[
        str | None,
        typer.Option(
            parser=_one_of(list(DELIMITERS)),
            metavar="|".join(repr(d) if d != "tab" else d for d in DELIMITERS),
            help="Field delimiter of the CSV files (default ','). A table's section in "
            "FOLDER/guanxi-load.toml wins over this.",
            show_default=False,
        ),
    ] = None,
    pii_columns: Annotated[
        str | None,
        typer.Option(
            help="Comma-separated customer columns to declare PII in the store (masked like "
            "name/phone/id_number from now on, and in quarantine files).",
        ),
    ] = None,
    quarantine_raw: Annotated[
        bool,
        typer.Option(
            help="For data owners: write quarantine files with PII unmasked (by default "
            "PII values and raw customer lines are masked).",
        ),
    ] = False,
    strict: Annotated[bool, typer.Option(help="Exit 1 if any row is quarantined.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Validate and upsert a folder of contract tables; bad rows are quarantined with reasons."""
    pii = [c.strip() for c in pii_columns.split(",")] if pii_columns else []
    with _errors(), usecases.open_default(store) as st, _progress(not as_json) as bar:
        report = usecases.load(
            st,
            folder,
            quarantine_dir=quarantine_dir,
            progress=lambda stage, detail: bar(f"load: {stage}", 0.5),
            encoding=encoding,
            delimiter=delimiter,
            pii_columns=pii,
            quarantine_raw=quarantine_raw,
        )
    if as_json:
        _dump({"store": st.uri, **report.as_dict()})
    else:
        t = Table(title=f"loaded {folder} into {st.uri}")
        for c in ("table", "read", "loaded", "quarantined", "inserted", "updated"):
            t.add_column(c, justify="right" if c != "table" else "left")
        for name, c in report.tables.items():
            t.add_row(
                name, *[f"{x:,}" for x in (c.read, c.loaded, c.quarantined, c.inserted, c.updated)]
            )
        out.print(t)
        for name, dialect in report.dialects.items():
            out.print(f"read {name} as {dialect.describe()}", highlight=False)
        for name, path in report.quarantine_files.items():
            reasons = ", ".join(f"{k} {v}" for k, v in report.reasons.get(name, {}).items())
            raw = " [red](PII unmasked)[/red]" if report.quarantine_raw else ""
            out.print(f"[yellow]quarantined[/yellow] {name}: {reasons} -> {path}{raw}")
    if strict and report.quarantined:
        raise typer.Exit(1)


# --- analysis -------------------------------------------------------------------------------
@app.command()
def analyze(
    store: StoreOpt = None,
    seed: Annotated[int, typer.Option(help="Seed for communities and sampling.")] = 42,
    rules: Annotated[
        Path | None, typer.Option(help="Your tag file (TOML) overriding or adding rules.")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Compute metrics, communities and tags from the store as a new run."""
    with _errors(), usecases.open_default(store) as st, _progress(not as_json) as bar:
        res = usecases.analyze(
            st, seed=seed, rules_path=str(rules) if rules else None, progress=bar
        )
    info = {
        "run_id": res.run.run_id,
        "created_at": res.run.created_at,
        "input_counts": res.run.input_counts,
        "stats": res.run.stats,
        "timings_s": res.timings,
    }
    if as_json:
        _dump(info)
        return
    s = res.run.stats
    out.print(
        f"run [bold]{res.run.run_id}[/bold]: {s.get('n_vertices', 0):,} customers, "
        f"{s.get('n_edges', 0):,} weighted edges, {s.get('n_communities', '?')} communities, "
        f"modularity {s.get('modularity', float('nan')):.3f}"
    )
    out.print("timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in res.timings.items()))


@app.command()
def influencers(
    top: Annotated[int, typer.Option(help="How many.")] = 20,
    community: Annotated[str | None, typer.Option(help="Only this community.")] = None,
    tag: Annotated[str | None, typer.Option(help="Only customers holding this tag.")] = None,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Customers ranked by influence score (latest run)."""
    with _errors(), usecases.open_default(store) as st:
        run, df = usecases.influencers(st, limit=top, community_id=community, tag_id=tag)
    if as_json:
        _dump(df.to_dict(orient="records"))
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
    out.print(_df_table(df, f"top {top} influencers, run {run.run_id}", cols))


@metrics_app.command("export")
def metrics_export(
    out_file: Annotated[Path, typer.Option("--out", help="FILE.csv or FILE.parquet")],
    store: StoreOpt = None,
    run: Annotated[str | None, typer.Option(help="Run id (default latest).")] = None,
) -> None:
    """Write every metric of a run, one row per customer."""
    with _errors(), usecases.open_default(store) as st:
        n = usecases.export_metrics(st, out_file, run_id=run)
    out.print(f"wrote {n:,} rows to {out_file}")


@tags_app.callback()
def tags(
    ctx: typer.Context,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The tag catalog with how many customers hold each tag (latest run)."""
    if ctx.invoked_subcommand is not None:
        return
    with _errors(), usecases.open_default(store) as st:
        df = usecases.tag_coverage(st)
    if as_json:
        _dump(df.rename(columns={}).to_dict(orient="records"))
        return
    out.print(_df_table(df, "tag coverage", ["category", "tag_id", "name_zh", "count"]))


@tags_app.command("diff")
def tags_diff(
    run_a: Annotated[str, typer.Argument(help="Earlier run id.")],
    run_b: Annotated[str, typer.Argument(help="Later run id.")],
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Tags gained and lost per customer between two runs, and totals per tag."""
    with _errors(), usecases.open_default(store) as st:
        changes, totals = usecases.tags_diff(st, run_a, run_b)
    if as_json:
        _dump(
            {
                "from": run_a,
                "to": run_b,
                "changes": changes.to_dict(orient="records"),
                "totals": totals.to_dict(orient="records"),
            }
        )
        return
    out.print(_df_table(totals, f"tag changes {run_a} -> {run_b}"))
    out.print(f"{len(changes):,} customer-tag changes")


@app.command()
def customer(
    customer_id: Annotated[str, typer.Argument(help="Customer id.")],
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One customer's attributes (PII masked), metrics and tags with reasons."""
    with _errors(), usecases.open_default(store) as st:
        prof = usecases.customer_profile(st, customer_id)
    if as_json:
        _dump(prof)
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
    out.print("  metrics: " + ", ".join(f"{k}={_fmt(m[k])}" for k in keys if k in m))
    for t in prof.get("tags", []):
        out.print(f"  [green]{t['tag_id']}[/green] ({t['score']:.2f}): {t['reason']}")


@app.command()
def segment(
    expr: Annotated[str, typer.Argument(help="e.g. 'opinion_leader AND NOT churn_risk'")],
    limit: Annotated[int, typer.Option(help="Members to list.")] = 20,
    store: StoreOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Customers matching a boolean expression over tag ids (latest run)."""
    with _errors(), usecases.open_default(store) as st:
        run, members = usecases.segment(st, expr)
    if as_json:
        _dump(
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


@app.command("plan-referral")
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
    from api.usecases.campaigns import CampaignParams, plan_referral, plan_to_csv

    with _errors(), usecases.open_default(store) as st, _progress(not as_json) as bar:
        params = CampaignParams(
            k=seeds, target=target, max_per_community=max_per_community, seed=seed
        )
        plan = plan_referral(st, params, run_id=run, progress=bar)
    if csv_out:
        csv_out.write_text(plan_to_csv(plan), encoding="utf-8")
    if as_json:
        _dump(plan)
        return
    lo, hi = plan["reach_ci"]
    out.print(
        f"expected reach {plan['expected_reach']:,.0f} customers (95% CI {lo:,.0f}-{hi:,.0f}); "
        "baselines on the same simulations: "
        + ", ".join(f"{k} {v:,.0f}" for k, v in plan["baselines"].items())
    )
    for s in plan["seeds"]:
        out.print(f"  {s['rank']:>3} {s['customer_id']}  {s['reason']}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8000,
    store: StoreOpt = None,
) -> None:
    """Serve the HTTP API (FastAPI on uvicorn, one worker); keys from GUANXI_API_KEYS."""
    from api.http.app import serve as run_server

    with _errors():
        run_server(host, port, store)


# --- neo4j --------------------------------------------------------------------------------
@neo4j_local_app.command("start")
def neo4j_local_start(
    dir: DirOpt = Path(".neo4j"),
    bolt_port: Annotated[int, typer.Option(help="Bolt port on 127.0.0.1.")] = 7687,
    http_port: Annotated[int, typer.Option(help="HTTP port (Browser at /browser/).")] = 7474,
    gds: Annotated[bool, typer.Option("--gds", help="Add Graph Data Science 2.13.")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Start a local Neo4j server in the background and wait until Bolt accepts a login."""
    from graph.store import neo4j_local

    with _errors():
        neo4j_local.check_prerequisites()
        if not as_json:
            err.print("starting Neo4j (first use builds the server from Maven Central)...")
        info = neo4j_local.start(dir, bolt_port=bolt_port, http_port=http_port, gds=gds)
    if as_json:
        _dump(info)
        return
    out.print(f"Neo4j running (pid {info['pid']}): {info['bolt_uri']}")
    out.print(f"Browser: {info['http_uri']}/browser/   user neo4j, password in {dir}/password")
    out.print(f"  export NEO4J_USER=neo4j NEO4J_PASSWORD=$(cat {dir}/password)")
    out.print(f"  guanxi load DIR --store {info['bolt_uri']}")


@neo4j_local_app.command("stop")
def neo4j_local_stop(dir: DirOpt = Path(".neo4j")) -> None:
    """Stop the local server cleanly."""
    from graph.store import neo4j_local

    with _errors():
        was = neo4j_local.stop(dir)
    out.print("stopped" if was else "not running")


@neo4j_local_app.command("status")
def neo4j_local_status(dir: DirOpt = Path(".neo4j"), as_json: JsonOpt = False) -> None:
    """Whether the local server runs, and where."""
    from graph.store import neo4j_local

    with _errors():
        info = neo4j_local.status(dir)
    info = {k: v for k, v in info.items() if k != "password"}
    if as_json:
        _dump(info)
    else:
        out.print(info)


@neo4j_app.command("statements")
def neo4j_statements(as_json: JsonOpt = False) -> None:
    """Every Cypher statement guanxi can send, taken from the store code itself."""
    from graph.store.neo4j_store import all_statements

    stmts = all_statements()
    if as_json:
        _dump(stmts)
        return
    for st in stmts:
        out.print(f"[bold]{st['name']}[/bold]  params: {', '.join(st['parameters'])}")
        out.print(st["cypher"], highlight=False)


@neo4j_app.command("browser-kit")
def neo4j_browser_kit(
    out_dir: Annotated[Path, typer.Option("--out", help="Folder to write into.")] = Path(
        "guanxi-browser-kit"
    ),
) -> None:
    """Write the Neo4j Browser stylesheet (.grass) and saved queries (.cypher)."""
    from graph.store.browser_kit import write_browser_kit

    for p in write_browser_kit(out_dir):
        out.print(f"wrote {p}")
    out.print(
        "In Neo4j Browser: drag guanxi.grass onto the window (or :style), and add each "
        ".cypher file to Favorites; set its parameters with :param first."
    )


# --- demo and bench -------------------------------------------------------------------------
@app.command()
def demo(
    customers: Annotated[int, typer.Option(help="Customers to generate.")] = 5000,
    workdir: Annotated[Path, typer.Option(help="Where data and store go.")] = Path("guanxi-demo"),
    seed: Annotated[int, typer.Option(help="Seed for data and analysis.")] = 7,
) -> None:
    """Generate sample data, load it into a fresh embedded store, analyse and show results."""
    from api.cli.demo import run_demo

    with _errors():
        run_demo(out, err, customers=customers, workdir=workdir, seed=seed, progress=_progress)


@app.command()
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
    as_json: JsonOpt = False,
) -> None:
    """Time each stage (wall time, rows/s, peak RSS); print a table and write JSON."""
    from api.bench.runner import run_bench

    if peer is not None:
        if peer != "gds":
            raise typer.BadParameter("--peer takes 'gds'")
        from api.bench.vs_gds import run_gds_bench

        with _errors():
            result = run_gds_bench(
                customers=customers, store_uri=store, workdir=workdir, console=err
            )
        path = json_out or workdir / f"bench-gds-{customers}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(result, indent=2, default=str))
        if as_json:
            _dump(result)
        else:
            out.print(f"JSON: {path}")
        return
    with _errors():
        result = run_bench(
            customers=customers,
            workdir=workdir,
            stages=stages.split(","),
            networkx=networkx,
            console=err,
        )
    path = json_out or workdir / f"bench-{customers}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=2, default=str))
    if as_json:
        _dump(result)
        return
    t = Table(title=f"guanxi bench, {customers:,} customers")
    for c in ("stage", "wall s", "rows", "rows/s", "peak RSS MB"):
        t.add_column(c, justify="right" if c != "stage" else "left")
    for s in result["stages"]:
        t.add_row(
            s["stage"],
            f"{s['wall_s']:.2f}",
            f"{s.get('rows', 0):,}",
            f"{s.get('rows_per_s', 0):,.0f}",
            f"{s['peak_rss_mb']:,.0f}",
        )
    out.print(t)
    out.print(f"JSON: {path}")


def main() -> None:
    """Entry point: the commands, with a last net for a bug outside any command's `_errors`."""
    try:
        app()
    except Exception as exc:
        words = [a for a in sys.argv[1:] if not a.startswith("-")][:2]
        _report_crash(" ".join(["guanxi", *words]), "", exc)
        sys.exit(2)


if __name__ == "__main__":
    main()
