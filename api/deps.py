"""Annotated dependency aliases the routes declare: the read model, settings, the caller."""

from typing import Annotated

from fastapi import Depends, Query, Request, Security

from api.auth import Caller, api_key_header, authenticate
from api.reads import Reads
from api.schemas import MAX_LIMIT, MAX_OFFSET
from api.settings import Settings


def get_reads(request: Request) -> Reads:
    return request.app.state.guanxi.reads


def get_settings_dep(request: Request) -> Settings:
    return request.app.state.guanxi.settings


def get_caller(request: Request, key: str | None = Security(api_key_header)) -> Caller:
    """Any known key (viewer or above); 401 otherwise."""
    return authenticate(request, key)


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
