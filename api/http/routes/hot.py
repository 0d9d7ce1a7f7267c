"""Async twins of the `api.http.deps` aliases, for the two endpoints with a latency target.

FastAPI runs every plain ``def`` dependency in its thread pool, so a request through
`api.http.deps` makes a thread round trip per dependency before the endpoint even starts (five
for `/influencers`). These do no I/O, so here they are ``async def`` and run on the event
loop; the parameters they declare (and so the OpenAPI document) are the same as in
`api.http.deps`. The hot endpoints then answer on the loop when the read model has the answer in
memory and fall back to the thread pool when it would touch the store.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request, Security

from api.http.auth import Caller, api_key_header, check_access, grants
from api.http.deps import VIEWER
from api.http.readmodel.reads import Reads
from api.http.schemas import MAX_LIMIT, MAX_OFFSET

_LIMIT_HELP = f"page size; values above {MAX_LIMIT} are capped to {MAX_LIMIT}"


async def _reads(request: Request) -> Reads:
    return request.app.state.guanxi.reads


@grants(VIEWER)
async def _caller(request: Request, key: str | None = Security(api_key_header)) -> Caller:
    """Any known key (viewer or above); 401 otherwise."""
    return check_access(request, key, VIEWER)


async def _limit20(
    limit: Annotated[int, Query(ge=1, le=2**31, description=_LIMIT_HELP, examples=[20])] = 20,
) -> int:
    return min(limit, MAX_LIMIT)


async def _offset(
    offset: Annotated[
        int, Query(ge=0, le=MAX_OFFSET, description="items to skip", examples=[0])
    ] = 0,
) -> int:
    return offset


ReadsDep = Annotated[Reads, Depends(_reads)]
CallerDep = Annotated[Caller, Depends(_caller)]
Limit20 = Annotated[int, Depends(_limit20)]
OffsetDep = Annotated[int, Depends(_offset)]
