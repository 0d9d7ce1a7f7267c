"""POST /segments: customers matching a tag expression; a page as JSON or all as CSV."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import StreamingResponse

from api.http.auth import Caller
from api.http.deps import Limit100, OffsetDep, ReadsDep, requires
from api.http.schemas import SegmentPublic, SegmentRequest, error_responses

router = APIRouter(tags=["segments"])
# the JSON page is for every key; the CSV export carries (masked) PII, operators and up
SegmentCallerDep = Annotated[
    Caller,
    Depends(requires("viewer", action="CSV export", when={"format": {"csv": "operator"}})),
]

_CSV_EXAMPLE = (
    "customer_id,name,phone,id_number,community_id,influence\n"
    "C0001082,王*,138****5678,310101********1234,c0000,0.93\n"
)


@router.post(
    "/segments",
    response_model=SegmentPublic,
    summary="Evaluate a tag expression: its size and a page of members, or a CSV export",
    responses={
        200: {
            "description": "JSON page, or with format=csv the whole segment as CSV",
            "content": {"text/csv": {"example": _CSV_EXAMPLE}},
        },
        **error_responses(
            401,
            403,
            404,
            422,
            503,
            examples={
                422: {
                    "error": "rule_error",
                    "detail": "position 15: expected a tag id, found end of expression",
                    "position": 15,
                }
            },
        ),
    },
)
def segments(
    body: SegmentRequest,
    reads: ReadsDep,
    caller: SegmentCallerDep,
    limit: Limit100,
    offset: OffsetDep,
    format: Annotated[
        Literal["json", "csv"],
        Query(description="csv streams every member (operator or admin only)"),
    ] = "json",
):
    """Members are customers whose tags in the run satisfy the expression (AND, OR, NOT,
    parentheses), in id order. A malformed expression is 422 with the 0-based `position`.
    The CSV export carries name, phone and id_number, masked unless the key is admin."""
    if format == "csv":
        run, chunks = reads.segment_csv(
            body.expression, run_id=body.run_id, unmasked=caller.unmasked
        )
        return StreamingResponse(
            chunks,
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="segment-{run.run_id}.csv"',
                "X-Guanxi-Run": run.run_id,
            },
        )
    return reads.segment(body.expression, run_id=body.run_id, limit=limit, offset=offset)
