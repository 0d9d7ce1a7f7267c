"""Dialect settings: guanxi-load.toml and the command line, checked in full before any read."""

from __future__ import annotations

import json
import shutil

import pytest
from typer.testing import CliRunner

from api.cli import app
from graph.errors import ConfigError
from graph.store import open_store
from loaders.dialect import Dialect, dialects_for, parse_config
from loaders.ingest import load_folder
from tests.loaders.dialect_corpus import ROOT

SRC = "/x/guanxi-load.toml"


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('encodng = "gbk"', "unknown key 'encodng'"),
        ('[customers]\nencodng = "gbk"', "key customers.encodng is unknown"),
        ('[accounts]\nencoding = "gbk"', "unknown key 'accounts'"),
        ('encoding = "latin-1"', "key encoding: encoding 'latin-1' is not one of"),
        ('[events]\ndelimiter = "::"', "key events.delimiter: delimiter '::' is not one of"),
        ('customers = "gbk"', "[customers] must be a table"),
        ("encoding = ", "not valid TOML"),
    ],
)
def test_bad_config_names_file_and_key(text, named) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, source=SRC)
    assert str(info.value).startswith(SRC)
    assert named in str(info.value)


def test_precedence_table_section_then_command_line_then_file_top() -> None:
    config = parse_config(
        'encoding = "big5"\ndelimiter = ";"\n[customers]\nencoding = "gbk"\n'
        '[events]\ndelimiter = "tab"',
        source=SRC,
    )
    d = dialects_for(config, encoding="utf-8")
    assert d["customers"] == Dialect("gbk", ";")
    assert d["relations"] == Dialect("utf-8", ";")
    assert d["events"] == Dialect("utf-8", "\t")
    assert dialects_for(config)["relations"] == Dialect("big5", ";")
    assert dialects_for(None)["transactions"] == Dialect("auto", ",")


def test_names_are_normalised() -> None:
    assert parse_config('encoding = "UTF_8_SIG"\ndelimiter = "TAB"', source=SRC)[""] == {
        "encoding": "utf-8-sig",
        "delimiter": "\t",
    }
    with pytest.raises(ConfigError, match="--encoding"):
        dialects_for(None, encoding="cp1252")


def test_bad_config_file_fails_the_load_before_anything_is_written(tmp_path) -> None:
    folder = tmp_path / "in"
    shutil.copytree(ROOT / "utf8", folder)
    (folder / "guanxi-load.toml").write_text('[customers]\ndelimter = "|"\n')
    with open_store(f"duckdb:///{tmp_path / 'g.duckdb'}") as store:
        with pytest.raises(ConfigError, match=r"guanxi-load.toml: key customers.delimter"):
            load_folder(store, folder, quarantine_dir=tmp_path / "q")
        assert store.counts()["customers"] == 0


def _cli(*args: str):
    return CliRunner().invoke(app, list(args))


def test_cli_options_reach_the_loader_and_the_report(tmp_path) -> None:
    uri = f"duckdb:///{tmp_path / 'g.duckdb'}"
    q = str(tmp_path / "q")
    res = _cli(
        "load", str(ROOT / "pipe"), "--store", uri, "--delimiter", "|", "--quarantine-dir", q
    )
    assert res.exit_code == 0, res.output
    assert "read customers as utf-8 (detected), '|'" in res.output
    res = _cli(
        "load",
        str(ROOT / "gbk_named"),
        "--store",
        uri,
        "--encoding",
        "gbk",
        "--json",
        "--quarantine-dir",
        q,
    )
    assert res.exit_code == 0, res.output
    dialects = json.loads(res.stdout)["dialects"]
    assert dialects["customers"] == {
        "format": "csv",
        "encoding": "gbk",
        "delimiter": ",",
        "detected": False,
    }
    assert dialects["relations"]["encoding"] == "gbk"  # the option covers every table


def test_cli_refuses_an_unknown_encoding_or_delimiter_as_usage_errors(tmp_path) -> None:
    uri = f"duckdb:///{tmp_path / 'g.duckdb'}"
    res = _cli("load", str(ROOT / "utf8"), "--store", uri, "--encoding", "latin-1")
    assert res.exit_code == 2
    assert "latin-1" in res.output
    res = _cli("load", str(ROOT / "utf8"), "--store", uri, "--delimiter", "::")
    assert res.exit_code == 2


def test_wrong_delimiter_is_named(tmp_path) -> None:
    uri = f"duckdb:///{tmp_path / 'g.duckdb'}"
    res = _cli("load", str(ROOT / "pipe"), "--store", uri)
    assert res.exit_code == 1
    assert "--delimiter '|'" in res.output
    assert "customers.csv" in res.output


def test_parquet_files_ignore_the_dialect(tmp_path) -> None:
    from loaders.generate import generate, write_dataset

    folder = tmp_path / "pq"
    write_dataset(generate(50, seed=2), folder, fmt="parquet")
    (folder / "guanxi-load.toml").write_text('encoding = "big5"\ndelimiter = "tab"\n')
    with open_store(f"duckdb:///{tmp_path / 'g.duckdb'}") as store:
        report = load_folder(store, folder, quarantine_dir=tmp_path / "q")
    assert report.quarantined == 0
    assert {d.format for d in report.dialects.values()} == {"parquet"}
    assert report.as_dict()["dialects"]["customers"] == {
        "format": "parquet",
        "encoding": None,
        "delimiter": None,
        "detected": False,
    }
