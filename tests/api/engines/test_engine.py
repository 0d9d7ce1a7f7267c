"""One contract, every engine: the stages run by hand give the run the `analyze` use case gives.

The reference is the `analyze` use case on the default engine over its own store; each
registered engine's stages (projection -> metrics -> features -> tags -> persist) are run one
by one on a second store loaded with the same data, and every stored result must agree.
Independent facts (the reference time is the newest dated row, every customer gets metrics,
runs become visible only when published) are checked against the raw tables.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import UTC, datetime

import pandas as pd
import pyarrow.compute as pc
import pytest

from api.engines import ENGINES, STAGES, Engine, get_engine
from api.usecases import analyze, new_run_id, tag_run
from graph.errors import ConfigError
from graph.model import RunInfo
from graph.params import AnalysisParams
from graph.store import open_store
from loaders.generate import generate, write_dataset
from loaders.ingest import load_folder
from tagging import default_catalog
from tagging.quality import definition_fingerprints

SEED = 7


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("engine_data")
    write_dataset(generate(400, seed=5), d, fmt="csv")
    return d


def _loaded(tmp_path_factory, data_dir, name: str):
    d = tmp_path_factory.mktemp(name)
    store = open_store(f"duckdb:///{d / 'e.duckdb'}")
    load_folder(store, data_dir, quarantine_dir=d / "q")
    return store


@pytest.fixture(scope="module")
def reference(tmp_path_factory, data_dir):
    store = _loaded(tmp_path_factory, data_dir, "engine_ref")
    res = analyze(store, seed=SEED)
    yield store, res.run
    store.close()


def _results(store, run_id: str) -> dict[str, pd.DataFrame]:
    def tidy(df: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
        return df.drop(columns=["run_id"], errors="ignore").sort_values(keys).reset_index(drop=True)

    return {
        "metrics": tidy(store.read_metrics(run_id), ["customer_id"]),
        "communities": tidy(store.read_communities(run_id), ["community_id"]),
        "tags": tidy(store.read_tags(run_id), ["customer_id", "tag_id"]),
        "catalog": tidy(store.read_catalog(run_id), ["tag_id"]),
    }


def test_stage_names_are_the_pipeline_in_order():
    assert STAGES == ("projection", "metrics", "features", "tags", "persist")


def test_unknown_engine_is_a_config_error_naming_the_known_ones():
    with pytest.raises(ConfigError, match=r"'nosuch'.*'local'.*'spark'"):
        get_engine("nosuch")


# Engines that read their input from the store; spark reads its own (--input) and has its
# contract test in tests/api/engines/spark/test_engine_contract.py.
STORE_ENGINES = tuple(name for name in ENGINES if name != "spark")


@pytest.mark.parametrize("name", STORE_ENGINES)
def test_engine_stages_give_the_analyze_run(name, tmp_path_factory, data_dir, reference):
    ref_store, ref_run = reference
    engine = get_engine(name)
    assert isinstance(engine, Engine) and engine.name == name
    store = _loaded(tmp_path_factory, data_dir, f"engine_{name}")
    try:
        projection = engine.project(store, AnalysisParams(seed=SEED))
        newest = max(
            pc.max(store.read_table(t, ["occurred_at"]).column("occurred_at")).as_py()
            for t in ("relations", "transactions", "events")
        )
        assert projection.params.as_of == newest  # the data's own clock, not today's
        result = engine.metrics(projection)
        customers = set(store.customer_ids().to_pylist())
        assert set(result.metrics["customer_id"]) == customers
        now = datetime.now(UTC)
        run = RunInfo(
            run_id=new_run_id(now),
            created_at=now.isoformat(),
            params=projection.params.to_dict(),
            input_counts=store.counts(),
            stats={
                **{k: v for k, v in result.stats.items() if k != "timings"},
                "tag_definitions": definition_fingerprints(default_catalog()),
            },
        )
        features = engine.features(store, result.metrics, as_of=projection.params.as_of)
        assert set(features["customer_id"]) == customers
        tags = engine.tags(features, default_catalog(), run_id=run.run_id)
        timings = engine.persist(store, run, metrics=result, tags=tags)
        assert set(timings) == {"persist_metrics", "persist_tags", "publish"}
        assert [r.run_id for r in store.list_runs()] == [run.run_id]
        assert run.params == ref_run.params and run.stats == ref_run.stats
        got, want = _results(store, run.run_id), _results(ref_store, ref_run.run_id)
        for table in want:
            pd.testing.assert_frame_equal(got[table], want[table], obj=table)

        # re-tagging an existing run rewrites the same tags and publishes nothing new
        again = tag_run(store, run, store.read_metrics(run.run_id), engine=name)
        assert set(again) == {"tagging", "persist_tags"}
        assert [r.run_id for r in store.list_runs()] == [run.run_id]
        pd.testing.assert_frame_equal(_results(store, run.run_id)["tags"], want["tags"])
    finally:
        store.close()


def test_cli_refuses_an_unknown_engine(tmp_path):
    exe = shutil.which("guanxi")
    cmd = [exe] if exe else [sys.executable, "-m", "api.cli"]
    uri = f"duckdb:///{tmp_path / 'empty.duckdb'}"
    proc = subprocess.run(
        [*cmd, "analyze", "--engine", "nosuch", "--store", uri],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    assert "analysis engine 'nosuch' is unknown" in proc.stdout + proc.stderr
