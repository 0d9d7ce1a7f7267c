"""The web workspace's pages and static files: HTML at /, every page answers, no customer data
in any HTML, JavaScript or stylesheet, and the files come from the installed package."""

from __future__ import annotations

import fnmatch
import tomllib
from importlib.resources import files
from pathlib import Path

import pytest

from api.http.web.routes import PAGES, STATIC_PATH
from graph.store import open_store
from tests.api.conftest import KEYS, key

ROOT = Path(__file__).resolve().parents[3]
WEB = files("api.http.web")


def _package_files() -> list[str]:
    """Every file of the api.http.web package besides its Python modules, relative to it."""
    base = Path(str(WEB))
    return sorted(
        str(p.relative_to(base))
        for p in base.rglob("*")
        if p.is_file() and p.suffix not in {".py", ".pyc"} and "__pycache__" not in p.parts
    )


@pytest.fixture(scope="module")
def secrets(api_store_uri) -> list[str]:
    """Customer ids, names, phones and id numbers of the served store."""
    with open_store(api_store_uri, read_only=True) as store:
        c = store.read_table("customers", ["customer_id", "name", "phone", "id_number"])
    values = {str(v) for col in c.columns for v in col.to_pylist() if v}
    return sorted(v for v in values if len(v) >= 2)


def test_root_is_the_html_workspace_asking_for_a_key(client):
    r = client.get("/")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    html = r.text
    assert html.lstrip().startswith("<!doctype html>")
    assert 'id="login-form"' in html and 'type="password"' in html
    assert f'src="{STATIC_PATH}/vendor/echarts.min.js' in html
    assert f'src="{STATIC_PATH}/overview.js' in html
    # only this origin's scripts run, and nothing is sent elsewhere
    csp = r.headers["content-security-policy"]
    assert "script-src 'self';" in csp and "connect-src 'self'" in csp
    assert "<script>" not in html and "onclick=" not in html


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_every_page_answers_the_same_shell_to_anyone(client, page):
    anonymous = client.get(page.path)
    assert anonymous.status_code == 200, page
    assert f'data-page="{page.name}"' in anonymous.text
    assert f"{STATIC_PATH}/{page.name}.js" in anonymous.text
    for role in KEYS:  # the shell does not depend on the caller
        assert client.get(page.path, headers=key(role)).content == anonymous.content
    for other in PAGES:
        assert f'href="{other.path}"' in anonymous.text


def test_no_customer_data_in_any_page_script_or_stylesheet(client, secrets):
    assert len(secrets) > 2000
    served = {p.path: client.get(p.path, headers=key("admin")).text for p in PAGES}
    for name in _package_files():
        if name.startswith("static/"):
            r = client.get(f"{STATIC_PATH}/{name.removeprefix('static/')}")
            assert r.status_code == 200, name
            served[name] = r.text
    assert any(n.endswith("echarts.min.js") for n in served)
    leaks = {where: s for where, text in served.items() for s in secrets if s in text}
    assert not leaks


def test_static_files_are_the_packages_and_all_packaged(client):
    names = _package_files()
    assert "static/vendor/echarts.min.js" in names and "static/vendor/LICENSE" in names
    for page in PAGES:
        assert f"templates/{page.name}.html" in names and f"static/{page.name}.js" in names
    for name in names:
        if name.startswith("static/"):
            r = client.get(f"{STATIC_PATH}/{name.removeprefix('static/')}")
            assert r.content == WEB.joinpath(name).read_bytes(), name
    # every file is matched by the wheel's package data, so `pip install` ships it
    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    globs = config["tool"]["setuptools"]["package-data"]["api.http.web"]
    unpackaged = [n for n in names if not any(fnmatch.fnmatch(n, g) for g in globs)]
    assert not unpackaged, f"add to [tool.setuptools.package-data] api.http.web: {unpackaged}"
    assert client.get(f"{STATIC_PATH}/../routes.py").status_code == 404


def test_the_pages_open_no_data_without_a_key(client):
    for path in ("/influencers", "/runs", "/me", "/community-map"):
        assert client.get(path).status_code == 401, path
    assert "/" not in client.get("/openapi.json").json()["paths"]
