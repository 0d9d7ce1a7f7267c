"""GET /health: which store is served and which run is current; no key needed."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import JSONResponse

from api.http.deps import ReadsDep, public
from api.http.schemas import HealthPublic, error_responses

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=HealthPublic,
    summary="Liveness, the store served and the current run",
    responses=error_responses(503),
    dependencies=[Depends(public)],
)
def health(reads: ReadsDep):
    """200 with the store URI (credentials removed) and the current run; 503 when the store
    cannot be reached. ``run_id`` is null until `guanxi analyze` has run."""
    body = reads.health()
    if body["status"] != "ok":
        return JSONResponse(status_code=503, content=HealthPublic(**body).model_dump())
    return body
