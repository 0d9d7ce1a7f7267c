"""Influencer ranking and communities of the current run."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from starlette.concurrency import run_in_threadpool

from api.http.deps import CallerDep, Limit100, OffsetDep, ReadsDep
from api.http.routes import hot
from api.http.schemas import (
    CommunityDetailPublic,
    CommunityList,
    InfluencerList,
    error_responses,
)

router = APIRouter(tags=["graph"])

_COMMUNITY_404 = {
    404: {
        "error": "community_not_found",
        "detail": "community 'c9999' not found in the current run",
        "community_id": "c9999",
    }
}


@router.get(
    "/influencers",
    response_model=InfluencerList,
    summary="Customers ranked by influence",
    responses=error_responses(401, 404, 422, 503, examples=_COMMUNITY_404),
)
async def influencers(
    reads: hot.ReadsDep,
    caller: hot.CallerDep,
    limit: hot.Limit20,
    offset: hot.OffsetDep,
    community: Annotated[
        str | None,
        Query(max_length=200, description="only members of this community", examples=["c0000"]),
    ] = None,
    tag: Annotated[
        str | None,
        Query(max_length=200, description="only holders of this tag", examples=["opinion_leader"]),
    ] = None,
):
    """The current run's influence ranking, highest first, with score, community and tags.
    An unknown community or tag is 404."""
    # a page is cached as rendered JSON: served on the event loop; a new page is computed
    # in the thread pool (it may build the run's data or read the store)
    query = {"limit": limit, "offset": offset, "community_id": community, "tag_id": tag}
    body = reads.cached_influencers_json(**query)
    if body is None:
        body = await run_in_threadpool(lambda: reads.influencers_json(**query))
    return Response(content=body, media_type="application/json")


@router.get(
    "/communities",
    response_model=CommunityList,
    summary="Communities of the current run, largest first",
    responses=error_responses(401, 404, 422, 503),
)
def communities(reads: ReadsDep, caller: CallerDep, limit: Limit100, offset: OffsetDep):
    """Size, density, internal and external weight and leader of each community. Community
    ids carry no meaning across runs."""
    return reads.communities(limit=limit, offset=offset)


@router.get(
    "/communities/{community_id}",
    response_model=CommunityDetailPublic,
    summary="One community: stats, leaders and tag composition",
    responses=error_responses(401, 404, 422, 503, examples=_COMMUNITY_404),
)
def community(
    reads: ReadsDep,
    caller: CallerDep,
    community_id: Annotated[str, Path(max_length=200, examples=["c0000"])],
):
    """The community's statistics, its ten most influential members, and how many members
    hold each tag."""
    return reads.community(community_id)
