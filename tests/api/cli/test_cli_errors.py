"""What a CLI user sees when guanxi itself fails: one line, a log file, exit code 2."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from typer.testing import CliRunner

from api import usecases
from api.cli import app


def _boom(*args, **kwargs):
    raise RuntimeError("unexpected state\nsecond line")


def test_unexpected_error_is_one_line_with_a_log(tmp_path, monkeypatch, analysed_store_uri):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.setattr(usecases, "tag_coverage", _boom)
    res = CliRunner().invoke(app, ["tags", "--store", analysed_store_uri])
    assert res.exit_code == 2
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, res.stderr
    line = lines[0]
    assert "Traceback" not in res.stderr
    assert "`guanxi tags`" in line and analysed_store_uri in line
    assert "RuntimeError: unexpected state second line" in line
    logs = list((tmp_path / "state" / "guanxi" / "logs").glob("crash-*.log"))
    assert len(logs) == 1 and str(logs[0]) in line
    text = logs[0].read_text()
    assert text.startswith("guanxi tags\n") and "Traceback" in text and "_boom" in text


def test_a_guanxi_error_still_exits_1(tmp_path):
    res = CliRunner().invoke(app, ["customer", "nobody", "--store", f"duckdb:///{tmp_path}/x.db"])
    assert res.exit_code == 1
    assert "Traceback" not in res.stderr


def test_entry_point_catches_what_escapes_a_command(tmp_path):
    # `main()` is the console script; a failure outside any command's handler (here, while
    # typer builds the command) still ends in one line and exit code 2
    code = textwrap.dedent(
        """
        import sys
        import api.cli as cli
        def boom(*a, **k):
            raise KeyError("inside typer")
        cli.app.__call__ = None
        type(cli.app).__call__ = boom
        sys.argv = ["guanxi", "tags", "--json"]
        cli.main()
        """
    )
    env = {"XDG_STATE_HOME": str(tmp_path / "state"), "PATH": "/usr/bin:/bin"}
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert res.returncode == 2, res.stderr
    assert "Traceback" not in res.stderr
    assert "`guanxi tags`" in res.stderr and "KeyError" in res.stderr
    assert list((tmp_path / "state" / "guanxi" / "logs").glob("crash-*.log"))


def test_usage_errors_keep_exit_code_2_and_write_no_log(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    res = CliRunner().invoke(app, ["generate", "--format", "xml", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "--format" in res.output
    assert not (tmp_path / "state").exists()
