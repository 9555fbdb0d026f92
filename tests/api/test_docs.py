"""/docs works offline: Swagger UI's files come from this server (the installed
swagger-ui-bundle package), never from a CDN, and every file the page names answers."""

from __future__ import annotations

import re

from tests.api.conftest import Env


def _references(html: str) -> list[str]:
    return re.findall(r'<(?:script|link)\b[^>]*\b(?:src|href)="([^"]*)"', html)


def test_docs_page_names_no_remote_file_and_every_file_it_names_answers(env: Env) -> None:
    page = env.client.get("/docs")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "SwaggerUIBundle(" in html
    refs = _references(html)
    assert len(refs) >= 3, refs  # stylesheet, icon, script
    assert not [r for r in refs if r.startswith(("http://", "https://", "//"))], refs
    assert "http://" not in html and "https://" not in html
    for ref in refs:
        asset = env.client.get(ref)
        assert asset.status_code == 200, ref
        assert asset.content, ref
    js = next(r for r in refs if r.endswith(".js"))
    assert "SwaggerUIBundle" in env.client.get(js).text
    spec = re.search(r"url: '([^']+)'", html)
    assert spec and env.client.get(spec.group(1)).json()["info"]["title"] == "placement"


def test_no_redoc_page_loads_from_a_cdn(env: Env) -> None:
    redoc = env.client.get("/redoc")
    assert redoc.status_code == 404
    assert "cdn" not in redoc.text.lower()


def test_docs_is_not_an_operation_of_the_api(env: Env) -> None:
    paths = env.client.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if p.startswith(("/docs", "/redoc"))]
