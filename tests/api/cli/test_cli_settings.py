"""The CLI reads its settings once per command: seed and rules defaults, failpoints, serve."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import httpx
from typer.testing import CliRunner

from api import usecases
from api.cli import app
from graph.store import open_store
from loaders.ingest import load_folder

runner = CliRunner()


def _loaded_store(tmp_path, small_csv_dir) -> str:
    uri = f"duckdb:///{tmp_path / 's.duckdb'}"
    with open_store(uri) as st:
        load_folder(st, small_csv_dir, quarantine_dir=tmp_path / "q")
    return uri


def _latest_seed(uri: str) -> int:
    with open_store(uri, read_only=True) as st:
        return usecases.latest_run(st).params["seed"]


def test_analyze_takes_seed_from_settings_unless_given(tmp_path, small_csv_dir, monkeypatch):
    uri = _loaded_store(tmp_path, small_csv_dir)
    monkeypatch.setenv("GUANXI_SEED", "7")
    res = runner.invoke(app, ["analyze", "--store", uri, "--json"])
    assert res.exit_code == 0, res.output
    assert _latest_seed(uri) == 7
    res = runner.invoke(app, ["analyze", "--store", uri, "--seed", "9", "--json"])
    assert res.exit_code == 0, res.output
    assert _latest_seed(uri) == 9


def test_analyze_takes_rules_from_settings(tmp_path, monkeypatch):
    # a rules file missing a new tag's names fails the command before any run is written
    rules = tmp_path / "rules.toml"
    rules.write_text('[[tag]]\nid = "x"\n', encoding="utf-8")
    monkeypatch.setenv("GUANXI_RULES_PATH", str(rules))
    res = runner.invoke(app, ["analyze", "--store", f"duckdb:///{tmp_path / 'e.duckdb'}"])
    assert res.exit_code == 1
    assert "error: tag 'x', field 'name_zh'" in res.stderr, res.stderr


def test_a_refused_setting_is_one_line_and_exit_1(tmp_path, monkeypatch):
    monkeypatch.setenv("GUANXI_NEO4J_BATCH_SIZE", "many")
    res = runner.invoke(app, ["tags", "--store", f"duckdb:///{tmp_path / 'x.duckdb'}"])
    assert res.exit_code == 1
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "GUANXI_NEO4J_BATCH_SIZE 'many'" in lines[0], res.stderr


def test_an_unknown_failpoint_is_refused_before_any_work(tmp_path, monkeypatch):
    monkeypatch.setenv("GUANXI_FAILPOINT", "load.nowhere")
    res = runner.invoke(app, ["generate", "--customers", "50", "--out", str(tmp_path / "d")])
    assert res.exit_code == 1 and "'load.nowhere' is no failpoint" in res.stderr
    assert not (tmp_path / "d").exists()


def test_crash_log_goes_to_guanxi_log_dir(tmp_path, monkeypatch, analysed_store_uri):
    def boom(*args, **kwargs):
        raise RuntimeError("unexpected")

    monkeypatch.setenv("GUANXI_LOG_DIR", str(tmp_path / "logs"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setattr(usecases, "tag_coverage", boom)
    res = runner.invoke(app, ["tags", "--store", analysed_store_uri])
    assert res.exit_code == 2
    logs = list((tmp_path / "logs").glob("crash-*.log"))
    assert len(logs) == 1 and str(logs[0]) in res.stderr
    assert not (tmp_path / "state").exists()


def test_the_cli_does_not_import_the_http_package():
    code = "import sys, api.cli; print(sorted(m for m in sys.modules if m.startswith('api.')))"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    loaded = json.loads(res.stdout.replace("'", '"'))
    assert "api.cli.app" in loaded
    assert not [m for m in loaded if m.startswith(("api.http", "api.bench"))]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_starts_the_api_over_the_store_given(analysed_store_uri, tmp_path):
    port, uri = _free_port(), analysed_store_uri
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "GUANXI_API_KEYS": "viewer:k-one"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--port", str(port), "--store", uri],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=5)
                break
            except httpx.TransportError:
                assert proc.poll() is None, proc.stderr.read()
                assert time.monotonic() < deadline, "guanxi serve did not answer in 60 s"
                time.sleep(0.3)
        assert health.status_code == 200, health.text
        runs = httpx.get(
            f"http://127.0.0.1:{port}/runs", headers={"X-API-Key": "k-one"}, timeout=30
        )
        assert runs.status_code == 200 and runs.json()["count"] == 1
        anonymous = httpx.get(f"http://127.0.0.1:{port}/runs", timeout=30)
        assert anonymous.status_code == 401
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_serve_refuses_malformed_keys_in_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("GUANXI_API_KEYS", "root:k")
    res = runner.invoke(app, ["serve", "--store", f"duckdb:///{tmp_path / 'x.duckdb'}"])
    assert res.exit_code == 1
    assert "GUANXI_API_KEYS must look like" in res.stderr


def test_store_defaults_to_the_settings_store(analysed_store_uri, monkeypatch):
    # no --store: the command opens the store GUANXI_STORE names, read through the settings
    monkeypatch.setenv("GUANXI_STORE", analysed_store_uri)
    res = CliRunner().invoke(app, ["influencers", "--top", "3", "--json"])
    assert res.exit_code == 0, res.output
    with usecases.open_default(analysed_store_uri) as st:
        _, expected = usecases.influencers(st, limit=3)
    assert [r["customer_id"] for r in json.loads(res.stdout)] == list(expected["customer_id"])
