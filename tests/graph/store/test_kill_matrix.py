"""Crash safety: `guanxi load` and `guanxi analyze` killed (SIGKILL) at named points, both stores.

Why: a bank's nightly job gets killed (OOM killer, a node drained, a deploy). Each kill must
leave readers the previous complete state — latest run, counts, `guanxi influencers --json`,
`guanxi customer`, tag counts and, on Neo4j, the Browser kit's saved queries — and rerunning
the killed command must converge to exactly what a clean run on the same data gives (metrics
export, tag assignments, counts, no leftovers). The kill happens in a real `guanxi` subprocess
through `graph.failpoints` (``GUANXI_FAILPOINT``), with batches of 100 rows so that the
``*.batch`` points fire in the middle of a table.

The independent reference is the same sequence run cleanly on a fresh store of the same kind:
load A, analyze, load B, analyze (A and B are two generated datasets over the same customer
ids, so B updates every customer and adds rows to every table).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from api import usecases
from api.cli import app
from graph.failpoints import ENV, POINTS
from graph.store import open_store
from graph.store.browser_kit import saved_queries
from graph.store.neo4j import TAG_LABELS
from loaders.generate import generate, write_dataset
from tests.graph.store.conftest import open_neo4j

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

BATCH = "100"
SEED = 42
TABLE_ORDER = ("customers", "relations", "transactions", "events")
#: load points -> tables committed when the point fires (the rest must be as they were)
LOAD_POINTS: dict[str, tuple[str, ...]] = {
    "load.customers.batch": (),
    "load.relations.batch": ("customers",),
    "load.relations.done": ("customers", "relations"),
    "load.transactions.batch": ("customers", "relations"),
    "load.events.batch": ("customers", "relations", "transactions"),
}
#: analyze points; after the published ones the new run is what is served
ANALYZE_POINTS = (
    "analyze.projected",
    "analyze.communities.batch",
    "analyze.metrics.batch",
    "analyze.metrics.done",
    "analyze.tags.batch",
    "analyze.tags.done",
    "analyze.published",
    "analyze.labels.batch",
)
#: The analyze points each store is killed at: five each (the issue's minimum, for CI's
#: time), one in each write phase (communities, metrics, tags) and either side of it.
KILLED_AT = {
    "duckdb": (
        "analyze.projected",
        "analyze.metrics.batch",
        "analyze.tags.batch",
        "analyze.tags.done",
        "analyze.published",
    ),
    "neo4j": (
        "analyze.communities.batch",
        "analyze.metrics.done",
        "analyze.tags.batch",
        "analyze.published",
        "analyze.labels.batch",
    ),
}
PUBLISHED = ("analyze.published", "analyze.labels.batch")
PROFILED = ("C0000001", "C0000150")


def _env(extra: dict | None = None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != ENV}
    return {**env, "GUANXI_NEO4J_BATCH_SIZE": BATCH, **(extra or {})}


def _guanxi(*args: str, point: str | None = None) -> subprocess.CompletedProcess:
    """Run the installed `guanxi` CLI in a subprocess (killed at `point`, if given)."""
    exe = shutil.which("guanxi")
    cmd = [exe] if exe else [sys.executable, "-m", "api.cli"]
    extra = {ENV: point} if point else {}
    return subprocess.run(
        [*cmd, *args], env=_env(extra), capture_output=True, text=True, timeout=600
    )


def _cli_json(*args: str):
    """One read command of the real CLI (in-process), its --json output parsed."""
    res = CliRunner().invoke(app, [*args, "--json"])
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


# --- stores -----------------------------------------------------------------------------------


class Target:
    """One store under test: its URI, how to empty it, and Neo4j-only structural probes."""

    def __init__(self, kind: str, uri: str, server: dict | None) -> None:
        self.kind = kind
        self.uri = uri
        self.server = server

    def open(self):
        if self.kind == "neo4j":
            return open_neo4j(self.server, batch_size=int(BATCH))
        return open_store(self.uri)

    def reset(self) -> None:
        if self.kind == "neo4j":
            with self.open() as s:
                s.clear()
        else:
            Path(self.uri.removeprefix("duckdb://")).unlink(missing_ok=True)

    def snapshot(self, into: Path) -> Path | None:
        """A copy of a DuckDB store's files (no command running), None on Neo4j."""
        if self.kind == "neo4j":
            return None
        into.mkdir(parents=True)
        db = Path(self.uri.removeprefix("duckdb://"))
        for f in db.parent.glob(db.name + "*"):
            shutil.copy2(f, into / f.name)
        return into

    def restore(self, files: Path | None) -> bool:
        """Put a :meth:`snapshot` back in place; False when there is none (Neo4j)."""
        if files is None:
            return False
        db = Path(self.uri.removeprefix("duckdb://"))
        for f in files.iterdir():  # the store and any companion file (".wal")
            shutil.copy2(f, db.parent / (db.name + f.name.removeprefix(db.name)))
        return True

    def cypher(self, query: str, **params) -> list[dict]:
        with self.open() as s, s.bolt.session() as ses:
            return ses.run(query, params).data()


