"""The tag catalog with coverage, a tag's holders, and tag changes between runs."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from api.http.deps import CallerDep, Limit100, OffsetDep, ReadsDep
from api.http.schemas import (
    TagList,
    TagMemberList,
    TagQualityReport,
    TagsDiffPublic,
    error_responses,
)
from api.usecases.tag_health import DEFAULT_MOVE_SHARE, tag_quality_report

router = APIRouter(prefix="/tags", tags=["tags"])

RunQuery = Annotated[str, Query(min_length=1, max_length=200)]


@router.get(
    "",
    response_model=TagList,
    summary="The catalog of the current run with coverage",
    responses=error_responses(401, 404, 503),
)
def tags(reads: ReadsDep, caller: CallerDep):
    """Every tag the current run was evaluated with: names, category, rule, the number of
    customers holding it and their share of all customers."""
    return reads.tags()


@router.get(
    "/diff",
    response_model=TagsDiffPublic,
    summary="Tags gained and lost between two runs",
    responses=error_responses(
        401,
        404,
        422,
        503,
        examples={404: {"error": "run_not_found", "detail": "run 'r1' not found", "run_id": "r1"}},
    ),
)
def tags_diff(
    reads: ReadsDep,
    caller: CallerDep,
    limit: Limit100,
    offset: OffsetDep,
    from_run: Annotated[
        str, Query(alias="from", min_length=1, max_length=200, description="the earlier run")
    ],
    to_run: Annotated[
        str, Query(alias="to", min_length=1, max_length=200, description="the later run")
    ],
):
    """Per-tag totals and a page of per-customer changes (gained: in `to`, not in `from`)."""
    return reads.tags_diff(from_run, to_run, limit=limit, offset=offset)


@router.get(
    "/quality",
    response_model=TagQualityReport,
    summary="Coverage, overlap and stability of every tag of a run",
    responses=error_responses(401, 404, 422, 503),
)
def tags_quality(
    reads: ReadsDep,
    caller: CallerDep,
    run_id: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
    move_share: Annotated[
        float, Query(gt=0, le=10, description="flag a count that moved by more than this share")
    ] = DEFAULT_MOVE_SHARE,
):
    """Per tag: its coverage, the same-category tag whose holders overlap most, the share of
    the previous run's holders it kept, and a flag where its count moved more than
    `move_share`. Tag ids and counts only (no customer data)."""
    return tag_quality_report(reads.store, run_id=run_id, move_share=move_share)


@router.get(
    "/{tag_id}/customers",
    response_model=TagMemberList,
    summary="Holders of one tag, highest score first",
    responses=error_responses(
        401,
        404,
        422,
        503,
        examples={
            404: {
                "error": "tag_not_found",
                "detail": "tag 'nope' not found in the catalog of the current run",
                "tag_id": "nope",
            }
        },
    ),
)
def tag_customers(
    reads: ReadsDep,
    caller: CallerDep,
    limit: Limit100,
    offset: OffsetDep,
    tag_id: Annotated[str, Path(min_length=1, max_length=200, examples=["opinion_leader"])],
):
    """A page of the customers holding `tag_id`, each with its score and reason."""
    return reads.tag_members(tag_id, limit=limit, offset=offset)
