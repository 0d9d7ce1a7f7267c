"""The one Settings object: every variable operators set, its default, and what it refuses."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from api.settings import (
    Neo4jSettings,
    Settings,
    child_environment,
    get_settings,
    overridden_settings,
)
from graph.errors import ConfigError
from graph.store import Neo4jOptions
from graph.store.options import DEFAULT_BATCH_SIZE, DEFAULT_HISTORY_RUNS, DEFAULT_READ_CHUNK

#: Every variable the settings read: (variable, value set, where it lands, value read).
VARIABLES = [
    ("GUANXI_STORE", " bolt://db:7687 ", "store", "bolt://db:7687"),
    ("GUANXI_RULES_PATH", "/etc/guanxi/rules.toml", "rules_path", "/etc/guanxi/rules.toml"),
    ("GUANXI_SEED", "7", "seed", 7),
    ("GUANXI_ENV", "prod", "env", "prod"),
    ("GUANXI_PII_COLUMNS", "email, ,passport", "pii_columns", ("email", "passport")),
    ("GUANXI_LOG_DIR", "/var/log/guanxi", "log_dir", Path("/var/log/guanxi")),
    ("XDG_STATE_HOME", "/home/u/.state", "state_home", Path("/home/u/.state")),
    ("GUANXI_FAILPOINT", "load.customers.done", "failpoint", "load.customers.done"),
    ("NEO4J_URI", "bolt://other:7687", "neo4j.uri", "bolt://other:7687"),
    ("NEO4J_USER", "analyst", "neo4j.user", "analyst"),
    ("NEO4J_DATABASE", "guanxi", "neo4j.database", "guanxi"),
    ("GUANXI_NEO4J_BATCH_SIZE", "500", "neo4j.batch_size", 500),
    ("GUANXI_NEO4J_HISTORY_RUNS", "5", "neo4j.history_runs", 5),
    ("GUANXI_NEO4J_READ_CHUNK", "250", "neo4j.read_chunk", 250),
    ("GUANXI_NEO4J_HEAP", "1g", "neo4j.heap", "1g"),
    ("GUANXI_NEO4J_PAGECACHE", "256m", "neo4j.pagecache", "256m"),
]


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    """No variable the settings read is set, and no .env file is in reach."""
    for name, *_ in VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name in ("NEO4J_PASSWORD", "GUANXI_API_KEYS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    yield monkeypatch
    get_settings.cache_clear()


def _field(s: Settings, where: str):
    section, _, name = where.rpartition(".")
    return getattr(s.neo4j if section else s, name)


@pytest.mark.parametrize(("variable", "raw", "where", "expected"), VARIABLES)
def test_each_variable_lands_in_its_setting(clean_env, variable, raw, where, expected):
    if variable == "GUANXI_ENV":
        clean_env.setenv("NEO4J_PASSWORD", "a-real-secret")
    clean_env.setenv(variable, raw)
    assert _field(Settings(), where) == expected


def test_defaults_when_nothing_is_set(clean_env):
    s = Settings()
    assert s.store == "duckdb:///./guanxi.duckdb"
    assert (s.rules_path, s.seed, s.env, s.api_keys, s.pii_columns) == (None, 42, "dev", None, ())
    assert (s.log_dir, s.state_home, s.failpoint) == (None, None, None)
    assert s.neo4j.store_options() == Neo4jOptions(
        user="neo4j",
        password=None,
        database=None,
        batch_size=DEFAULT_BATCH_SIZE,
        history_runs=DEFAULT_HISTORY_RUNS,
        read_chunk=DEFAULT_READ_CHUNK,
    )
    assert (s.neo4j.uri, s.neo4j.heap, s.neo4j.pagecache) == (None, "2g", "auto")


def test_blank_variables_count_as_unset(clean_env):
    # `export NEO4J_DATABASE=` must not name a database "", nor a blank batch size fail
    for name in ("NEO4J_DATABASE", "NEO4J_USER", "GUANXI_NEO4J_BATCH_SIZE", "XDG_STATE_HOME"):
        clean_env.setenv(name, "")
    s = Settings()
    assert s.neo4j.database is None and s.neo4j.user == "neo4j"
    assert s.neo4j.batch_size == DEFAULT_BATCH_SIZE and s.state_home is None


def test_store_options_carry_the_neo4j_section(clean_env):
    clean_env.setenv("NEO4J_USER", "analyst")
    clean_env.setenv("NEO4J_PASSWORD", "s3cret-pass")
    clean_env.setenv("NEO4J_DATABASE", "graph")
    clean_env.setenv("GUANXI_NEO4J_BATCH_SIZE", "100")
    clean_env.setenv("GUANXI_NEO4J_HISTORY_RUNS", "2")
    clean_env.setenv("GUANXI_NEO4J_READ_CHUNK", "50")
    opts = Settings().neo4j.store_options()
    assert opts == Neo4jOptions("analyst", "s3cret-pass", "graph", 100, 2, 50)
    assert "s3cret-pass" not in repr(Settings().neo4j)


def test_values_passed_in_code_win_over_the_environment(clean_env):
    clean_env.setenv("GUANXI_STORE", "bolt://env:7687")
    clean_env.setenv("NEO4J_USER", "from-env")
    clean_env.setenv("XDG_STATE_HOME", "/from/env")
    s = Settings(
        store="duckdb:///t.duckdb",
        state_home="/given",
        neo4j=Neo4jSettings(user="given", batch_size=9),
    )
    assert s.store == "duckdb:///t.duckdb" and s.state_home == Path("/given")
    assert (s.neo4j.user, s.neo4j.batch_size) == ("given", 9)


def test_crash_log_folder(clean_env, tmp_path):
    home_state = Path.home() / ".local" / "state" / "guanxi" / "logs"
    assert Settings().crash_log_dir == home_state
    assert Settings(state_home=tmp_path).crash_log_dir == tmp_path / "guanxi" / "logs"
    given = tmp_path / "logs-here"
    assert Settings(state_home=tmp_path, log_dir=given).crash_log_dir == given


@pytest.mark.parametrize("password", [None, "neo4j", "password", "changeme"])
def test_prod_refuses_a_placeholder_neo4j_password(clean_env, password):
    if password is not None:
        clean_env.setenv("NEO4J_PASSWORD", password)
    clean_env.setenv("GUANXI_ENV", "prod")
    clean_env.setenv("GUANXI_STORE", "bolt://db:7687")
    with pytest.raises(ConfigError) as info:
        get_settings()
    assert str(info.value) == (
        "NEO4J_PASSWORD must be set to a real password in prod; "
        "correct the environment variable or .env"
    )
    clean_env.setenv("GUANXI_STORE", "duckdb:///prod.duckdb")  # DuckDB needs no password
    get_settings.cache_clear()
    assert get_settings().env == "prod"


@pytest.mark.parametrize(
    ("variable", "raw", "message"),
    [
        ("GUANXI_SEED", "seven", "GUANXI_SEED 'seven': Input should be a valid integer"),
        ("GUANXI_NEO4J_BATCH_SIZE", "0", "GUANXI_NEO4J_BATCH_SIZE '0': Input should be greater"),
        ("GUANXI_ENV", "staging", "GUANXI_ENV 'staging': Input should be 'dev' or 'prod'"),
    ],
)
def test_a_refused_value_names_its_variable(clean_env, variable, raw, message):
    clean_env.setenv(variable, raw)
    with pytest.raises(ConfigError) as info:
        get_settings()
    assert str(info.value).startswith(message)
    assert str(info.value).endswith("; correct the environment variable or .env")


def test_a_refused_password_is_not_echoed(clean_env):
    clean_env.setenv("GUANXI_API_KEYS", "viewer:abc")
    clean_env.setenv("NEO4J_PASSWORD", "s3cret-pass")
    clean_env.setenv("GUANXI_NEO4J_READ_CHUNK", "-1")
    with pytest.raises(ConfigError) as info:
        get_settings()
    assert "s3cret-pass" not in str(info.value) and "GUANXI_NEO4J_READ_CHUNK '-1'" in str(
        info.value
    )


def test_get_settings_is_read_once_until_cleared(clean_env):
    clean_env.setenv("GUANXI_SEED", "1")
    first = get_settings()
    clean_env.setenv("GUANXI_SEED", "2")
    assert get_settings() is first and first.seed == 1
    get_settings.cache_clear()
    assert get_settings().seed == 2


def test_an_override_holds_inside_its_block_only(clean_env):
    clean_env.setenv("GUANXI_STORE", "duckdb:///env.duckdb")
    clean_env.setenv("GUANXI_SEED", "3")
    with overridden_settings(store="duckdb:///given.duckdb") as s:
        assert get_settings() is s
        assert (s.store, s.seed) == ("duckdb:///given.duckdb", 3)
    assert get_settings().store == "duckdb:///env.duckdb"


def test_parsed_api_keys():
    s = Settings(api_keys="viewer:k1, operator:k2,,admin:k3")
    assert s.parsed_api_keys() == {"k1": "viewer", "k2": "operator", "k3": "admin"}
    with pytest.raises(ValueError, match="bad entry starting 'root:k4'"):
        Settings(api_keys="root:k4").parsed_api_keys()


def test_a_child_environment_is_ours_with_values_on_top(clean_env):
    clean_env.setenv("GUANXI_SEED", "5")
    env = child_environment(GUANXI_STORE="duckdb:///child.duckdb", GUANXI_SEED="6")
    assert env["GUANXI_STORE"] == "duckdb:///child.duckdb" and env["GUANXI_SEED"] == "6"
    assert env["PATH"] == os.environ["PATH"]


def test_the_http_app_opens_its_store_with_its_own_settings(clean_env):
    # the environment holds a password, the app's settings none: the app's settings decide
    from fastapi.testclient import TestClient

    from api.http.app import create_app

    clean_env.setenv("NEO4J_PASSWORD", "from-the-environment")
    settings = Settings(store="bolt://127.0.0.1:1", neo4j=Neo4jSettings(password=None))
    with TestClient(create_app(settings, warm=False)) as client:
        health = client.get("/health")
    assert health.status_code == 503
    assert health.json()["detail"] == (
        "no password for Neo4j at bolt://127.0.0.1:1; set NEO4J_PASSWORD (user 'neo4j')"
    )
