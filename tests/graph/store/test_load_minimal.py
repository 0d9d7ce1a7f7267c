"""The minimal contract: every table loads with its required columns and any optional subset.

Why: a bank's export, or a public social network, rarely carries every optional column; a
customers file holding only ``customer_id`` must load, and ``guanxi analyze`` must then run
on the graph of ids and relations alone. Each case writes the generated tables with a drawn
subset of optional columns, loads them into each store and checks, against references built
here independently of the loader (pandas over the written text), what was read, loaded and
inserted, that present columns hold the full load's values and absent ones are empty; then
analyzes and checks the degrees against networkx.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from api import usecases
from graph.model import NATURAL_KEYS, REQUIRED, TABLES
from graph.store.duckdb_store import DuckDBStore
from loaders.generate import generate, write_dataset
from loaders.ingest import load_folder
from loaders.specs import contract_columns

#: shared test data beside the project (see its README); the test says so when it is absent
EMAIL_EU = Path(__file__).resolve().parents[4] / "shared/data/email-eu-core/email-Eu-core.txt"
EXTRA = "risk_grade"  # a column the generator adds beyond the contract (an attribute)


@pytest.fixture(scope="module")
def full(tmp_path_factory) -> dict:
    """The generated tables as written (text) and as loaded with every column (typed)."""
    d = tmp_path_factory.mktemp("full")
    write_dataset(generate(80, seed=3), d, fmt="csv")
    text = {
        n: pd.read_csv(d / f"{n}.csv", dtype=str, keep_default_na=False, na_filter=False)
        for n in TABLES
    }
    with DuckDBStore(d / "full.duckdb") as s:
        report = load_folder(s, d, quarantine_dir=d / "q")
        assert report.quarantined == 0, "the generator's data should load without a bad row"
        typed = {n: s.read_table(n).to_pandas() for n in TABLES}
    return {"text": text, "typed": typed}


def _optional(name: str, text: pd.DataFrame) -> list[str]:
    cols = [c for c in text.columns if c not in REQUIRED[name]]
    assert set(cols) - {EXTRA} <= set(contract_columns(name))
    return cols


def _subsets(case: int, text: dict[str, pd.DataFrame]) -> dict[str, list[str]]:
    """Optional columns kept per table: none (case 0), all (case 1), else a seeded draw."""
    rng = random.Random(case)
    out = {}
    for name in TABLES:
        opt = _optional(name, text[name])
        if case == 0:
            out[name] = []
        elif case == 1:
            out[name] = opt
        else:
            out[name] = sorted(rng.sample(opt, rng.randint(0, len(opt))))
    return out


def _write_subset(folder: Path, text: dict[str, pd.DataFrame], keep: dict[str, list[str]]):
    folder.mkdir(parents=True, exist_ok=True)
    for name in TABLES:
        cols = [*REQUIRED[name], *keep[name]]
        text[name][cols].to_csv(folder / f"{name}.csv", index=False)


def _expected_inserted(name: str, frame: pd.DataFrame) -> int:
    """Distinct natural keys among the written rows, the absent key columns counting as empty."""
    key = [k for k in NATURAL_KEYS[name] if k in frame.columns]
    return len(frame.drop_duplicates(key))


def _norm(v):
    if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NaT:
        return None
    if isinstance(v, pd.Timestamp):
        return v.to_pydatetime().replace(tzinfo=None)
    if isinstance(v, np.generic):
        return v.item()
    return v


def _rows(df: pd.DataFrame, cols: list[str]) -> set[tuple]:
    return {tuple(_norm(v) for v in row) for row in df[cols].itertuples(index=False)}


@pytest.mark.parametrize("case", range(6))
def test_any_subset_of_optional_columns_loads_and_analyzes(
    store, full, tmp_path, case: int
) -> None:
    text = full["text"]
    keep = _subsets(case, text)
    folder = tmp_path / "in"
    _write_subset(folder, text, keep)

    report = load_folder(store, folder, quarantine_dir=tmp_path / "q")

    counts = store.counts()
    for name in TABLES:
        frame = text[name][[*REQUIRED[name], *keep[name]]]
        t = report.tables[name]
        assert (t.read, t.loaded, t.quarantined) == (len(frame), len(frame), 0), name
        assert t.inserted == _expected_inserted(name, frame) == counts[name], name

        stored = store.read_table(name).to_pandas()
        present = [c for c in [*REQUIRED[name], *keep[name]] if c != EXTRA]
        absent = [c for c in contract_columns(name) if c not in present]
        assert stored[absent].isna().all().all(), (name, absent)
        ref = full["typed"][name]
        if name == "customers":
            # keyed by id: each customer's present values are the full load's, row for row
            got = stored.set_index("customer_id").sort_index()
            want = ref.set_index("customer_id").sort_index()
            assert list(got.index) == list(want.index)
            others = [c for c in present if c != "customer_id"]
            assert _rows(got.reset_index(), others) <= _rows(want.reset_index(), others)
            for c in others:
                g, w = got[c].map(_norm).tolist(), want[c].map(_norm).tolist()
                assert g == w, c
            if EXTRA in keep[name]:
                attrs = got["attributes"].map(json.loads)
                assert (
                    attrs.map(lambda a: a[EXTRA]).tolist()
                    == want["attributes"].map(json.loads).map(lambda a: a[EXTRA]).tolist()
                )
            else:
                assert got["attributes"].isna().all()
        else:
            key = [k for k in NATURAL_KEYS[name] if k in present]
            assert _rows(stored, key) == _rows(ref, key), name
            assert _rows(stored, present) <= _rows(ref, present), name

    run = usecases.analyze(store, seed=1).run
    metrics = store.read_metrics(run.run_id).set_index("customer_id")
    assert len(metrics) == len(text["customers"])
    rel = text["relations"]
    g = nx.DiGraph()
    g.add_nodes_from(text["customers"]["customer_id"])
    g.add_edges_from(zip(rel["src_id"], rel["dst_id"], strict=True))
    g.remove_edges_from(nx.selfloop_edges(g))
    assert metrics["out_degree"].to_dict() == dict(g.out_degree())
    assert metrics["in_degree"].to_dict() == dict(g.in_degree())
    assert metrics["degree"].to_dict() == dict(g.to_undirected().degree())
    assert not store.read_tags(run.run_id, limit=5).empty


def _email_eu_folder(folder: Path) -> tuple[Path, np.ndarray]:
    """SNAP email-Eu-core in the contract: ids only, message relations, empty activity."""
    edges = np.loadtxt(EMAIL_EU, dtype=np.int64)
    folder.mkdir(parents=True, exist_ok=True)
    ids = np.unique(edges)
    pd.DataFrame({"customer_id": [f"E{i}" for i in ids]}).to_csv(
        folder / "customers.csv", index=False
    )
    start = np.datetime64("2024-01-01T00:00:00")
    pd.DataFrame(
        {
            "src_id": [f"E{i}" for i in edges[:, 0]],
            "dst_id": [f"E{i}" for i in edges[:, 1]],
            "type": "message",
            "occurred_at": (start + np.arange(len(edges)).astype("timedelta64[m]")).astype(str),
        }
    ).to_csv(folder / "relations.csv", index=False)
    (folder / "transactions.csv").write_text("customer_id,occurred_at,amount\n")
    (folder / "events.csv").write_text("customer_id,occurred_at,event_type\n")
    return folder, edges


@pytest.mark.skipif(not EMAIL_EU.is_file(), reason=f"{EMAIL_EU} not present on this machine")
def test_email_eu_core_loads_and_analyzes(store, tmp_path) -> None:
    folder, edges = _email_eu_folder(tmp_path / "eu")
    report = load_folder(store, folder, quarantine_dir=tmp_path / "q")
    self_loops = int((edges[:, 0] == edges[:, 1]).sum())
    rel = report.tables["relations"]
    assert (rel.read, rel.loaded, rel.quarantined) == (
        len(edges),
        len(edges) - self_loops,
        self_loops,
    )
    assert report.reasons["relations"] == {"self_relation": self_loops}
    assert report.tables["customers"].loaded == len(np.unique(edges))
    assert report.tables["transactions"].read == report.tables["events"].read == 0

    run = usecases.analyze(store, seed=1).run
    metrics = store.read_metrics(run.run_id).set_index("customer_id")
    g = nx.DiGraph()
    g.add_nodes_from(f"E{i}" for i in np.unique(edges))
    g.add_edges_from((f"E{a}", f"E{b}") for a, b in edges if a != b)
    assert metrics["out_degree"].to_dict() == dict(g.out_degree())
    assert metrics["in_degree"].to_dict() == dict(g.in_degree())
    pr = nx.pagerank(g, alpha=0.85)
    top_nx = sorted(pr, key=pr.get, reverse=True)[:10]
    top = metrics["pagerank"].sort_values(ascending=False).index[:50]
    # weights decay with age here, so only the ranking's head is compared, loosely
    assert len(set(top_nx) & set(top)) >= 7
    assert run.stats["n_communities"] >= 2
    assert not store.read_tags(run.run_id, limit=5).empty
