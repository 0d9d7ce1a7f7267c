"""The page routes of the web workspace and its static files, read from the installed package.

Every page is the same kind of shell: navigation, the key form and the page's skeleton, with
labels in Chinese (the JavaScript switches them to English). Nothing in a shell depends on the
store or the caller, so the routes need no key and cannot leak data; what a page shows comes
from the JSON API with the key the user typed.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import version

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, PackageLoader, select_autoescape

from api.http.deps import public

#: Where the static files are mounted.
STATIC_PATH = "/web/static"
#: The pages run only their own scripts and call only this origin: an id or tag name that
#: slipped into markup could not load or send anything elsewhere. Styles may be inline
#: because ECharts positions its tooltips with style attributes.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; "
    "base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
_HEADERS = {
    "Cache-Control": "no-cache",
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@dataclass(frozen=True)
class Page:
    """One page: its path, its template and script (both named `name`), its nav label key."""

    name: str
    path: str


PAGES = (
    Page("overview", "/"),
    Page("influencers", "/web/influencers"),
    Page("customer", "/web/customer"),
    Page("segments", "/web/segments"),
    Page("community", "/web/community"),
    Page("campaign", "/web/campaign"),
    Page("diff", "/web/diff"),
)

_env = Environment(
    loader=PackageLoader("api.http.web", "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)
# the pages are HTML, not API operations: left out of the OpenAPI document
router = APIRouter(include_in_schema=False, dependencies=[Depends(public)])


def static_files() -> StaticFiles:
    """The package's ``static/`` folder (scripts, stylesheet, vendored ECharts)."""
    return StaticFiles(packages=[("api.http.web", "static")])


def render_page(page: Page) -> str:
    """The shell of `page`; the same bytes for every caller."""
    template = _env.get_template(f"{page.name}.html")
    return template.render(page=page, pages=PAGES, static=STATIC_PATH, version=version("guanxi"))


def _endpoint(page: Page):
    html = render_page(page)

    def show(request: Request) -> HTMLResponse:
        return HTMLResponse(html, headers=_HEADERS)

    show.__name__ = f"web_{page.name}"
    return show


for _page in PAGES:
    router.add_api_route(_page.path, _endpoint(_page), methods=["GET"], response_class=HTMLResponse)

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "PAGES",
    "STATIC_PATH",
    "Page",
    "render_page",
    "router",
    "static_files",
]
