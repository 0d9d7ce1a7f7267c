"""GET /runs: every analysis run, newest first, with parameters and input counts."""

from __future__ import annotations

from fastapi import APIRouter

from api.http.deps import CallerDep, ReadsDep
from api.http.schemas import RunList, error_responses

router = APIRouter(tags=["runs"])


@router.get(
    "/runs",
    response_model=RunList,
    summary="Analysis runs, newest first",
    responses=error_responses(401, 503),
)
def runs(reads: ReadsDep, caller: CallerDep):
    """Each run with the parameters it used, the input row counts and its statistics, so any
    number the API shows can be traced to the run that computed it."""
    return reads.runs()
