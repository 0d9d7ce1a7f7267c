"""The one Settings object: everything an operator can set, from the environment or ``.env``.

Only this module reads the environment. The edges (`api.cli`, `api.http`, `api.bench`) take
a `Settings` and hand plain values down: `Neo4jSettings.store_options` builds the
`graph.store.Neo4jOptions` a store is opened with, the local Neo4j server gets its heap,
page cache and password as arguments, and `graph.failpoints` is armed with a name. Lower
layers never look at the environment, so a test builds ``Settings(...)`` and sees exactly
what it passed.

Variable names are the ones operators already set: ``GUANXI_*`` for guanxi's own settings,
``NEO4J_USER`` / ``NEO4J_PASSWORD`` / ``NEO4J_DATABASE`` / ``NEO4J_URI`` as Neo4j's tools
spell them, and ``XDG_STATE_HOME`` for where crash logs go. The README's settings table
lists every one.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from graph.errors import ConfigError
from graph.store import DEFAULT_STORE_URI, Neo4jOptions
from graph.store.options import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_GRAPH_TAGS,
    DEFAULT_HISTORY_RUNS,
    DEFAULT_READ_CHUNK,
)

__all__ = [
    "ROLES",
    "Neo4jSettings",
    "Settings",
    "child_environment",
    "get_settings",
    "overridden_settings",
]

ROLES = ("viewer", "operator", "admin")

#: Passwords refused in prod: the defaults of Neo4j and of tutorials.
_PLACEHOLDER_PASSWORDS = ("", "neo4j", "password", "changeme")

# Blank variables count as unset, as `os.environ.get(...) or default` did before: an
# ``export NEO4J_DATABASE=`` left in a shell profile must not become a database named "".
_CONFIG = {"env_file": ".env", "extra": "ignore", "env_ignore_empty": True}


def _comma_list(v: object) -> object:
    """``a, b`` from the environment, or a list in code: stripped names, blanks dropped."""
    if isinstance(v, str):
        v = v.split(",")
    if isinstance(v, list | tuple):
        return tuple(str(c).strip() for c in v if str(c).strip())
    return v


class Neo4jSettings(BaseSettings):
    """The Neo4j store's section: credentials, batch sizes, and the local dev server's memory.

    Each field has its own variable (no prefix), because these names predate the section and
    operators' scripts export them.
    """

    model_config = SettingsConfigDict(**_CONFIG, populate_by_name=True)

    uri: str | None = Field(
        default=None,
        validation_alias="NEO4J_URI",
        description="a running Neo4j the Neo4j benchmarks use instead of starting one",
    )
    user: str = Field(default="neo4j", validation_alias="NEO4J_USER")
    password: SecretStr | None = Field(default=None, validation_alias="NEO4J_PASSWORD")
    database: str | None = Field(default=None, validation_alias="NEO4J_DATABASE")
    batch_size: int = Field(
        default=DEFAULT_BATCH_SIZE, gt=0, validation_alias="GUANXI_NEO4J_BATCH_SIZE"
    )
    history_runs: int = Field(
        default=DEFAULT_HISTORY_RUNS, gt=0, validation_alias="GUANXI_NEO4J_HISTORY_RUNS"
    )
    read_chunk: int = Field(
        default=DEFAULT_READ_CHUNK, gt=0, validation_alias="GUANXI_NEO4J_READ_CHUNK"
    )
    heap: str = Field(default="2g", validation_alias="GUANXI_NEO4J_HEAP")
    pagecache: str = Field(default="auto", validation_alias="GUANXI_NEO4J_PAGECACHE")
    facts: Path | None = Field(
        default=None,
        validation_alias="GUANXI_NEO4J_FACTS",
        description="DuckDB file of transactions, events and tag assignments beside the graph "
        "(default: guanxi/facts.duckdb in the server's data directory)",
    )
    graph_tags: Annotated[tuple[str, ...], NoDecode] = Field(
        default=DEFAULT_GRAPH_TAGS,
        validation_alias="GUANXI_NEO4J_GRAPH_TAGS",
        description="tag categories written as HAS_TAG relationships (every tag: c.tags)",
    )

    @field_validator("graph_tags", mode="before")
    @classmethod
    def _split_categories(cls, v: object) -> object:
        return _comma_list(v)

    def password_value(self) -> str | None:
        """The password in clear, for the driver; None when unset."""
        return self.password.get_secret_value() if self.password else None

    def store_options(self) -> Neo4jOptions:
        """The options `graph.store.open_store` opens a Neo4j store with."""
        return Neo4jOptions(
            user=self.user,
            password=self.password_value(),
            database=self.database,
            batch_size=self.batch_size,
            history_runs=self.history_runs,
            read_chunk=self.read_chunk,
            facts=None if self.facts is None else str(self.facts),
            graph_tags=self.graph_tags,
        )


class Settings(BaseSettings):
    """Everything an operator can set without touching code.

    ``api_keys`` uses the format ``role:key,role:key`` (env ``GUANXI_API_KEYS``); roles are
    viewer (PII masked, no exports), operator (+ exports and campaign planning) and admin
    (+ unmasked PII). ``pii_columns`` (env ``GUANXI_PII_COLUMNS``, a comma list) declares
    input columns besides name, phone and id_number as PII: they are masked like those on
    every surface below admin (`api.usecases.masking`).

    Examples
    --------
    >>> Settings(store=" duckdb:///x.duckdb ", pii_columns="email, ,passport").pii_columns
    ('email', 'passport')
    """

    model_config = SettingsConfigDict(**_CONFIG, env_prefix="GUANXI_", populate_by_name=True)

    store: str = Field(default=DEFAULT_STORE_URI, description="store URI")
    rules_path: str | None = Field(
        default=None, description="tag file (TOML) `guanxi analyze` uses without --rules"
    )
    seed: int = Field(default=42, description="seed `guanxi analyze` uses without --seed")
    threads: int | None = Field(
        default=None,
        ge=1,
        description="processes `guanxi analyze` computes metric families on (default: all cores)",
    )
    env: Literal["dev", "prod"] = "dev"
    api_keys: SecretStr | None = None
    pii_columns: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), description="extra input columns masked like name, phone and id_number"
    )
    log_dir: Path | None = Field(default=None, description="where crash logs go")
    state_home: Path | None = Field(
        default=None,
        validation_alias="XDG_STATE_HOME",
        description="the user's state folder; crash logs go to guanxi/logs in it",
    )
    failpoint: str | None = Field(
        default=None, description="crash-safety tests: the `graph.failpoints` point to die at"
    )
    spark_driver_budget_mb: int = Field(
        default=2048,
        ge=0,
        description=(
            "spark engine: driver memory the single-machine stages (Leiden, betweenness, "
            "constraint, 2-hop reach on igraph) may use; a larger graph runs without them"
        ),
    )
    spark_cache: Path | None = Field(
        default=None,
        description="spark engine: where the GraphX jar is built (default ~/.cache/guanxi/spark)",
    )
    spark_graphx_jar: Path | None = Field(
        default=None, description="spark engine: a prebuilt GraphX jar instead of building one"
    )
    neo4j: Neo4jSettings = Field(default_factory=Neo4jSettings)

    @field_validator("store")
    @classmethod
    def _strip(cls, v: str) -> str:
        return v.strip()

    @field_validator("pii_columns", mode="before")
    @classmethod
    def _split_columns(cls, v: object) -> object:
        return _comma_list(v)

    @model_validator(mode="after")
    def _prod_needs_password(self) -> Settings:
        on_neo4j = self.env == "prod" and self.store.startswith(("bolt", "neo4j"))
        if on_neo4j and (self.neo4j.password_value() or "") in _PLACEHOLDER_PASSWORDS:
            raise ValueError("NEO4J_PASSWORD must be set to a real password in prod")
        return self

    @property
    def crash_log_dir(self) -> Path:
        """Where a crash's traceback goes: ``log_dir``, else the XDG state folder's."""
        if self.log_dir is not None:
            return self.log_dir
        state = self.state_home or Path.home() / ".local" / "state"
        return state / "guanxi" / "logs"

    @property
    def spark_cache_dir(self) -> Path:
        """Where the spark engine builds its GraphX jar: ``spark_cache`` or the user's cache."""
        return self.spark_cache or Path.home() / ".cache" / "guanxi" / "spark"

    def parsed_api_keys(self) -> dict[str, str]:
        """key -> role. Raises ValueError on a malformed entry or unknown role."""
        out: dict[str, str] = {}
        if self.api_keys is None:
            return out
        for item in self.api_keys.get_secret_value().split(","):
            item = item.strip()
            if not item:
                continue
            role, sep, key = item.partition(":")
            if not sep or not key or role not in ROLES:
                raise ValueError(
                    "GUANXI_API_KEYS must look like 'viewer:KEY,operator:KEY,admin:KEY'; "
                    f"bad entry starting {item[:12]!r}"
                )
            out[key] = role
        return out


