"""The bulk path into Neo4j (`guanxi neo4j import`) gives exactly what a driver load gives.

Why: the importer writes Neo4j's store files directly, bypassing every Cypher statement the
store's reads were written against; only a comparison with the driver load of the same data
shows the layout (labels, relationship types, property names and types, natural keys, PII
declarations) is the one every reader expects. The references are independent: the driver
load into the session's other Neo4j (``NEO4J_URI``, CI's server), the DuckDB store, and
`guanxi load --json` on the same folder, whose quarantine must be the import's to the byte.

The import itself runs against the tests' own local server (`tests.neo4j_import_server`),
which it stops, imports into and starts, as a user's ``--dir`` would.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from api.cli import app
from api.settings import Neo4jSettings, Settings
from api.usecases.neo4j_import import import_into_neo4j
from graph.errors import ConfigError
from graph.model import SCHEMAS, TABLES
from graph.store import neo4j_local, open_store
from graph.store.neo4j import Neo4jStore
from graph.store.neo4j.facts import Facts, facts_path_for
from graph.store.neo4j.statements import registry
from graph.store.neo4j_local import config as local_config
from graph.store.neo4j_local import importer
from loaders.ingest import load_folder
from tests import neo4j_import_server
from tests.graph.store.conftest import open_neo4j
from tests.neo4j_import_server import BAD_REASONS, split_delta, write_import_data

pytestmark = [pytest.mark.neo4j, pytest.mark.slow]
import_server = neo4j_import_server.import_server  # the fixture, shared with the CLI tests

runner = CliRunner()
PII = ["risk_grade"]
SETTINGS = Settings(neo4j=Neo4jSettings(heap="1g", pagecache="256m"))


def _store(server: dict) -> Neo4jStore:
    return Neo4jStore(server["bolt_uri"], user=server["user"], password=server["password"])


def _sorted(table: pa.Table, name: str) -> pa.Table:
    cols = list(SCHEMAS[name].names)
    table = table.select(cols).cast(SCHEMAS[name])
    return table.sort_by([(c, "ascending") for c in cols])


def _graph_shape(store: Neo4jStore) -> dict:
    """Labels, relationship types, and each one's property names and value types, counted."""
    with store.bolt.session() as s:
        nodes = s.run(
            "MATCH (n) UNWIND labels(n) AS label UNWIND keys(n) AS k "
            "RETURN label, k, valueType(n[k]) AS t, count(*) AS n"
        ).values()
        rels = s.run(
            # '' counts every relationship, those without properties too
            "MATCH ()-[r]->() UNWIND keys(r) + [''] AS k "
            "RETURN type(r) AS type, k, "
            "CASE WHEN k = '' THEN '' ELSE valueType(r[k]) END AS t, count(*) AS n"
        ).values()
        labels = s.run("MATCH (n) RETURN labels(n) AS l, count(*) AS n").values()
    # ``_load`` marks the rows of a driver load (harmless once it committed); an import
    # writes none, which `test_no_staging_leftovers` checks
    return {
        "nodes": sorted(tuple(r) for r in nodes if r[1] != "_load"),
        "relationships": sorted(tuple(r) for r in rels if r[1] != "_load"),
        "labels": sorted((tuple(sorted(r[0])), r[1]) for r in labels),
    }


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory) -> Path:
    return write_import_data(tmp_path_factory.mktemp("import-data"))


@pytest.fixture(scope="module")
def imported(import_server, data_dir, tmp_path_factory):
    q = tmp_path_factory.mktemp("q-import")
    report = import_into_neo4j(
        data_dir,
        dir=Path(import_server["dir"]),
        quarantine_dir=q,
        pii_columns=PII,
        settings=SETTINGS,
    )
    return report, q


