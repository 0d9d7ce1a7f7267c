"""The `guanxi` command tree: the Typer app, its root callback and the console script `main`.

Every command lives in the module of its noun (`data`, `analysis`, `results`, `campaigns`,
`serve`, `neo4j`, `bench`, `demo`) as a plain function; this module only names them, so the
whole tree a user can type is readable here in one screen. A command parses arguments, calls
`api.usecases`, prints. Exit codes: 0 success, 1 a GuanxiError (one line on stderr), 2 usage
errors and bugs (`api.cli.errors`).
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from api import usecases
from api.cli import analysis, bench, campaigns, data, demo, neo4j, results, serve
from api.cli.communities import communities_app
from api.cli.errors import errors, report_crash
from api.cli.render import out
from api.settings import get_settings

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
    help="Neo4j: a local server, bulk import, Cypher statements, Browser kit.", no_args_is_help=True
)
neo4j_local_app = typer.Typer(
    help="A real local Neo4j 5.26 built from Maven Central.", no_args_is_help=True
)


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
    """Read the settings afresh for this command and arm the failpoint they name, if any.

    The cache is cleared so that each invocation sees the environment it was started with,
    in a test's in-process runner too; the crash-safety tests' subprocesses name their
    failpoint in ``GUANXI_FAILPOINT``.
    """
    if verbose:
        import logging

        logging.basicConfig(level=logging.INFO, stream=sys.stderr)
    get_settings.cache_clear()
    with errors():
        usecases.arm_failpoint(get_settings().failpoint)


# the command tree, in the order `guanxi --help` lists it
app.command()(data.generate)
app.command()(data.load)
app.command()(analysis.analyze)
app.command()(results.influencers)
metrics_app.command("export")(results.metrics_export)
tags_app.callback()(results.tags)
tags_app.command("diff")(results.tags_diff)
tags_app.command("quality")(results.tags_quality)
app.command()(results.customer)
app.command()(results.segment)
app.command("plan-referral")(campaigns.plan_referral_cmd)
app.command("evaluate-seeds")(campaigns.evaluate_seeds_cmd)
app.command("learn-probabilities")(campaigns.learn_probabilities_cmd)
app.command()(serve.serve)
neo4j_local_app.command("start")(neo4j.neo4j_local_start)
neo4j_local_app.command("stop")(neo4j.neo4j_local_stop)
neo4j_local_app.command("status")(neo4j.neo4j_local_status)
neo4j_app.command("import")(neo4j.neo4j_import)
neo4j_app.command("statements")(neo4j.neo4j_statements)
neo4j_app.command("browser-kit")(neo4j.neo4j_browser_kit)
app.command()(demo.demo)
app.command()(bench.bench)
app.add_typer(metrics_app, name="metrics")
app.add_typer(tags_app, name="tags")
app.add_typer(communities_app, name="communities")
app.add_typer(neo4j_app, name="neo4j")
neo4j_app.add_typer(neo4j_local_app, name="local")


def main() -> None:
    """Entry point: the commands, with a last net for a bug outside any command's `errors`."""
    try:
        app()
    except Exception as exc:
        words = [a for a in sys.argv[1:] if not a.startswith("-")][:2]
        report_crash(" ".join(["guanxi", *words]), "", exc)
        sys.exit(2)