@pytest.fixture(scope="module")
def datasets(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("kill-data")
    out = {}
    for name, seed in (("A", 7), ("B", 8)):
        write_dataset(generate(300, seed=seed), root / name, fmt="csv")
        out[name] = root / name
    return out


@pytest.fixture
def target(request, tmp_path, monkeypatch) -> Target:
    """An empty store of the kind the test is parametrised with (indirect ``target``)."""
    monkeypatch.setenv("GUANXI_NEO4J_BATCH_SIZE", BATCH)
    monkeypatch.delenv(ENV, raising=False)
    if request.param == "neo4j":
        server = request.getfixturevalue("neo4j_server")
        monkeypatch.setenv("NEO4J_USER", server["user"])
        monkeypatch.setenv("NEO4J_PASSWORD", server["password"] or "")
        from api.settings import get_settings

        get_settings.cache_clear()
        t = Target("neo4j", server["uri"], server)
    else:
        t = Target("duckdb", f"duckdb://{tmp_path / 'kill.duckdb'}", None)
    t.reset()
    yield t
    from api.settings import get_settings

    get_settings.cache_clear()


# --- what readers are served ----------------------------------------------------------------


def _params_for_browser(t: Target) -> dict:
    """Parameters for the saved queries, read from the served state itself."""
    top = _cli_json("influencers", "--top", "300", "--store", t.uri)
    comms = sorted({r["community_id"] for r in top})
    tags = [r["tag_id"] for r in _cli_json("tags", "--store", t.uri) if r["count"] > 0]
    return {
        "community_id": comms[0],
        "community_a": comms[0],
        "community_b": comms[1],
        "customer_id": PROFILED[0],
        "tag_id": sorted(tags)[0],
    }


def _customer_ids(v, into: set[str]) -> set[str]:
    """Every customer_id in a Browser result row (nodes, paths, nested lists)."""
    if isinstance(v, dict):
        if "customer_id" in v:
            into.add(v["customer_id"])
        for x in v.values():
            _customer_ids(x, into)
    elif isinstance(v, list | tuple):
        for x in v:
            _customer_ids(x, into)
    return into


def _browser(t: Target, params: dict) -> dict[str, list]:
    """Customer ids each saved query returns (every node in its rows), sorted.

    The final LIMIT (a display bound in Browser) is lifted: an unordered query cut at a
    limit returns whichever rows the storage hands out first, and what is compared here is
    which customers the query selects.
    """
    out = {}
    for name, text in saved_queries().items():
        text = re.sub(r"\bLIMIT\s+\d+\s*$", "LIMIT 1000000", text.strip())
        # a path query: its customers, not thousands of hydrated paths
        text = re.sub(r"\bRETURN p\s+LIMIT", "UNWIND nodes(p) AS x RETURN DISTINCT x LIMIT", text)
        ids: set[str] = set()
        for row in t.cypher(text, **params):
            _customer_ids(row, ids)
        out[name] = sorted(ids)
    return out


def served(t: Target, browser_params: dict | None = None) -> dict:
    """Everything a reader sees, with run ids split out (they differ between stores)."""
    latest = None
    customers = {}
    for cid in PROFILED:
        prof = _cli_json("customer", cid, "--store", t.uri)
        latest = prof.pop("run_id")
        customers[cid] = prof
    with t.open() as s:
        counts = s.counts()
        table = s.read_table("customers").sort_by("customer_id")
    snap = {
        "latest_run": latest,
        "counts": counts,
        # every customer's attributes, not only the profiled ones (a half-applied update)
        "customers_table": hashlib.sha256(repr(table.to_pydict()).encode()).hexdigest(),
        "influencers": _cli_json("influencers", "--top", "25", "--store", t.uri),
        "customers": customers,
        "tag_counts": {r["tag_id"]: r["count"] for r in _cli_json("tags", "--store", t.uri)},
    }
    if t.kind == "neo4j" and browser_params:
        snap["browser"] = _browser(t, browser_params)
    return snap


def results(t: Target, tmp_path: Path) -> dict:
    """What a rerun must converge to: metrics export, tag assignments, counts, structure."""
    out = tmp_path / f"export-{os.urandom(4).hex()}.csv"
    res = CliRunner().invoke(app, ["metrics", "export", "--out", str(out), "--store", t.uri])
    assert res.exit_code == 0, res.output
    metrics = pd.read_csv(out, dtype={"customer_id": str, "community_id": str})
    metrics = metrics.sort_values("customer_id").reset_index(drop=True)
    with t.open() as s:
        run = usecases.latest_run(s)
        tags = s.read_tags(run.run_id).drop(columns=["run_id"])
        tags = tags.sort_values(["customer_id", "tag_id"]).reset_index(drop=True)
        counts = s.counts()
    shape = {}
    if t.kind == "neo4j":
        q = {
            "communities": "MATCH (k:Community) RETURN count(k) AS n",
            "memberships": "MATCH ()-[m:IN_COMMUNITY]->() RETURN count(m) AS n",
            "incomplete_runs": "MATCH (r:Run) WHERE r.complete = false RETURN count(r) AS n",
            "latest_has_tag": "MATCH ()-[h:HAS_TAG {run_id: $r}]->() RETURN count(h) AS n",
            "stale_metrics": "MATCH (c:Customer) WHERE c.metrics_run_id <> $r RETURN count(c) AS n",
        }
        shape = {k: t.cypher(v, r=run.run_id)[0]["n"] for k, v in q.items()}
        for label in TAG_LABELS.values():
            shape[label] = t.cypher(f"MATCH (c:{label}) RETURN count(c) AS n")[0]["n"]
    else:
        with t.open() as s:
            con = s._cur()
            shape = {
                "incomplete_runs": con.execute(
                    "SELECT count(*) FROM runs WHERE NOT complete"
                ).fetchall()[0][0],
                "metric_rows": con.execute("SELECT count(*) FROM metrics").fetchall()[0][0],
                "tag_rows": con.execute("SELECT count(*) FROM tag_assignments").fetchall()[0][0],
            }
    return {"metrics": metrics, "tags": tags, "counts": counts, "shape": shape}


#: Neo4j hands relations back in a storage-dependent order, so float sums over a customer's
#: relations (strength, constraint) can differ from a clean run in the last bits; DuckDB's
#: reads are ordered by the file and its results are compared bit for bit.
REL_TOL = {"duckdb": 0.0, "neo4j": 1e-9}


def assert_close(got, want, *, rel: float, where: str = "") -> None:
    """Nested JSON-like values equal, floats within `rel` (0: exactly)."""
    if isinstance(want, float) and isinstance(got, float):
        assert got == want or math.isclose(got, want, rel_tol=rel, abs_tol=rel), where
    elif isinstance(want, dict):
        assert isinstance(got, dict) and got.keys() == want.keys(), where
        for k in want:
            assert_close(got[k], want[k], rel=rel, where=f"{where}.{k}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_close(g, w, rel=rel, where=f"{where}[{i}]")
    else:
        assert got == want, where


def _same_results(got: dict, want: dict, *, rel: float, extra_runs: int = 0) -> None:
    for part in ("metrics", "tags"):
        pd.testing.assert_frame_equal(
            got[part], want[part], check_exact=rel == 0.0, rtol=rel or 1e-5, atol=rel
        )
    assert got["counts"] == want["counts"]
    shape = dict(want["shape"])
    if "metric_rows" in shape:  # DuckDB keeps every complete run's rows
        n = want["counts"]["customers"]
        shape["metric_rows"] += extra_runs * n
        shape["tag_rows"] += extra_runs * len(want["tags"])
    assert got["shape"] == shape


def _strip_run(snap: dict) -> dict:
    return {k: v for k, v in snap.items() if k != "latest_run"}


# --- the clean reference ----------------------------------------------------------------------


_REFERENCE: dict[str, dict] = {}


def reference(t: Target, datasets: dict, tmp_path: Path) -> dict:
    """The clean sequence on this store kind: states S1 (A analysed), S2 (+B), S3 (analysed)."""
    if t.kind in _REFERENCE:
        return _REFERENCE[t.kind]
    t.reset()
    ref: dict = {}
    assert _guanxi("load", str(datasets["A"]), "--store", t.uri, "--json").returncode == 0
    assert _guanxi("analyze", "--store", t.uri, "--json").returncode == 0
    ref["browser_params"] = _params_for_browser(t)
    ref["S1"] = served(t, ref["browser_params"])
    ref["S1_results"] = results(t, tmp_path)
    ref["S1_files"] = t.snapshot(tmp_path / "S1")
    assert _guanxi("load", str(datasets["B"]), "--store", t.uri, "--json").returncode == 0
    ref["S2"] = served(t, ref["browser_params"])
    ref["S2_files"] = t.snapshot(tmp_path / "S2")
    assert _guanxi("analyze", "--store", t.uri, "--json").returncode == 0
    ref["S3"] = served(t, ref["browser_params"])
    ref["S3_results"] = results(t, tmp_path)
    _REFERENCE[t.kind] = ref
    t.reset()
    return ref


def _setup(t: Target, datasets: dict, ref: dict, *, with_b: bool) -> None:
    """The state before the kill: the reference's own files on DuckDB, else built in-process
    through the same use cases as the CLI."""
    t.reset()
    if t.restore(ref["S2_files" if with_b else "S1_files"]):
        return
    with t.open() as s:
        usecases.load(s, datasets["A"], quarantine_dir=datasets["A"].parent / "qA")
        usecases.analyze(s, seed=SEED)
        if with_b:
            usecases.load(s, datasets["B"], quarantine_dir=datasets["B"].parent / "qB")


# --- the matrix ---------------------------------------------------------------------------------


def test_every_point_in_the_matrix_exists():
    for p in (*LOAD_POINTS, *ANALYZE_POINTS):
        assert p in POINTS, p
    # labels are a Neo4j write-back only: DuckDB never reaches analyze.labels.batch
    assert "analyze.labels.batch" not in KILLED_AT["duckdb"]
    for points in KILLED_AT.values():
        assert len(points) >= 5 and set(points) <= set(ANALYZE_POINTS)
    assert len(LOAD_POINTS) >= 5


KINDS = ("duckdb", "neo4j")


class PreviousStateNotServed(AssertionError):
    """After the kill, readers were not served the previous complete state."""


@pytest.mark.parametrize(
    ("target", "point"),
    [(k, p) for k in KINDS for p in LOAD_POINTS],
    indirect=["target"],
)
def test_load_killed(target, datasets, tmp_path, point):
    t = target
    ref = reference(t, datasets, tmp_path)
    _setup(t, datasets, ref, with_b=False)
    before = served(t, ref["browser_params"])
    rel = REL_TOL[t.kind]
    assert_close(_strip_run(before), _strip_run(ref["S1"]), rel=rel)  # setup == reference S1

    proc = _guanxi("load", str(datasets["B"]), "--store", t.uri, "--json", point=point)
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, proc.stderr[-2000:])

    after = served(t, ref["browser_params"])
    committed = LOAD_POINTS[point]
    problems = []
    want_counts = {
        n: (ref["S2"] if n in committed else ref["S1"])["counts"][n] for n in TABLE_ORDER
    }
    if after["counts"] != want_counts:
        problems.append(f"counts {after['counts']} != {want_counts}: a table is half loaded")
    for key in ("latest_run", "influencers", "tag_counts"):
        if after[key] != before[key]:
            problems.append(f"{key} changed")
    attrs_from = ref["S2"] if "customers" in committed else ref["S1"]
    if after["customers_table"] != attrs_from["customers_table"]:
        problems.append("customers table is neither the old nor the new one")
    for cid in PROFILED:
        got, was = after["customers"][cid], before["customers"][cid]
        if got["attributes"] != attrs_from["customers"][cid]["attributes"]:
            problems.append(f"{cid} attributes half updated")
        if {k: v for k, v in got.items() if k != "attributes"} != {
            k: v for k, v in was.items() if k != "attributes"
        }:
            problems.append(f"{cid} run results changed")
    if t.kind == "neo4j" and "relations" not in committed and after["browser"] != before["browser"]:
        problems.append("Browser queries changed")

    assert _guanxi("load", str(datasets["B"]), "--store", t.uri, "--json").returncode == 0
    assert served(t, ref["browser_params"])["counts"] == ref["S2"]["counts"]
    assert _guanxi("analyze", "--store", t.uri, "--json").returncode == 0
    assert_close(_strip_run(served(t, ref["browser_params"])), _strip_run(ref["S3"]), rel=rel)
    _same_results(results(t, tmp_path), ref["S3_results"], rel=rel)
    if problems:  # converged (checked above), but readers saw a half-loaded table meanwhile
        raise PreviousStateNotServed(f"{t.kind} {point}: " + "; ".join(problems))


@pytest.mark.parametrize(
    ("target", "point"),
    [(k, p) for k in KINDS for p in KILLED_AT[k]],
    indirect=["target"],
)
def test_analyze_killed(target, datasets, tmp_path, point):
    t = target
    ref = reference(t, datasets, tmp_path)
    _setup(t, datasets, ref, with_b=True)
    before = served(t, ref["browser_params"])
    rel = REL_TOL[t.kind]
    assert_close(_strip_run(before), _strip_run(ref["S2"]), rel=rel)

    proc = _guanxi("analyze", "--store", t.uri, "--json", point=point)
    assert proc.returncode == -signal.SIGKILL, (proc.returncode, proc.stderr[-2000:])

    after = served(t, ref["browser_params"])
    if point in PUBLISHED:
        # published: the new run, complete, is what readers get
        assert after["latest_run"] != before["latest_run"]
        assert_close(_strip_run(after), _strip_run(ref["S3"]), rel=rel)
    else:
        assert after == before, f"{point}: readers see part of the killed run"

    assert _guanxi("analyze", "--store", t.uri, "--json").returncode == 0
    assert_close(_strip_run(served(t, ref["browser_params"])), _strip_run(ref["S3"]), rel=rel)
    _same_results(
        results(t, tmp_path),
        ref["S3_results"],
        rel=rel,
        extra_runs=1 if point in PUBLISHED else 0,
    )
