"""The Cypher statement registry: every statement the project sends to Neo4j, by name.

Relationship types and labels cannot be Cypher parameters; they are interpolated into
statement templates only from the fixed whitelists below (:data:`REL_TYPES`,
:data:`TAG_LABELS`), checked in :meth:`Statement.render`, which raises
:class:`~graph.errors.UnsafeIdentifier` otherwise. Everything else is a ``$parameter``, and
each statement carries example parameters, so that users can print the whole list
(``guanxi neo4j statements``) and CI lints every statement with Neo4j's own parser.

The registry is built on first use (:func:`registry`, cached), not filled as a side effect
of importing a module: importing the store costs nothing, and a duplicate name fails the
first caller, not every ``import``. The statements themselves live by concept in
`ingest_statements` (schema, loads, table reads), `run_statements` (write-back and the reads
of runs) and `gds_statements` (the Graph Data Science benchmark).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from graph.errors import UnsafeIdentifier
from graph.model import RELATION_TYPES

__all__ = [
    "REL_TYPES",
    "TAG_LABELS",
    "ChunkRead",
    "Registry",
    "Statement",
    "all_statements",
    "registry",
]

#: Relationship type of each relation type: the only relationship types a template may take.
REL_TYPES: MappingProxyType[str, str] = MappingProxyType({t: t.upper() for t in RELATION_TYPES})

#: Tag ids written back as node labels (latest run only), for styling in Neo4j Browser.
TAG_LABELS: MappingProxyType[str, str] = MappingProxyType(
    {
        "opinion_leader": "OpinionLeader",
        "bridge": "Bridge",
        "community_core": "CommunityCore",
        "high_influence": "HighInfluence",
        "super_referrer": "SuperReferrer",
        "socially_active": "SociallyActive",
        "socially_isolated": "SociallyIsolated",
        "fraud_risk": "FraudRisk",
        "credit_risk": "CreditRisk",
        "churn_risk": "ChurnRisk",
        "complaint_risk": "ComplaintRisk",
    }
)

_IDENT = re.compile(r"^[A-Z][A-Za-z_]*$")


@dataclass(frozen=True)
class Statement:
    """One Cypher statement the store sends, defined once and executed from the registry.

    ``cypher`` may hold the placeholder ``__REL__`` (a relationship type from
    :data:`REL_TYPES`) or ``__LABEL__`` (a label from :data:`TAG_LABELS`); nothing else is
    ever interpolated, everything else is a ``$parameter``. ``autocommit`` marks a statement
    that must run outside a managed transaction (``CALL {...} IN TRANSACTIONS``).
    """

    name: str
    cypher: str
    parameters: dict[str, Any] = field(default_factory=dict)
    autocommit: bool = False

    @property
    def placeholder(self) -> str | None:
        for p in ("__REL__", "__LABEL__"):
            if p in self.cypher:
                return p
        return None

    def render(self, value: str | None = None) -> str:
        """The Cypher text, with the whitelisted type or label filled in.

        Labels and relationship types cannot be parameters, so this check is what keeps
        injected text out of the query; it raises rather than asserts so that it also holds
        under ``python -O``.

        Raises
        ------
        UnsafeIdentifier
            `value` is not on the placeholder's whitelist (or given to a statement without one).
        """
        ph = self.placeholder
        if ph is None:
            if value is not None:
                raise UnsafeIdentifier(value, where=f"statement {self.name} (takes no label)")
            return self.cypher
        allowed = tuple(REL_TYPES.values() if ph == "__REL__" else TAG_LABELS.values())
        if not (isinstance(value, str) and value in allowed and _IDENT.match(value)):
            raise UnsafeIdentifier(value, where=f"statement {self.name}", allowed=allowed)
        return self.cypher.replace(ph, value)

    def variants(self) -> list[tuple[str, str]]:
        """(name, cypher) for every whitelisted value (one entry when not a template)."""
        ph = self.placeholder
        if ph is None:
            return [(self.name, self.cypher)]
        values = REL_TYPES.values() if ph == "__REL__" else TAG_LABELS.values()
        return [(f"{self.name}[{v}]", self.render(v)) for v in values]


@dataclass(frozen=True)
class ChunkRead:
    """A chunked table read: ``bounded`` for [$lo, $hi), ``last`` for [$lo, end).

    Why two statements: ``x.k >= $lo AND ($hi IS NULL OR x.k < $hi)`` is planned as an index
    seek from $lo to the END of the index followed by a filter, so every chunk scanned the
    rest of the index (quadratic: a chunk read grew with the table). With both bounds in the
    predicate the seek stops at $hi.
    """

    bounded: Statement
    last: Statement

    def for_bounds(self, hi: str | None) -> Statement:
        return self.last if hi is None else self.bounded


class Registry:
    """Statements by name; a name is given once (a second one raises)."""

    def __init__(self) -> None:
        self._by_name: dict[str, Statement] = {}

    def add(self, name: str, cypher: str, /, *, autocommit: bool = False, **params: Any) -> None:
        """Register one statement (whitespace collapsed) under a new `name`.

        Raises
        ------
        UnsafeIdentifier
            `name` is already taken.
        """
        if name in self._by_name:
            raise UnsafeIdentifier(name, where="statement registry (name already taken)")
        self._by_name[name] = Statement(name, " ".join(cypher.split()), params, autocommit)

    def __getitem__(self, name: str) -> Statement:
        return self._by_name[name]

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __iter__(self) -> Iterator[Statement]:
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)

    def chunk(self, name: str) -> ChunkRead:
        """The chunked read registered as `name` (bounded) and ``name + ".last"``."""
        return ChunkRead(self[name], self[name + ".last"])


@functools.cache
def registry() -> Registry:
    """Every statement, built once on first use."""
    from graph.store.neo4j import gds_statements, ingest_statements, run_statements

    reg = Registry()
    for module in (ingest_statements, run_statements, gds_statements):
        module.register(reg)
    return reg


def stmt(name: str) -> Statement:
    """The registered statement `name` (a KeyError names a statement nobody registered)."""
    return registry()[name]


def all_statements() -> list[dict]:
    """Every Cypher statement the project can send, as ``{"name", "cypher", "parameters"}``.

    Templates are expanded for every whitelisted relationship type or label, so the list is
    exactly what can reach a server (``guanxi neo4j statements --json`` prints it).
    """
    out = []
    for s in registry():
        for name, cypher in s.variants():
            out.append({"name": name, "cypher": cypher, "parameters": dict(s.parameters)})
    return out
