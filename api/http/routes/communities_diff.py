"""GET /communities/diff: community ids kept between two runs, their agreement and lineage.

Registered before the graph routes, so ``/communities/diff`` is this operation and not the
community named ``diff`` (community ids are ``c`` and digits).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field

from api import usecases
from api.http.deps import CallerDep, Limit100, ReadsDep
from api.http.schemas import RUN_EXAMPLE, error_responses

router = APIRouter(prefix="/communities", tags=["graph"])


class LineageEventPublic(BaseModel):
    """What became of communities between the runs: continue, split, merge, birth, death."""

    event: str = Field(examples=["split"])
    from_ids: list[str] = Field(examples=[["c0003"]])
    to_ids: list[str] = Field(examples=[["c0003", "c0121"]])
    from_sizes: list[int] = Field(examples=[[120]])
    to_sizes: list[int] = Field(examples=[[80, 41]])
    shared: int = Field(description="customers in both the from and the to communities")
    jaccard: float = Field(description="shared / customers in either")


class MovedCustomerPublic(BaseModel):
    customer_id: str
    from_community: str
    to_community: str


class CommunitiesDiffPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "from_run": "r20251201T020000-aa11bb",
                    "to_run": RUN_EXAMPLE,
                    "kept_share": 0.98,
                    "nmi": 0.99,
                    "lineage_counts": {"continue": 84, "split": 0, "merge": 0, "birth": 0},
                    "moved_count": 92,
                }
            ]
        }
    )
    from_run: str
    to_run: str
    customers_compared: int
    customers_kept: int
    customers_added: int
    customers_removed: int
    kept_share: float = Field(description="share of customers in both runs keeping their id")
    nmi: float = Field(description="normalised mutual information of the two partitions")
    communities_from: int
    communities_to: int
    lineage_source: str = Field(description="stored (run_b was matched to run_a) or computed")
    lineage_counts: dict[str, int]
    lineage: list[LineageEventPublic]
    moved: list[MovedCustomerPublic] = Field(description="a page of moved customers, by id")
    moved_count: int


RunQuery = Annotated[str, Query(min_length=1, max_length=200)]


@router.get(
    "/diff",
    response_model=CommunitiesDiffPublic,
    summary="Community ids kept between two runs, NMI and lineage",
    responses=error_responses(
        401,
        404,
        422,
        503,
        examples={404: {"error": "run_not_found", "detail": "run 'r1' not found", "run_id": "r1"}},
    ),
)
def communities_diff(
    reads: ReadsDep,
    caller: CallerDep,
    limit: Limit100,
    from_run: Annotated[str, Query(alias="from", min_length=1, max_length=200)],
    to_run: Annotated[str, Query(alias="to", min_length=1, max_length=200)],
):
    """The share of customers whose community id did not change from `from` to `to`, the
    partitions' NMI, every lineage event, and the first `limit` customers who moved (ids
    only). A run whose memberships the store no longer keeps is 404."""
    return usecases.communities_diff(reads.store, from_run, to_run, limit=limit)