#: Values a command put on top of the environment for the rest of the process (`guanxi serve
#: --store`); uvicorn builds the app from `get_settings()` with no way to pass arguments.
_overrides: dict[str, object] = {}


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings of this process, read once from the environment and ``.env``.

    One process serves one configuration, so there is nothing to key the cache by; the CLI
    clears it at the start of each command so that every invocation (in-process test runs
    included) sees the environment it was started with.

    Raises
    ------
    ConfigError
        A variable holds a value its setting refuses; the message names the variable.
    """
    try:
        return Settings(**_overrides)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from exc


@contextmanager
def overridden_settings(**values: object) -> Iterator[Settings]:
    """`get_settings()` answers with `values` on top of the environment inside the block.

    For a command that hands control to code which reads the settings itself: ``guanxi serve
    --store URI`` while uvicorn calls the app factory. The previous state comes back on exit,
    so an in-process caller (a test's runner) is not left with the override.

    Raises
    ------
    ConfigError
        A value is refused.
    """
    saved = dict(_overrides)
    _overrides.update(values)
    get_settings.cache_clear()
    try:
        yield get_settings()
    finally:
        _overrides.clear()
        _overrides.update(saved)
        get_settings.cache_clear()


def child_environment(**values: str) -> dict[str, str]:
    """This process's environment with `values` on top, for a child process configured by it.

    The benchmarks start servers as an operator would, through their environment; reading
    ours to pass it on stays here with every other read of it.
    """
    return {**os.environ, **values}


def _describe(exc: ValidationError) -> str:
    """One clause per refused value: the variable, the value and why, so it can be fixed."""
    clauses = []
    for e in exc.errors():
        msg = e["msg"].removeprefix("Value error, ")
        if not e["loc"]:  # a check across settings: its message names the variables
            clauses.append(msg)
            continue
        name = _variable(str(e["loc"][0]))
        value = "" if "PASSWORD" in name or "KEYS" in name else f" {e.get('input')!r}"
        clauses.append(f"{name}{value}: {msg}")
    return "; ".join(clauses) + "; correct the environment variable or .env"


def _variable(loc: str) -> str:
    """The environment variable of a validation error's location (a field name or an alias)."""
    field = Settings.model_fields.get(loc)
    if field is not None and field.validation_alias is None:
        return f"GUANXI_{loc.upper()}"
    return loc
