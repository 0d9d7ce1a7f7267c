"""API keys and roles: who may call, and what they may see.

Keys come from settings (``GUANXI_API_KEYS`` = ``role:key,role:key``). Roles are ordered:
``viewer`` (PII masked, no exports) < ``operator`` (+ exports and campaign planning) <
``admin`` (+ unmasked PII). A missing or unknown key is 401, a known key without the role an
endpoint needs is 403.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from fastapi import HTTPException, Request
from fastapi.security import APIKeyHeader

ROLE_RANK = {"viewer": 0, "operator": 1, "admin": 2}

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
