"""The HTTP API: `create_app()` builds the FastAPI app; `guanxi serve` runs it under uvicorn.

This is the edge that translates errors: not-found errors become 404, rule, loader and
configuration errors 422 (a rule error carries the `position`), an unreachable store 503,
and invalid requests 422. Every error body is ``{"error": code, "detail": sentence, ...}``
with the offending ids as extra fields. Endpoints are plain ``def``: the store is
synchronous and FastAPI runs them in its thread pool (the DuckDB store gives each thread its
own cursor).
"""

from __future__ import annotations

import logging
import re
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from functools import partial

from fastapi import APIRouter, FastAPI, Request
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from api import usecases
from api.http.auth import ACCESS_EXTENSION, Access, KeyRing, access_of
from api.http.readmodel.reads import Reads
from api.http.readmodel.run_cache import TagNotFound
from api.http.routes.campaigns import CampaignContexts
from api.settings import Settings, get_settings
from graph.errors import (
    CommunityNotFound,
    ConfigError,
    CustomerNotFound,
    GuanxiError,
    LoaderError,
    RuleError,
    RunNotFound,
    StoreUnavailable,
)
from graph.store import GraphStore

log = logging.getLogger("guanxi.api")

DESCRIPTION = """
Influencers, communities, customer profiles with tag reasons, segments and run history of a
guanxi store.

Every endpoint except `/health` needs an `X-API-Key` header. Roles: **viewer** (PII masked,
no exports), **operator** (+ CSV exports and campaign planning), **admin** (+ unmasked name,
phone and id_number). Lists travel as `{"data": [...], "count": n}`; page sizes above 1000
are capped to 1000. Errors are `{"error": code, "detail": sentence}`.
"""

