"""Errors raised by guanxi.

Tree::

    GuanxiError
    ├── StoreError            (is_retryable() answers for itself)
    │   ├── StoreUnavailable
    │   ├── CustomerNotFound
    │   ├── RunNotFound
    │   └── CommunityNotFound
    ├── LoaderError
    │   ├── MissingFile
    │   ├── MissingColumns
    │   └── UnreadableFile
    ├── RuleError             (a tag rule or segment expression that does not parse or check)
    ├── ConfigError
    └── UnsafeIdentifier      (a Cypher label or type not on its whitelist)

Only the edges (CLI, HTTP) translate these into exit codes and status codes.
"""

from __future__ import annotations


class GuanxiError(Exception):
    """Root of every error guanxi raises on purpose."""


class ConfigError(GuanxiError):
    """A setting or parameter has a value guanxi cannot use."""


class StoreError(GuanxiError):
    """The store failed or does not hold what was asked for."""

    def is_retryable(self) -> bool:
        return False


class StoreUnavailable(StoreError):
    """The store cannot be reached (server down, file locked, bad URI)."""

    def is_retryable(self) -> bool:
        return True


class CustomerNotFound(StoreError):
    def __init__(self, customer_id: str) -> None:
        super().__init__(f"customer {customer_id!r} not found")
        self.customer_id = customer_id


class RunNotFound(StoreError):
    def __init__(self, run_id: str | None) -> None:
        msg = (
            "no analysis run yet; run `guanxi analyze` first"
            if run_id is None
            else f"run {run_id!r} not found"
        )
        super().__init__(msg)
        self.run_id = run_id


class CommunityNotFound(StoreError):
    def __init__(self, community_id: str) -> None:
        super().__init__(f"community {community_id!r} not found in the current run")
        self.community_id = community_id


class LoaderError(GuanxiError):
    """A whole input file cannot be used; nothing is written when this is raised."""

    def __init__(self, message: str, *, path: str | None = None) -> None:
        super().__init__(message)
        self.path = path


class MissingFile(LoaderError):
    pass


class MissingColumns(LoaderError):
    def __init__(self, path: str, columns: list[str]) -> None:
        cols = ", ".join(columns)
        super().__init__(
            f"{path}: required column(s) missing: {cols}; add them to the header", path=path
        )
        self.columns = columns


class UnreadableFile(LoaderError):
    pass


class RuleError(GuanxiError):
    """A tag rule, tag file or segment expression is invalid.

    Carries the rule id (None for a segment expression) and the 0-based character
    position in the expression where the problem was found, when known.
    """

    def __init__(
        self,
        message: str,
        *,
        rule_id: str | None = None,
        position: int | None = None,
        field: str | None = None,
    ) -> None:
        where = []
        if rule_id is not None:
            where.append(f"tag {rule_id!r}")
        if field is not None:
            where.append(f"field {field!r}")
        if position is not None:
            where.append(f"position {position}")
        prefix = (", ".join(where) + ": ") if where else ""
        super().__init__(prefix + message)
        self.rule_id = rule_id
        self.position = position
        self.field = field
        self.detail = message


class UnsafeIdentifier(GuanxiError):
    """A value meant for a place where parameters cannot go (a Cypher label, a relationship type,
    a statement name) is not on its whitelist.

    Raised instead of an ``assert`` so that the check also holds under ``python -O``: an
    identifier that is not whitelisted never reaches a query text.
    """

    def __init__(self, value: object, *, where: str, allowed: tuple[str, ...] = ()) -> None:
        hint = f"use one of {', '.join(allowed)}" if allowed else "pass no value here"
        super().__init__(f"{where}: {value!r} is not a whitelisted identifier; {hint}")
        self.value = value
        self.where = where
        self.allowed = allowed
