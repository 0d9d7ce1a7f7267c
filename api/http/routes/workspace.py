"""Reads the web workspace needs that no other endpoint gives: the caller's role, the
community map, a customer's referral tree and metric percentiles, and the tags of the
customers a drawn network shows.

Same keys, roles and masking as every other endpoint; none of these carries an attribute.
"""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field, StringConstraints

from api.http.deps import CallerDep, ReadsDep
from api.http.readmodel.reads import Reads
from api.http.readmodel.workspace import (
    MAP_COMMUNITIES,
    WorkspaceReads,
    customer_percentiles,
    customer_tags,
)
from api.http.routes.customers import CUSTOMER_ID_MAX, CustomerIdPath
from api.http.schemas import error_responses

log = logging.getLogger("guanxi.api")
router = APIRouter(tags=["workspace"])
_NOT_IN_RUN = {
    404: {
        "error": "customer_not_found",
        "detail": "customer 'C9999999' not found",
        "customer_id": "C9999999",
    }
}
_workspace = WorkspaceReads()


class CallerPublic(BaseModel):
    """What the key in use may do, so a page shows only what the API would allow."""

    model_config = {
        "json_schema_extra": {
            "examples": [{"role": "viewer", "unmasked": False, "can_export": False}]
        }
    }
    role: str
    unmasked: bool
    can_export: bool


class MapNodePublic(BaseModel):
    community_id: str
    size: int | None = None
    leader_id: str | None = None
    internal_weight: float | None = None
    external_weight: float | None = None


class MapLinkPublic(BaseModel):
    source: str
    target: str
    ties: int


class CommunityMapPublic(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "run_id": "r20261123T180548-fa6b95",
                    "nodes": [
                        {"community_id": "c0000", "size": 72, "leader_id": "C0000400"},
                        {"community_id": "c0001", "size": 56, "leader_id": "C0000008"},
                    ],
                    "links": [{"source": "c0000", "target": "c0001", "ties": 41}],
                    "total_communities": 18,
                }
            ]
        }
    }
    run_id: str
    nodes: list[MapNodePublic]
    links: list[MapLinkPublic]
    total_communities: int


class ReferralEdgePublic(BaseModel):
    referrer: str
    referred: str
    level: int


class ReferralTreePublic(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "customer_id": "C0000009",
                    "run_id": "r20261123T180548-fa6b95",
                    "edges": [{"referrer": "C0000009", "referred": "C0000100", "level": 1}],
                    "truncated": False,
                    "max_depth": 6,
                    "max_nodes": 500,
                }
            ]
        }
    }
    customer_id: str
    run_id: str
    edges: list[ReferralEdgePublic]
    truncated: bool
    max_depth: int
    max_nodes: int


class PercentilesPublic(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "customer_id": "C0000009",
                    "run_id": "r20261123T180548-fa6b95",
                    "percentiles": {"pagerank": 97.2, "degree": 88.0},
                }
            ]
        }
    }
    customer_id: str
    run_id: str
    percentiles: dict[str, float | None]


CustomerId = Annotated[str, StringConstraints(min_length=1, max_length=CUSTOMER_ID_MAX)]


class CustomerTagsRequest(BaseModel):
    customer_ids: list[CustomerId] = Field(
        min_length=1, max_length=1000, examples=[["C0000009", "C0000100"]]
    )


class CustomerTagsItem(BaseModel):
    customer_id: str
    tags: list[str]


class CustomerTagsPublic(BaseModel):
    model_config = {
        "json_schema_extra": {
            "examples": [
                {
                    "data": [{"customer_id": "C0000009", "tags": ["bridge", "opinion_leader"]}],
                    "count": 1,
                    "run_id": "r20261123T180548-fa6b95",
                }
            ]
        }
    }
    data: list[CustomerTagsItem]
    count: int
    run_id: str


def warm(reads: Reads) -> None:
    """Read the current run's referral relations and cross-community ties (app start-up), so
    the first community map or referral tree does not pay for the pass over every relation."""
    try:
        serving = reads.refresher.current()
        if serving is not None:
            _workspace.warm(reads.store, serving)
    except Exception:
        log.exception("warming the web workspace's reads failed; the first request will retry")


@router.get(
    "/me",
    response_model=CallerPublic,
    summary="The role of the key in use and what it allows",
    responses=error_responses(401),
)
def me(caller: CallerDep):
    """The web workspace asks this once per page to hide what the key may not do (the API
    refuses it anyway)."""
    return {
        "role": caller.role,
        "unmasked": caller.unmasked,
        "can_export": caller.has_role("operator"),
    }


@router.get(
    "/community-map",
    response_model=CommunityMapPublic,
    summary="The largest communities and the customer ties between them",
    responses=error_responses(401, 404, 503),
)
def community_map(
    reads: ReadsDep,
    caller: CallerDep,
    limit: Annotated[
        int, Query(ge=1, le=1000, description="communities, largest first", examples=[50])
    ] = MAP_COMMUNITIES,
):
    """Communities of the current run (largest first) with size, leader and weights, and per
    pair of them the number of customer pairs with a relation across (a tie counts once,
    whatever its type, direction or repetitions)."""
    serving = reads.refresher.served_or_404()
    return _workspace.community_map(reads.store, serving, limit=limit)


@router.post(
    "/customers/tags",
    response_model=CustomerTagsPublic,
    summary="The tag ids of up to 1,000 customers in the current run",
    responses=error_responses(401, 404, 422, 503),
)
def tags_of_customers(body: CustomerTagsRequest, reads: ReadsDep, caller: CallerDep):
    """Catalog tags per customer, for marking social tags on a drawn network; unknown ids
    are left out."""
    serving = reads.refresher.served_or_404()
    return customer_tags(reads.store, serving, list(body.customer_ids))


@router.get(
    "/customers/{customer_id}/referral-tree",
    response_model=ReferralTreePublic,
    summary="The customers this customer referred, and whom they referred, as a tree",
    responses=error_responses(401, 404, 422, 503, examples=_NOT_IN_RUN),
)
def referral_tree(reads: ReadsDep, caller: CallerDep, customer_id: CustomerIdPath):
    """Referral relations walked breadth first from the customer (at most `max_depth` levels
    and `max_nodes` customers; `truncated` says whether the walk stopped early). A customer
    referred twice within the tree appears once, under the first referrer met."""
    serving = reads.refresher.served_or_404()
    return _workspace.referral_tree(reads.store, serving, customer_id)


@router.get(
    "/customers/{customer_id}/percentiles",
    response_model=PercentilesPublic,
    summary="Each metric's percentile of the customer among the run's customers",
    responses=error_responses(401, 404, 422, 503, examples=_NOT_IN_RUN),
)
def percentiles(reads: ReadsDep, caller: CallerDep, customer_id: CustomerIdPath):
    """Share of the run's customers with a strictly lower value, in percent: the definition
    of ``pct(x)`` in tag rules, so these are the percentiles tag reasons quote."""
    serving = reads.refresher.served_or_404()
    return customer_percentiles(serving, customer_id)