@pytest.fixture(scope="module")
def load_json(data_dir, tmp_path_factory) -> tuple[dict, Path, str]:
    """`guanxi load --json` of the same folder into an empty DuckDB store."""
    root = tmp_path_factory.mktemp("ref-load")
    uri = f"duckdb:///{root / 'ref.duckdb'}"
    args = ["load", str(data_dir), "--store", uri, "--json", "--quarantine-dir", str(root / "q")]
    res = runner.invoke(app, [*args, "--pii-columns", ",".join(PII)], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout), root / "q", uri


@pytest.fixture(scope="module")
def driver_store(neo4j_server, data_dir, tmp_path_factory):
    """The same folder loaded through the driver into the session's other Neo4j."""
    store = open_neo4j(neo4j_server)
    store.clear()
    load_folder(
        store, data_dir, quarantine_dir=tmp_path_factory.mktemp("q-driver"), pii_columns=PII
    )
    yield store
    store.close()


def test_counts_and_quarantine_are_those_of_guanxi_load(imported, load_json) -> None:
    report, q_import = imported
    ref, q_load, _ = load_json
    got = report.as_dict()
    assert got["tables"] == ref["tables"]
    assert got["reasons"] == ref["reasons"] == BAD_REASONS
    assert got["dialects"] == ref["dialects"]
    files = sorted(p.name for p in q_load.glob("*.csv"))
    assert files == sorted(p.name for p in q_import.glob("*.csv")) and len(files) == 4
    for name in files:
        assert (q_import / name).read_bytes() == (q_load / name).read_bytes(), name
    assert got["customers"] == ref["tables"]["customers"]["inserted"]
    assert got["relations"] == ref["tables"]["relations"]["inserted"]


