"""Settings, from the environment (prefix GUANXI_) or a .env file; cached in get_settings()."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from graph.store import DEFAULT_STORE_URI

ROLES = ("viewer", "operator", "admin")


class Settings(BaseSettings):
    """Everything an operator can set without touching code.

    ``api_keys`` uses the format ``role:key,role:key`` (env ``GUANXI_API_KEYS``); roles are
    viewer (PII masked, no exports), operator (+ exports and campaign planning) and admin
    (+ unmasked PII). ``pii_columns`` (env ``GUANXI_PII_COLUMNS``, a comma list) declares
    input columns besides name, phone and id_number as PII: they are masked like those on
    every surface below admin (`api.usecases.masking`).
    """

    model_config = SettingsConfigDict(env_prefix="GUANXI_", env_file=".env", extra="ignore")

    store: str = Field(default=DEFAULT_STORE_URI, description="store URI")
    neo4j_user: str = Field(default="neo4j", validation_alias="NEO4J_USER")
    neo4j_password: SecretStr | None = Field(default=None, validation_alias="NEO4J_PASSWORD")
    rules_path: str | None = None
    seed: int = 42
    env: Literal["dev", "prod"] = "dev"
    api_keys: SecretStr | None = None
    pii_columns: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), description="extra input columns masked like name, phone and id_number"
    )

    @field_validator("store")
    @classmethod
    def _strip(cls, v: str) -> str:
        return v.strip()

    @field_validator("pii_columns", mode="before")
    @classmethod
    def _split_columns(cls, v: object) -> object:
        """``a, b`` from the environment, or a list in code: stripped names, blanks dropped."""
        if isinstance(v, str):
            v = v.split(",")
        if isinstance(v, list | tuple):
            return tuple(str(c).strip() for c in v if str(c).strip())
        return v

    @model_validator(mode="after")
    def _prod_needs_password(self) -> Settings:
        if self.env == "prod" and self.store.startswith(("bolt", "neo4j")):
            pw = self.neo4j_password.get_secret_value() if self.neo4j_password else ""
            if pw in ("", "neo4j", "password", "changeme"):
                raise ValueError("NEO4J_PASSWORD must be set to a real password in prod")
        return self

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


@lru_cache
def get_settings() -> Settings:
    return Settings()
