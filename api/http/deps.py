"""Annotated dependency aliases the routes declare: the read model, settings, the caller.

The caller dependencies are where access is enforced: `CallerDep` (any key), `requires`
(a role, possibly stronger for some query values) and `public` (no key). Each carries its
`api.auth.Access`, which the app documents per operation and the access test checks.
`on_event_loop` turns any of these dependencies into an ``async def`` twin for the endpoints
with a latency target (`api.http.routes.hot`).
"""

import functools
from collections.abc import Callable, Coroutine, Mapping
from typing import Annotated, Any, TypeVar

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


_T = TypeVar("_T")


def on_event_loop(dependency: Callable[..., _T]) -> Callable[..., Coroutine[Any, Any, _T]]:
    """`dependency` as an ``async def`` with the same parameters and the same `Access` mark.

    FastAPI runs a plain ``def`` dependency in its thread pool, one thread round trip per
    dependency before the endpoint starts; an ``async def`` one runs on the event loop. Only
    dependencies that do no I/O (these: reading app state, checking a key against the
    in-memory key ring, capping a number) may be wrapped, since they then block the loop.
    FastAPI reads the parameters, and so the OpenAPI document, through ``__wrapped__``.
    """

    @functools.wraps(dependency)
    async def twin(*args: Any, **kwargs: Any) -> _T:
        return dependency(*args, **kwargs)

    return twin


_LIMIT_HELP = f"page size; values above {MAX_LIMIT} are capped to {MAX_LIMIT}"


def limit20(
    limit: Annotated[int, Query(ge=1, le=2**31, description=_LIMIT_HELP, examples=[20])] = 20,
) -> int:
    return min(limit, MAX_LIMIT)


def limit100(
    limit: Annotated[int, Query(ge=1, le=2**31, description=_LIMIT_HELP, examples=[100])] = 100,
) -> int:
    return min(limit, MAX_LIMIT)


def page_offset(
    offset: Annotated[
        int, Query(ge=0, le=MAX_OFFSET, description="items to skip", examples=[0])
    ] = 0,
) -> int:
    return offset


ReadsDep = Annotated[Reads, Depends(get_reads)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
CallerDep = Annotated[Caller, Depends(get_caller)]
OffsetDep = Annotated[int, Depends(page_offset)]
Limit20 = Annotated[int, Depends(limit20)]
Limit100 = Annotated[int, Depends(limit100)]
