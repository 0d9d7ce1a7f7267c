"""Annotated dependency aliases the routes declare: the read model, settings, the caller.

The caller dependencies are where access is enforced: `CallerDep` (any key), `requires`
(a role, possibly stronger for some query values) and `public` (no key). Each carries its
`api.auth.Access`, which the app documents per operation and the access test checks.
"""

from collections.abc import Callable, Mapping
from typing import Annotated

from fastapi import Depends, Query, Request, Security

from api.http.auth import Access, Caller, api_key_header, check_access, grants
from api.http.readmodel.reads import Reads
from api.http.schemas import MAX_LIMIT, MAX_OFFSET
from api.settings import Settings


def get_reads(request: Request) -> Reads:
    return request.app.state.guanxi.reads


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.guanxi.settings


VIEWER = Access("viewer")


@grants(VIEWER)
def get_caller(request: Request, key: str | None = Security(api_key_header)) -> Caller:
    """Any known key (viewer or above); 401 otherwise."""
    return check_access(request, key, VIEWER)


def requires(
    role: str, *, action: str, when: Mapping[str, Mapping[str, str]] | None = None
) -> Callable[..., Caller]:
    """A caller dependency needing `role`, or the stronger role `when` names for a query value.

    Examples
    --------
    ``Depends(requires("viewer", action="CSV export", when={"format": {"csv": "operator"}}))``
    lets any key read the JSON page and only operators and admins export.
    """
    access = Access(role, action=action, when=dict(when or {}))

    @grants(access)
    def caller(request: Request, key: str | None = Security(api_key_header)) -> Caller:
        return check_access(request, key, access)

    return caller


@grants(Access(None))
def public() -> None:
    """Declares an operation that needs no key (``/health``), so that is a decision too."""


_LIMIT_HELP = f"page size; values above {MAX_LIMIT} are capped to {MAX_LIMIT}"


def _limit20(
    limit: Annotated[int, Query(ge=1, le=2**31, description=_LIMIT_HELP, examples=[20])] = 20,
) -> int:
    return min(limit, MAX_LIMIT)


def _limit100(
    limit: Annotated[int, Query(ge=1, le=2**31, description=_LIMIT_HELP, examples=[100])] = 100,
) -> int:
    return min(limit, MAX_LIMIT)


def _offset(
    offset: Annotated[
        int, Query(ge=0, le=MAX_OFFSET, description="items to skip", examples=[0])
    ] = 0,
) -> int:
    return offset


ReadsDep = Annotated[Reads, Depends(get_reads)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
CallerDep = Annotated[Caller, Depends(get_caller)]
OffsetDep = Annotated[int, Depends(_offset)]
Limit20 = Annotated[int, Depends(_limit20)]
Limit100 = Annotated[int, Depends(_limit100)]