_STATUS = (
    ((CustomerNotFound, RunNotFound, CommunityNotFound, TagNotFound), 404),
    ((RuleError, LoaderError, ConfigError), 422),
    ((StoreUnavailable,), 503),
)
_FIELDS = ("customer_id", "run_id", "community_id", "tag_id", "rule_id", "position", "field")
_HTTP_CODES = {
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


@dataclass
class AppState:
    """What the routes reach through `request.app.state.guanxi`."""

    settings: Settings
    keyring: KeyRing
    reads: Reads
    campaigns: CampaignContexts = field(default_factory=CampaignContexts)


def _code(exc: Exception) -> str:
    name = type(exc).__name__
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _status(exc: GuanxiError) -> int:
    for types, status in _STATUS:
        if isinstance(exc, types):
            return status
    return 500


def _guanxi_error(request: Request, exc: GuanxiError) -> JSONResponse:
    status = _status(exc)
    body: dict = {"error": _code(exc), "detail": str(exc)}
    for f in _FIELDS:
        v = getattr(exc, f, None)
        if v is not None:
            body[f] = v
    if status >= 500:
        log.error("%s %s failed: %s", request.method, request.url.path, exc)
    return JSONResponse(status_code=status, content=body)


def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    errors = [
        {
            "loc": [str(p) for p in e.get("loc", ())],
            "msg": str(e.get("msg", "")),
            "type": str(e.get("type", "")),
        }
        for e in exc.errors()
    ]
    detail = "; ".join(f"{'.'.join(e['loc'])}: {e['msg']}" for e in errors) or "invalid request"
    return JSONResponse(
        status_code=422, content={"error": "invalid_request", "detail": detail, "errors": errors}
    )


def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    return JSONResponse(
        status_code=exc.status_code,
        content={"error": code, "detail": detail},
        headers=getattr(exc, "headers", None),
    )


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("%s %s failed", request.method, request.url.path)
    return JSONResponse(
        status_code=500, content={"error": "internal_error", "detail": "internal error"}
    )


def _accesses(dependant: Dependant) -> list[Access]:
    found = []
    for dep in dependant.dependencies:
        access = access_of(dep.call)
        if access is not None:
            found.append(access)
        found.extend(_accesses(dep))
    return found


def route_access(route: APIRoute) -> Access | None:
    """The `Access` a route's dependencies enforce; None when none of them checks keys.

    Raises
    ------
    ValueError
        Two dependencies of the route enforce different accesses: which one applies would
        depend on their order, so the route must declare one.
    """
    found: list[Access] = []
    for access in _accesses(route.dependant):
        if access not in found:
            found.append(access)
    if len(found) > 1:
        raise ValueError(f"{route.path} declares more than one access: {found}")
    return found[0] if found else None


def _document_access(router: APIRouter) -> None:
    """Copy each route's `Access` into its OpenAPI operation as ``x-guanxi-access``.

    A route without one is left undocumented on purpose: the access test fails on it. The
    routers are module-level, so this writes the same value whichever app includes them.
    """
    for route in router.routes:
        if isinstance(route, APIRoute):
            access = route_access(route)
            if access is not None:
                extra = dict(route.openapi_extra or {})
                extra[ACCESS_EXTENSION] = access.as_openapi()
                route.openapi_extra = extra


def create_app(
    settings: Settings | None = None,
    *,
    store: GraphStore | None = None,
    warm: bool = True,
) -> FastAPI:
    """Build the API over the store `settings.store` names.

    Parameters
    ----------
    settings
        Default: `get_settings()` (environment and .env).
    store
        An already-open store to serve instead of opening `settings.store` (tests,
        benchmarks); the app does not close it.
    warm
        Fill the current run's caches in a background thread at start-up, so the first
        requests do not pay for it.

    Raises
    ------
    ConfigError
        ``GUANXI_API_KEYS`` is malformed.

    Notes
    -----
    The store is opened on the first request that needs it (read-only for DuckDB), so the
    app starts, and `/health` answers 503, even when the store is missing or locked.
    """
    settings = settings or get_settings()
    try:
        keys = settings.parsed_api_keys()
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc
    reads = Reads(
        settings.store,
        store=store,
        # this app's settings, not the process's: its Neo4j section opens the store
        open_store=partial(usecases.open_configured_store, read_only=True, settings=settings),
        pii_columns=settings.pii_columns,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if warm:

            def warm_all() -> None:
                try:
                    reads.warm()
                    workspace.warm(reads)  # the web workspace's community map, referral trees
                    reads.warm_neighbours()  # ego networks from memory
                    reads.warm_diff()  # and its run diff page (the two latest runs)
                except Exception:
                    log.exception("reading ahead failed; the first requests will read instead")
                finally:
                    reads.warming = False

            reads.warming = True

            reads.refresher.background(warm_all, "guanxi-warm")
        yield
        reads.close()

    from importlib.metadata import version

    from api.http.routes import (
        campaigns,
        communities_diff,
        customers,
        graph,
        health,
        runs,
        segments,
        tags,
        workspace,
    )
    from api.http.web import routes as web

    app = FastAPI(
        title="guanxi",
        version=version("guanxi"),
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.guanxi = AppState(settings=settings, keyring=KeyRing(keys), reads=reads)
    app.add_exception_handler(GuanxiError, _guanxi_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
    # communities_diff before graph: /communities/diff is not the community "diff"
    routers = (health, communities_diff, graph, customers, tags, segments, runs, campaigns)
    for module in (*routers, workspace):
        _document_access(module.router)
        app.include_router(module.router)
    # the web workspace at / : HTML shells and static files, no data without a key
    app.include_router(web.router)
    app.mount(web.STATIC_PATH, web.static_files(), name="web-static")
    return app


def create_app_from_settings() -> FastAPI:
    """The app over the process's settings, for ``uvicorn --factory`` (`guanxi serve`).

    Raises
    ------
    ConfigError
        A setting is refused, or ``GUANXI_API_KEYS`` is malformed.
    """
    return create_app(get_settings())


__all__ = ["create_app", "create_app_from_settings"]
