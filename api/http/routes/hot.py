"""Event-loop twins of the `api.http.deps` aliases, for the two endpoints with a latency target.

FastAPI runs every plain ``def`` dependency in its thread pool, so a request through
`api.http.deps` makes a thread round trip per dependency before the endpoint even starts (five
for `/influencers`). These are the same dependencies made ``async def`` by
`api.http.deps.on_event_loop` (they do no I/O), so they run on the event loop and declare the
same parameters and access. The hot endpoints then answer on the loop when the read model has
the answer in memory and fall back to the thread pool when it would touch the store.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from api.http.auth import Caller
from api.http.deps import get_caller, get_reads, limit20, on_event_loop, page_offset
from api.http.readmodel.reads import Reads

ReadsDep = Annotated[Reads, Depends(on_event_loop(get_reads))]
CallerDep = Annotated[Caller, Depends(on_event_loop(get_caller))]
Limit20 = Annotated[int, Depends(on_event_loop(limit20))]
OffsetDep = Annotated[int, Depends(on_event_loop(page_offset))]
