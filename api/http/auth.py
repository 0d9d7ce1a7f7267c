"""API keys and roles: who may call, and what they may see.

Keys come from settings (``GUANXI_API_KEYS`` = ``role:key,role:key``). Roles are ordered:
``viewer`` (PII masked, no exports) < ``operator`` (+ exports and campaign planning) <
``admin`` (+ unmasked PII). A missing or unknown key is 401, a known key without the role an
endpoint needs is 403.

Each operation states who may call it as data: the dependency that authenticates the caller
carries an `Access` (`grants`), the app copies it into the OpenAPI document as
``x-guanxi-access``, and the access test calls every operation with every role against it.
A route whose dependencies carry no `Access` is caught by that test.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from fastapi import HTTPException, Request
from fastapi.security import APIKeyHeader

ROLE_RANK = {"viewer": 0, "operator": 1, "admin": 2}
#: The OpenAPI extension each operation's `Access` is documented under.
ACCESS_EXTENSION = "x-guanxi-access"
#: The documented role of an operation that needs no key.
PUBLIC = "public"
_ACCESS_ATTR = "__guanxi_access__"

api_key_header = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description="API key; its role (viewer, operator, admin) comes from GUANXI_API_KEYS",
)


@dataclass(frozen=True)
class Caller:
    """The authenticated caller of one request."""

    role: str

    @property
    def unmasked(self) -> bool:
        """Only admins see name, phone and id_number in clear."""
        return self.role == "admin"

    def has_role(self, role: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[role]


@dataclass(frozen=True)
class Access:
    """Who may call an operation.

    Attributes
    ----------
    role
        The least role needed; None for an operation that needs no key (``/health``).
    action
        What a stronger role is needed for, as the 403 message names it.
    when
        Stronger roles for some query values: ``{"format": {"csv": "operator"}}`` makes a
        CSV export need an operator key while the JSON page of the same operation does not.
    """

    role: str | None
    action: str = "this operation"
    when: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def role_for(self, query: Iterable[tuple[str, str]] = ()) -> str | None:
        """The least role a request with these query parameters (name, value) needs.

        Every value of a repeated parameter counts, so ``?format=json&format=csv`` needs what
        ``?format=csv`` needs whichever value the endpoint ends up reading.
        """
        needed = self.role
        for param, value in query:
            stronger = self.when.get(param, {}).get(value)
            if stronger is not None and (needed is None or ROLE_RANK[stronger] > ROLE_RANK[needed]):
                needed = stronger
        return needed

    def as_openapi(self) -> dict[str, Any]:
        """The ``x-guanxi-access`` value: role (``public`` when no key is needed), and per
        query value the stronger roles."""
        out: dict[str, Any] = {"role": self.role or PUBLIC}
        if self.when:
            out["when"] = {p: dict(v) for p, v in self.when.items()}
        return out


_F = TypeVar("_F", bound=Callable[..., Any])


def grants(access: Access) -> Callable[[_F], _F]:
    """Mark a dependency as the one that enforces `access` (read back by `access_of`)."""

    def mark(fn: _F) -> _F:
        setattr(fn, _ACCESS_ATTR, access)
        return fn

    return mark


def access_of(call: Callable[..., Any] | None) -> Access | None:
    """The `Access` a dependency enforces, or None for one that does not check keys."""
    return getattr(call, _ACCESS_ATTR, None)


class KeyRing:
    """The configured keys, checked in constant time.

    Every configured key is compared with ``hmac.compare_digest`` on every request, without
    stopping at the first match, so the response time does not tell which key prefix is
    right or how many keys exist before the matching one.
    """

    def __init__(self, keys: dict[str, str]) -> None:
        self._keys = [(k.encode(), role) for k, role in keys.items()]

    def __len__(self) -> int:
        return len(self._keys)

    def role_for(self, presented: str | None) -> str | None:
        if not presented:
            return None
        try:
            candidate = presented.encode()
        except UnicodeEncodeError:
            return None
        found = None
        for key, role in self._keys:
            if hmac.compare_digest(candidate, key):
                found = role
        return found


def authenticate(request: Request, presented: str | None) -> Caller:
    """The caller behind the X-API-Key header.

    Raises
    ------
    HTTPException
        401 when the key is missing or unknown (also when no keys are configured).
    """
    ring: KeyRing = request.app.state.guanxi.keyring
    role = ring.role_for(presented)
    if role is None:
        if not presented:
            detail = "missing X-API-Key header"
        elif not len(ring):
            detail = "no API keys are configured; set GUANXI_API_KEYS"
        else:
            detail = "unknown API key"
        raise HTTPException(status_code=401, detail=detail, headers={"WWW-Authenticate": "ApiKey"})
    return Caller(role=role)


def authorize(caller: Caller, role: str, *, action: str) -> None:
    """Raise 403 unless the caller has at least `role`.

    Raises
    ------
    HTTPException
        403 naming the role needed.
    """
    if not caller.has_role(role):
        raise HTTPException(
            status_code=403,
            detail=f"{action} needs the {role} role; this key has the {caller.role} role",
        )


def check_access(request: Request, presented: str | None, access: Access) -> Caller:
    """Authenticate the caller and check the role `access` asks for this request.

    Raises
    ------
    HTTPException
        401 for a missing or unknown key, 403 for a role below the one needed.
    """
    caller = authenticate(request, presented)
    needed = access.role_for(request.query_params.multi_items())
    if needed is not None:
        authorize(caller, needed, action=access.action)
    return caller
