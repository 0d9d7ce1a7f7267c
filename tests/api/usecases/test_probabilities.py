"""Probabilities learnt from a simulated referral history, scored against the hidden truth.

The generator's history comes from hidden per-tie probabilities it writes beside it
(referral_truth); the learnt ones must predict held-out campaigns' conversions with at most
half the default mapping's error, and sit closer to the truth tie by tie.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow.csv as pacsv
import pytest
from typer.testing import CliRunner

from api import usecases
from api.cli import app
from api.usecases.campaign_setup import prepare_campaign
from api.usecases.probabilities import learn_from_history, score_history
from graph.errors import LoaderError
from graph.store import open_store
from loaders.generate import generate
from loaders.ingest import load_folder
from loaders.referral_history import read_history, simulate_history


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    d = tmp_path_factory.mktemp("history")
    info = usecases.generate_dataset(3000, seed=11, out=d / "data")
    uri = f"duckdb:///{d / 's.duckdb'}"
    with open_store(uri) as st:
        load_folder(st, d / "data", quarantine_dir=d / "q")
        usecases.analyze(st, seed=1)
    return uri, d / "data" / "referral_history.csv", d / "data" / "referral_truth.csv", info


def test_learned_halves_the_error_on_held_out_campaigns(world):
    uri, history, _, _ = world
    with open_store(uri) as st:
        score = score_history(st, history, holdout_share=0.25)
    assert score["test_campaigns"] == 6 and score["train_campaigns"] == 18
    assert score["learned_mae"] <= 0.5 * score["default_mae"]
    realised = sum(c["realised"] for c in score["campaigns"])
    assert realised > 0
    print(
        f"\nheld-out MAE per campaign: learned {score['learned_mae']}, default "
        f"{score['default_mae']} ({realised} conversions in {score['test_campaigns']} campaigns)"
    )


def test_learned_probabilities_sit_closer_to_the_hidden_truth(world):
    uri, history, truth_path, _ = world
    truth = pacsv.read_csv(truth_path)
    with open_store(uri) as st:
        ctx = prepare_campaign(st)
        learned, used = learn_from_history(ctx, read_history(history))
    g = ctx.graph.graph
    edges = np.asarray(g.get_edgelist()).reshape(-1, 2)
    ids = ctx.graph.ids
    t = {
        (s, d): p
        for s, d, p in zip(
            truth.column("src_id").to_pylist(),
            truth.column("dst_id").to_pylist(),
            truth.column("p_true").to_pylist(),
            strict=True,
        )
    }
    p_true = np.array([t.get((ids[a], ids[b]), np.nan) for a, b in edges])
    ok = ~np.isnan(p_true)
    assert ok.mean() > 0.95  # the graph's ties are the generator's
    default = ctx.model("weighted_cascade").probs
    err_learned = np.abs(learned.probs[ok] - p_true[ok]).mean()
    err_default = np.abs(default[ok] - p_true[ok]).mean()
    assert err_learned < 0.5 * err_default
    assert used["unknown_customers"] == 0 and used["invitations"] > 1000


def test_history_simulation_is_reproducible_and_reads_back(tmp_path):
    data = generate(600, seed=2)
    a, _ = simulate_history(data, campaigns=5, seed=4)
    b, _ = simulate_history(data, campaigns=5, seed=4)
    assert a.equals(b) and a.num_rows > 0
    path = tmp_path / "h.csv"
    pacsv.write_csv(a, path)
    assert read_history(path).equals(a)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("campaign_id,inviter_id,invited_at\nc,a,2024-01-01\n", "invitee_id"),
        (
            "campaign_id,inviter_id,invitee_id,invited_at\nc,a,b,2024-01-01\nc,a,,2024-01-02\n",
            "row 3, column invitee_id: is blank",
        ),
        (
            "campaign_id,inviter_id,invitee_id,invited_at,converted_at\nc,a,b,2024-01-01,later\n",
            "row 2, column converted_at: 'later' is not an ISO-8601 time",
        ),
    ],
)
def test_bad_history_files_name_row_and_column(tmp_path, text, message):
    path = tmp_path / "h.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(LoaderError, match=message):
        read_history(path)


def test_cli_learn_and_plan_with_learned_probabilities(world):
    uri, history, _, _ = world
    r = CliRunner().invoke(
        app, ["learn-probabilities", "--history", str(history), "--store", uri, "--json"]
    )
    assert r.exit_code == 0, r.output
    assert {"learned_mae", "default_mae", "campaigns"} <= set(json.loads(r.output))
    r = CliRunner().invoke(
        app,
        [
            "plan-referral",
            "--seeds",
            "5",
            "--probabilities",
            "learned",
            "--history",
            str(history),
            "--store",
            uri,
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    plan = json.loads(r.output)
    assert plan["model"]["mapping"] == "learned" and len(plan["seeds"]) == 5
    r = CliRunner().invoke(
        app, ["plan-referral", "--seeds", "5", "--probabilities", "learned", "--store", uri]
    )
    assert r.exit_code == 1 and "--history" in r.output