def test_every_read_equals_a_driver_load_and_duckdb(
    imported,
    import_server,
    driver_store,
    load_json,
) -> None:
    _, _, duck_uri = load_json
    with _store(import_server) as bulk, open_store(duck_uri, read_only=True) as duck:
        assert bulk.counts() == driver_store.counts() == duck.counts()
        for name in TABLES:
            got = _sorted(bulk.read_table(name), name)
            assert got.equals(_sorted(driver_store.read_table(name), name)), name
            assert got.equals(_sorted(duck.read_table(name), name)), name
        lean = bulk.read_table("relations", ["src_id", "dst_id", "type", "occurred_at", "count"])
        ref = driver_store.read_table("relations", list(lean.column_names))
        assert lean.sort_by([(c, "ascending") for c in lean.column_names]).equals(
            ref.sort_by([(c, "ascending") for c in ref.column_names])
        )
        assert bulk.declared_pii_columns() == driver_store.declared_pii_columns() == tuple(PII)
        ids = sorted(duck.customer_ids().to_pylist())
        assert sorted(bulk.customer_ids().to_pylist()) == ids
        for cid in ids[:: max(1, len(ids) // 40)]:
            assert (
                bulk.get_customer(cid) == driver_store.get_customer(cid) == duck.get_customer(cid)
            )
        assert _graph_shape(bulk) == _graph_shape(driver_store)


def test_schema_recreated_and_no_staging_leftovers(imported, import_server) -> None:
    wanted = {
        m.group(1)
        for s in registry()
        if s.name.startswith("schema.")
        for m in [re.search(r"CREATE (?:CONSTRAINT|INDEX) (\w+)", s.cypher)]
        if m
    }
    with _store(import_server) as bulk, bulk.bolt.session() as s:
        names = {r[0] for r in s.run("SHOW INDEXES YIELD name, state WHERE state = 'ONLINE'")}
        assert wanted <= names, wanted - names
        leftovers = s.run(
            "MATCH (n) WHERE n._load IS NOT NULL OR n._staged IS NOT NULL OR n:Load RETURN count(n)"
        ).single()[0]
        rel_leftovers = s.run(
            "MATCH ()-[r]->() WHERE r._load IS NOT NULL RETURN count(r)"
        ).single()[0]
    assert (leftovers, rel_leftovers) == (0, 0)


def test_a_driver_reload_finds_every_imported_row(imported, import_server, data_dir, tmp_path):
    """Reloading the same folder through the driver inserts and updates nothing.

    Why: the driver's upserts match the imported rows by their natural keys, property types
    and temporal values (customers compared property by property, relations MERGEd on
    their pattern, transactions and events by ``key``); one mismatch would insert a duplicate
    or stage an update, so a delta after a bulk import depends on this.
    """
    with _store(import_server) as bulk:
        before = bulk.counts()
        report = load_folder(bulk, data_dir, quarantine_dir=tmp_path)
        assert {n: (t.inserted, t.updated) for n, t in report.tables.items()} == {
            n: (0, 0) for n in TABLES
        }
        assert bulk.counts() == before


def test_analyze_runs_on_the_imported_store(imported, import_server) -> None:
    env = {"NEO4J_USER": "neo4j", "NEO4J_PASSWORD": import_server["password"]}
    uri = import_server["bolt_uri"]
    res = runner.invoke(app, ["analyze", "--store", uri, "--json"], env=env)
    assert res.exit_code == 0, res.output
    with _store(import_server) as bulk:
        runs = bulk.list_runs()
        assert len(runs) == 1
        metrics = bulk.read_metrics(runs[0].run_id)
        assert len(metrics) == bulk.counts()["customers"]


def test_a_second_import_gives_the_same_data(
    imported,
    import_server,
    data_dir,
    driver_store,
    tmp_path,
) -> None:
    first, _ = imported
    again = import_into_neo4j(
        data_dir, dir=Path(import_server["dir"]), quarantine_dir=tmp_path, settings=SETTINGS
    )
    assert again.as_dict()["tables"] == first.as_dict()["tables"]
    assert (again.customers, again.relations) == (first.customers, first.relations)
    with _store(import_server) as bulk:
        assert bulk.counts() == driver_store.counts()
        assert bulk.list_runs() == []  # a full refresh: the analysis run went with the old data
        # the PII declaration survives a refresh that did not repeat --pii-columns
        assert bulk.declared_pii_columns() == tuple(PII)
        for name in ("customers", "events"):
            got = _sorted(bulk.read_table(name), name)
            assert got.equals(_sorted(driver_store.read_table(name), name)), name


def test_for_a_bolt_uri_the_printed_command_is_what_to_run(
    import_server,
    data_dir,
    driver_store,
    tmp_path,
) -> None:
    """The printed command, run by hand (neo4j-admin is AdminTool with NEO4J_HOME), works."""
    report = import_into_neo4j(
        data_dir,
        target=import_server["bolt_uri"],
        out=tmp_path / "files",
        quarantine_dir=tmp_path / "q",
        settings=Settings(neo4j=Neo4jSettings(password=import_server["password"])),
    )
    words = shlex.split(report.command)
    assert words[:4] == ["neo4j-admin", "database", "import", "full"]
    assert words[-1] == "neo4j" and "--overwrite-destination=true" in words
    assert report.import_seconds is None  # nothing was run: the operator runs it
    assert report.nodes["GuanxiMeta"] == 1  # the target's PII declaration was carried over
    home = Path(import_server["dir"])
    admin = ["java", "-cp", str(local_config.LIB / "*"), importer.ADMIN_MAIN_CLASS]
    facts = Facts(facts_path_for(home / "data"))
    assert any(str(tmp_path / "files" / "facts.duckdb") in n for n in report.notes)
    neo4j_local.stop(home)
    try:
        env = {**os.environ, "NEO4J_HOME": str(home), "NEO4J_CONF": str(home / "conf")}
        done = subprocess.run(
            admin + words[1:], env=env, capture_output=True, text=True, timeout=400
        )
        assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
        facts.clear()  # the note's step, as the operator does it
        shutil.move(tmp_path / "files" / "facts.duckdb", facts.path)
    finally:
        info = neo4j_local.start(
            home,
            bolt_port=int(import_server["bolt_uri"].rsplit(":", 1)[1]),
            http_port=int(import_server["http_uri"].rsplit(":", 1)[1]),
            heap="1g",
            pagecache="256m",
            timeout=300,
        )
    with _store(info) as bulk:
        assert bulk.counts() == driver_store.counts()
        assert report.customers == bulk.counts()["customers"]
        assert report.relations == bulk.counts()["relations"]
        assert bulk.declared_pii_columns() == tuple(PII)


def test_from_store_copies_a_store_with_its_pii_declarations(
    load_json, import_server, tmp_path
) -> None:
    """``--from-store``: the files hold the store's rows, and its PII declarations."""
    _, _, duck_uri = load_json
    report = import_into_neo4j(
        None,
        from_store=duck_uri,
        target=import_server["bolt_uri"],
        out=tmp_path,
        settings=Settings(neo4j=Neo4jSettings(password=import_server["password"])),
    )
    with open_store(duck_uri, read_only=True) as duck:
        counts = duck.counts()
    assert {t: c["loaded"] for t, c in report.as_dict()["tables"].items()} == counts
    assert (report.customers, report.relations) == (counts["customers"], counts["relations"])
    assert report.nodes["Customer"] == counts["customers"]
    # the lean model: transactions and events go to the facts file, not the graph
    assert report.facts == {t: counts[t] for t in ("transactions", "events")}
    assert not {"Transaction", "Event"} & set(report.nodes)
    assert (tmp_path / "meta.csv").read_text().splitlines() == [
        "key:ID(GuanxiMeta),value:string[]",
        '"pii_columns","risk_grade"',
    ]


def test_errors_name_what_to_fix(tmp_path, data_dir) -> None:
    with pytest.raises(ConfigError, match="no local Neo4j server found at"):
        import_into_neo4j(data_dir, dir=tmp_path / "none", settings=SETTINGS)
    with pytest.raises(ConfigError, match="not a Neo4j URI"):
        import_into_neo4j(data_dir, target="duckdb:///x.duckdb", settings=SETTINGS)
    empty = f"duckdb:///{tmp_path / 'empty.duckdb'}"
    with open_store(empty):  # a store, with no run in it
        pass
    with pytest.raises(ConfigError, match="holds no complete run to import with --with-results"):
        import_into_neo4j(
            None,
            from_store=empty,
            target="bolt://127.0.0.1:1",
            out=tmp_path / "f",
            with_results=True,
            settings=SETTINGS,
        )
    with pytest.raises(ConfigError, match="not both"):
        import_into_neo4j(data_dir, settings=SETTINGS)


# --- --with-results: a run imported in the same pass -------------------------------------

#: Every run read of the RunRepository, as (method, keyword arguments).
RUN_READS = (
    ("read_metrics", {}),
    ("read_communities", {}),
    ("read_tags", {}),
    ("read_catalog", {}),
    ("read_lineage", {}),
    ("read_membership", {}),
    ("top_influencers", {"limit": 50, "offset": 0, "community_id": None, "tag_id": None}),
    ("top_influencers", {"limit": 20, "offset": 5, "community_id": None, "tag_id": "bridge"}),
)


@pytest.fixture(scope="module")
def analysed_duck(load_json, tmp_path_factory) -> str:
    """A copy of the reference DuckDB store with one ``guanxi analyze`` run."""
    from api.usecases.analysis import analyze

    _, _, duck_uri = load_json
    path = tmp_path_factory.mktemp("analysed") / "a.duckdb"
    shutil.copy(duck_uri.removeprefix("duckdb:///"), path)
    uri = f"duckdb:///{path}"
    with open_store(uri) as st:
        analyze(st, seed=SETTINGS.seed)
    return uri


def _run_reads(store, run_id: str) -> dict:
    out = {"list_runs": store.list_runs()}
    for name, kw in RUN_READS:
        out[f"{name}{sorted(kw.items())}"] = getattr(store, name)(run_id, **kw)
    out["top_in_community"] = store.top_influencers(
        run_id, limit=10, offset=0, community_id="c0001", tag_id=None
    )
    return out


def _assert_reads_equal(got: dict, want: dict, *, drop: tuple[str, ...] = ()) -> None:
    assert got.keys() == want.keys()
    for key, ref in want.items():
        val = got[key]
        if isinstance(ref, pd.DataFrame):
            assert len(ref) > 0 or key.startswith("top_influencers"), key
            pd.testing.assert_frame_equal(
                val.drop(columns=[c for c in drop if c in val]),
                ref.drop(columns=[c for c in drop if c in ref]),
                obj=key,
            )
        elif not drop:
            assert val == ref, key


def _plain(value):
    """A Browser result value without element ids: nodes, relationships and paths by content."""
    from neo4j.graph import Node, Path, Relationship

    def props(x) -> tuple:
        return tuple(sorted((k, repr(v)) for k, v in dict(x).items() if k != "_load"))

    def node(n: Node) -> tuple:
        return (tuple(sorted(n.labels)), props(n))

    if isinstance(value, Node):
        return node(value)
    if isinstance(value, Relationship):
        return (value.type, props(value), node(value.start_node), node(value.end_node))
    if isinstance(value, Path):
        return ("path", tuple(node(n) for n in value.nodes), tuple(_plain(r) for r in value))
    return repr(value)


def _browser_results(store: Neo4jStore, params: dict, *, only: str | None = None) -> dict:
    """Every saved query of the Browser kit (or those taking parameter ``only``), its rows by
    content, display LIMIT lifted."""
    from graph.store.browser_kit import query_parameters, saved_queries

    out = {}
    with store.bolt.session() as s:
        for name, text in saved_queries().items():
            if only is not None and only not in query_parameters(text):
                continue
            text = re.sub(r"\bLIMIT\s+\d+\s*$", "LIMIT 1000000", text.strip())
            # a path by its customers and relationship types: without the limit query 01
            # walks ~25,000 paths, and the nodes' and relationships' contents are compared
            # by the queries returning them (02, 04, 05)
            text = re.sub(
                r"\bRETURN p\b",
                "RETURN [n IN nodes(p) | n.customer_id] AS ids, "
                "[r IN relationships(p) | type(r)] AS types",
                text,
            )
            args = {p: params[p] for p in query_parameters(text)}
            rows = [tuple(_plain(v) for v in r.values()) for r in s.run(text, args)]
            out[name] = sorted(rows)
    return out


def _assert_lean_model(store: Neo4jStore, duck, run_id: str) -> None:
    """The graph holds HAS_TAG for the social and risk tags only, every tag as ``c.tags``,
    and no transaction or event; the reference is the run's assignments in DuckDB."""
    tags = duck.read_tags(run_id)
    cat = duck.read_catalog(run_id)
    graph = set(cat.loc[cat["category"].isin(["social", "risk"]), "tag_id"])
    picked = tags.loc[tags["tag_id"].isin(graph), ["customer_id", "tag_id"]]
    want_rel = sorted(map(tuple, picked.itertuples(index=False)))
    want_lists = tags.groupby("customer_id")["tag_id"].agg(lambda x: sorted(set(x))).to_dict()
    with store.bolt.session() as s:
        got_rel = s.run(
            "MATCH (c:Customer)-[:HAS_TAG {run_id: $r}]->(t:Tag) RETURN c.customer_id, t.tag_id",
            r=run_id,
        ).values()
        lists = s.run("MATCH (c:Customer) WHERE c.tags IS NOT NULL RETURN c.customer_id, c.tags")
        got_lists = dict(lists.values())
        facts = s.run("MATCH (n) WHERE n:Transaction OR n:Event RETURN count(n)").single()[0]
    assert 0 < len(want_rel) < len(tags)
    assert sorted(map(tuple, got_rel)) == want_rel
    assert got_lists == want_lists
    assert facts == 0


def _persist_through_the_driver(store: Neo4jStore, source, run_id: str) -> None:
    """The source's run written back by the store's RunRepository, as `persist_run` does."""
    run = next(r for r in source.list_runs() if r.run_id == run_id)
    store.write_run(
        run, metrics=source.read_metrics(run_id), communities=source.read_communities(run_id)
    )
    store.write_lineage(run_id, source.read_lineage(run_id))
    tags = source.read_tags(run_id)
    store.write_tags(
        run_id, tags[["customer_id", "tag_id", "score", "reason"]], source.read_catalog(run_id)
    )
    store.publish_run(run_id)


def test_with_results_from_a_store_reads_as_the_store_and_a_driver_write_back(
    analysed_duck, import_server, driver_store, tmp_path
) -> None:
    """``--from-store --with-results``: the run reads as in DuckDB and as a driver write-back.

    The reference write-back is the same run persisted through the Neo4j store's own
    RunRepository onto the driver load of the same folder; the graph shapes (labels, every
    property's name and type, relationship types, counts) and the Browser kit's answers of
    the two Neo4j stores must be equal, and every run read equal to DuckDB's.
    """
    res = runner.invoke(
        app,
        [
            "neo4j",
            "import",
            "--from-store",
            analysed_duck,
            "--dir",
            import_server["dir"],
            "--with-results",
            "--json",
        ],
        env={"GUANXI_NEO4J_HEAP": "1g", "GUANXI_NEO4J_PAGECACHE": "256m"},
        catch_exceptions=False,
    )
    assert res.exit_code == 0, res.output
    report = json.loads(res.stdout)
    with open_store(analysed_duck, read_only=True) as duck, _store(import_server) as bulk:
        run_id = duck.list_runs()[0].run_id
        assert report["run_id"] == run_id
        want = _run_reads(duck, run_id)
        _persist_through_the_driver(driver_store, duck, run_id)
        _assert_reads_equal(_run_reads(bulk, run_id), want)
        _assert_reads_equal(_run_reads(driver_store, run_id), want)
        assert _graph_shape(bulk) == _graph_shape(driver_store)
        _assert_lean_model(bulk, duck, run_id)
        _assert_lean_model(driver_store, duck, run_id)
        communities = want["read_communities[]"]["community_id"].tolist()
        tags = want["read_tags[]"]
        referrer = (
            want["read_metrics[]"]
            .sort_values(["referral_downstream", "customer_id"], ascending=[False, True])[
                "customer_id"
            ]
            .iloc[0]
        )
        params = {
            "community_id": communities[0],
            "community_a": communities[0],
            "community_b": communities[1],
            "customer_id": referrer,
        }
        cat = want["read_catalog[]"]
        in_graph = tags["tag_id"].isin(cat.loc[cat["category"].isin(["social", "risk"]), "tag_id"])
        # every query once; the tag query (04) for two more tags, one of them a graph tag
        for i, tag_id in enumerate(
            ("bridge", "opinion_leader", tags.loc[in_graph, "tag_id"].iloc[0])
        ):
            params["tag_id"] = tag_id
            only = None if i == 0 else "tag_id"
            got = _browser_results(bulk, params, only=only)
            assert got == _browser_results(driver_store, params, only=only), tag_id
            assert got and all(got.values()), {k: len(v) for k, v in got.items()}


def test_with_results_from_a_folder_imports_its_analysis(
    data_dir, analysed_duck, import_server, tmp_path
) -> None:
    """``DIR --with-results``: the run analysed in the temporary store, equal to DuckDB's.

    The reference is ``guanxi analyze`` of the same validated tables in DuckDB with the same
    seed (only run ids and creation times differ); afterwards a driver analyze on the
    imported store finds it as its previous run and publishes over it.
    """
    report = import_into_neo4j(
        data_dir,
        dir=Path(import_server["dir"]),
        quarantine_dir=tmp_path,
        with_results=True,
        settings=SETTINGS,
    )
    assert "analyze" in report.stage_seconds and report.run_id
    with open_store(analysed_duck, read_only=True) as duck, _store(import_server) as bulk:
        runs = bulk.list_runs()
        assert [r.run_id for r in runs] == [report.run_id]
        ref = duck.list_runs()[0]
        assert (runs[0].params, runs[0].input_counts) == (ref.params, ref.input_counts)
        got = _run_reads(bulk, report.run_id)
        want = _run_reads(duck, ref.run_id)
        _assert_reads_equal(got, want, drop=("run_id",))
    env = {"NEO4J_USER": "neo4j", "NEO4J_PASSWORD": import_server["password"]}
    res = runner.invoke(app, ["analyze", "--store", import_server["bolt_uri"], "--json"], env=env)
    assert res.exit_code == 0, res.output
    with _store(import_server) as bulk:
        runs = bulk.list_runs()
        assert len(runs) == 2 and runs[1].run_id == report.run_id
        pd.testing.assert_frame_equal(
            bulk.read_membership(report.run_id), want["read_membership[]"]
        )


# --- a daily delta through the driver after a bulk import (runs last: it re-imports) -------


def test_a_daily_delta_after_a_bulk_import_is_idempotent_and_equals_a_full_import(
    import_server, tmp_path
) -> None:
    """``guanxi load DELTA --store bolt://`` after ``guanxi neo4j import BASE``: loading the
    delta twice gives the same counts, and they and every table equal a bulk import of the
    combined data (`split_delta` knows what combined is)."""
    from loaders.generate import generate, write_dataset

    base, delta, combined = split_delta(generate(600, seed=5), fraction=0.02, seed=1)
    dirs = {}
    for name, data in (("base", base), ("delta", delta), ("combined", combined)):
        dirs[name] = tmp_path / name
        write_dataset(data, dirs[name], fmt="csv")
    home = Path(import_server["dir"])
    import_into_neo4j(dirs["combined"], dir=home, quarantine_dir=tmp_path / "q", settings=SETTINGS)
    with _store(import_server) as full:
        want = full.counts()
        tables = {n: _sorted(full.read_table(n), n) for n in TABLES}
    import_into_neo4j(dirs["base"], dir=home, quarantine_dir=tmp_path / "q", settings=SETTINGS)
    with _store(import_server) as st:
        before_delta = st.counts()
    env = {"NEO4J_USER": "neo4j", "NEO4J_PASSWORD": import_server["password"]}
    args = ["load", str(dirs["delta"]), "--store", import_server["bolt_uri"], "--json"]
    loads = []
    for _ in range(2):
        res = runner.invoke(app, [*args, "--quarantine-dir", str(tmp_path / "qd")], env=env)
        assert res.exit_code == 0, res.output
        loads.append(json.loads(res.stdout)["tables"])
        with _store(import_server) as st:
            assert st.counts() == want
    n_new = len(
        set(delta.customers["customer_id"].to_pylist())
        - set(base.customers["customer_id"].to_pylist())
    )
    assert loads[0]["customers"]["inserted"] == n_new > 0
    assert loads[0]["customers"]["updated"] == delta.customers.num_rows - n_new > 0
    # (a generated relation may repeat a base one's natural key: it is not new)
    assert loads[0]["relations"]["inserted"] == want["relations"] - before_delta["relations"] > 0
    assert all(t["inserted"] == t["updated"] == 0 for t in loads[1].values()), loads[1]
    with _store(import_server) as st:
        for n in TABLES:
            assert _sorted(st.read_table(n), n).equals(tables[n]), n
