"""One customer: profile with reasons, and the ego network for a graph visualisation."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from starlette.concurrency import run_in_threadpool

from api.http.deps import CallerDep, Limit100, ReadsDep
from api.http.routes import hot
from api.http.schemas import CustomerPublic, NetworkPublic, error_responses

router = APIRouter(prefix="/customers", tags=["customers"])

#: Long enough for the 1,000-character ids the loader accepts (a 200 cap made such
#: customers unreachable: 422 for an id that exists).
CUSTOMER_ID_MAX = 1000
CustomerIdPath = Annotated[
    str,
    Path(
        min_length=1,
        max_length=CUSTOMER_ID_MAX,
        description="customer id (percent-encoded)",
        examples=["C0000009"],
    ),
]
_CUSTOMER_404 = {
    404: {
        "error": "customer_not_found",
        "detail": "customer 'C9999999' not found",
        "customer_id": "C9999999",
    }
}


@router.get(
    "/{customer_id}",
    response_model=CustomerPublic,
    summary="A customer's attributes, metrics and tags with reasons",
    responses=error_responses(401, 404, 422, 503, examples=_CUSTOMER_404),
)
async def customer(reads: hot.ReadsDep, caller: hot.CallerDep, customer_id: CustomerIdPath):
    """Attributes (name, phone and id_number masked unless the key is admin), the current
    run's metrics and community, and every tag with its score and reason."""
    # rendered by the read model (response-model validation would cost more than the
    # lookup) and on the event loop when it is all in memory; else in the thread pool
    body = reads.customer_json_from_memory(customer_id, unmasked=caller.unmasked)
    if body is None:
        body = await run_in_threadpool(reads.customer_json, customer_id, unmasked=caller.unmasked)
    return Response(content=body, media_type="application/json")


@router.get(
    "/{customer_id}/network",
    response_model=NetworkPublic,
    summary="The customer's ego network as nodes and edges",
    responses=error_responses(401, 404, 422, 503, examples=_CUSTOMER_404),
)
def network(
    reads: ReadsDep,
    caller: CallerDep,
    customer_id: CustomerIdPath,
    limit: Limit100,
    hops: Annotated[int, Query(ge=1, le=2, description="1 or 2", examples=[1])] = 1,
):
    """Neighbours within `hops`, strongest first (at most `limit` besides the centre), and the
    relations among them with type, weight and the communities at both ends."""
    return reads.network(customer_id, hops=hops, limit=limit)
