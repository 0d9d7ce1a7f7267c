"""`guanxi neo4j import` as a user types it: the --json interface, the printed command, errors.

The interface other checks rely on (issue 19): ``guanxi neo4j import DIR --dir D --json`` on a
server started with ``guanxi neo4j local start --dir D`` prints one JSON object with at least
``customers``, ``relations``, ``seconds`` and the per-table ``read``/``loaded``/``quarantined``
counts of ``guanxi load --json``; afterwards the server at D is running and holds the data.
The server is the import tests' own (`tests.neo4j_import_server`), never ``NEO4J_URI``'s.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from graph.model import TABLES
from graph.store import neo4j_local
from graph.store.neo4j import Neo4jStore
from tests import neo4j_import_server
from tests.neo4j_import_server import BAD_REASONS, write_import_data

pytestmark = [pytest.mark.neo4j, pytest.mark.slow]
import_server = neo4j_import_server.import_server  # the fixture, shared with the store tests

runner = CliRunner()
ENV = {"GUANXI_NEO4J_HEAP": "1g", "GUANXI_NEO4J_PAGECACHE": "256m"}


def _invoke(*args: str, env: dict | None = None):
    return runner.invoke(app, list(args), env=env, catch_exceptions=False)


@pytest.fixture(scope="module")
def small_dir(tmp_path_factory) -> Path:
    return write_import_data(tmp_path_factory.mktemp("cli-import"), customers=400, seed=5)


def test_json_interface_and_the_server_holds_the_data(import_server, small_dir, tmp_path) -> None:
    home = import_server["dir"]
    duck = f"duckdb:///{tmp_path / 'r.duckdb'}"
    ref = _invoke(
        "load",
        str(small_dir),
        "--store",
        duck,
        "--json",
        "--quarantine-dir",
        str(tmp_path / "q-load"),
    )
    assert ref.exit_code == 0, ref.output
    q = str(tmp_path / "q-import")
    # no heap set: the restarted server keeps the one it was started with, not the default
    started_heap = neo4j_local.status(Path(home))["heap"]
    assert started_heap != neo4j_local.DEFAULT_HEAP
    env = {**ENV, "GUANXI_NEO4J_HEAP": None}
    res = _invoke(
        "neo4j", "import", str(small_dir), "--dir", home, "--json", "--quarantine-dir", q, env=env
    )
    assert res.exit_code == 0, res.output
    assert neo4j_local.status(Path(home))["heap"] == started_heap
    got = json.loads(res.stdout)
    assert {"customers", "relations", "seconds", "tables", "reasons"} <= set(got)
    load = json.loads(ref.stdout)
    for name in TABLES:
        for key in ("read", "loaded", "quarantined"):
            assert got["tables"][name][key] == load["tables"][name][key], (name, key)
    assert got["reasons"] == BAD_REASONS
    assert got["seconds"] > 0 and got["command"] is None
    assert neo4j_local.status(Path(home))["running"]
    store = Neo4jStore(import_server["bolt_uri"], user="neo4j", password=import_server["password"])
    with store:
        counts = store.counts()
    assert counts["customers"] == got["customers"] == load["tables"]["customers"]["inserted"]
    assert counts["relations"] == got["relations"] == load["tables"]["relations"]["inserted"]


def test_own_server_gets_the_files_and_the_command(import_server, small_dir, tmp_path) -> None:
    out = tmp_path / "files"
    uri, q = import_server["bolt_uri"], str(tmp_path / "q")
    env = {**ENV, "NEO4J_PASSWORD": import_server["password"]}
    res = _invoke(
        "neo4j",
        "import",
        str(small_dir),
        "--store",
        uri,
        "--out",
        str(out),
        "--quarantine-dir",
        q,
        env=env,
    )
    assert res.exit_code == 0, res.output
    text = " ".join(res.stdout.split())
    assert "neo4j-admin database import full --overwrite-destination=true" in text
    assert f"--nodes=Customer={out / 'customers.csv'}" in text
    assert "with Neo4j stopped" in text
    header = (out / "customers.csv").read_text(encoding="utf-8").splitlines()[0]
    assert header.startswith("customer_id:ID(Customer),")
    assert "registered_at:localdatetime" in header and "birth_date:date" in header


def test_errors_are_one_line_naming_the_fix(tmp_path, small_dir) -> None:
    res = runner.invoke(app, ["neo4j", "import", str(small_dir), "--dir", str(tmp_path / "x")])
    assert res.exit_code == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "no local Neo4j server found at" in lines[0]
    assert "guanxi neo4j local start --dir" in lines[0]
    res = runner.invoke(app, ["neo4j", "import", str(small_dir)])
    assert res.exit_code == 1 and "--dir D" in res.stderr


def test_with_results_from_a_store_without_a_run_names_the_fix(tmp_path) -> None:
    from graph.store import open_store

    uri = f"duckdb:///{tmp_path / 'empty.duckdb'}"
    with open_store(uri):
        pass
    res = runner.invoke(
        app,
        [
            "neo4j",
            "import",
            "--from-store",
            uri,
            "--store",
            "bolt://127.0.0.1:1",
            "--out",
            str(tmp_path / "f"),
            "--with-results",
            "--json",  # no progress lines: stderr holds the error alone
        ],
    )
    assert res.exit_code == 1
    lines = res.stderr.strip().splitlines()
    assert len(lines) == 1 and "holds no complete run" in lines[0]
    assert f"guanxi analyze --store {uri}" in lines[0]


def test_own_server_with_results_gets_the_run_files(small_dir, tmp_path) -> None:
    """``--store --with-results``: the command imports the run's files; the note names the gap.

    The server is unreachable on purpose (nothing runs there: the files and the command are
    the whole answer); the layout itself is checked against a driver write-back in
    tests/graph/store/test_neo4j_import.py.
    """
    out = tmp_path / "files"
    res = _invoke(
        "neo4j",
        "import",
        str(small_dir),
        "--store",
        "bolt://127.0.0.1:1",
        "--out",
        str(out),
        "--quarantine-dir",
        str(tmp_path / "q"),
        "--with-results",
        "--json",
        env=ENV,
    )
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    run_id = report["run_id"]
    assert run_id and "analyze" in report["stage_seconds"]
    for label, name in (("Run", "runs"), ("Community", "communities"), ("Tag", "tags")):
        assert f"--nodes={label}={out / (name + '.csv')}" in report["command"]
    for typ, name in (("IN_COMMUNITY", "in_community"), ("HAS_TAG", "has_tag")):
        assert f"--relationships={typ}={out / (name + '.csv')}" in report["command"]
    assert report["relationships"]["IN_COMMUNITY"] == report["customers"]
    assert any("lineage is not in the files" in n for n in report["notes"])
    runs = (out / "runs.csv").read_text(encoding="utf-8").splitlines()
    assert runs[0].startswith("run_id:ID(Run),created_at,params,")
    assert "metric_columns:string[]" in runs[0] and "complete:boolean" in runs[0]
    assert runs[1].startswith(f'"{run_id}",')
    header = (out / "customers.csv").read_text(encoding="utf-8").splitlines()[0].split(",")
    assert {"influence:double", "community_id", "metrics_run_id", ":LABEL"} <= set(header)
    # the lean model: every tag as c.tags; facts and all assignments in the facts file
    assert "tags:string[]" in header
    assert (out / "facts.duckdb").is_file() and report["facts"]["transactions"] > 0
    assert any(f"move {out / 'facts.duckdb'}" in n for n in report["notes"])
    assert "--nodes=Transaction" not in report["command"]
