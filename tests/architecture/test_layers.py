"""The layering that docs/architecture.md draws, checked on the source: route files run no
SQL, web pages never import routes, the core imports no web or database library, and no
module grows past 600 lines."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("models", "geo", "matcher", "api", "benchmarks")
SQL = re.compile(
    r"(?<![.\w])(select|update|delete|insert|text)\("
    r"|session\.(execute|scalars?|get|get_one|query|add|add_all|delete|flush|refresh)\b"
)


def _modules(*packages: str) -> list[Path]:
    return sorted(
        p
        for package in packages
        for p in (ROOT / package).rglob("*.py")
        if "migrations" not in p.parts
    )


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            names |= {f"{node.module}.{a.name}" for a in node.names}
    return names


def _defines_routes(path: Path) -> bool:
    text = path.read_text(encoding="utf-8")
    return bool(re.search(r"@(router|app)\.(get|post|put|patch|delete)\(", text))


def test_route_files_run_no_sql() -> None:
    route_files = [p for p in _modules("api") if _defines_routes(p)]
    assert len(route_files) >= 10  # the routers and the web pages
    offenders = {
        str(p.relative_to(ROOT)): SQL.findall(p.read_text(encoding="utf-8"))
        for p in route_files
        if SQL.search(p.read_text(encoding="utf-8"))
        or any(i.startswith("sqlalchemy") for i in _imports(p))
    }
    assert offenders == {}


def test_web_pages_never_import_routes() -> None:
    offenders = {
        str(p.relative_to(ROOT)): sorted(i for i in _imports(p) if "routers" in i)
        for p in _modules("api/web")
    }
    assert {k: v for k, v in offenders.items() if v} == {}


@pytest.mark.parametrize(
    ("package", "forbidden"),
    [
        ("models", ("sqlalchemy", "fastapi", "ortools", "api", "matcher", "geo", "starlette")),
        ("geo", ("sqlalchemy", "fastapi", "api", "matcher")),
        ("matcher", ("sqlalchemy", "fastapi", "api", "starlette")),
        ("api/services", ("fastapi", "starlette", "api.http", "api.web", "api.cli")),
        ("api/db", ("fastapi", "api.services", "api.http", "api.web", "api.cli")),
    ],
)
def test_dependencies_point_down(package: str, forbidden: tuple[str, ...]) -> None:
    offenders = {
        str(p.relative_to(ROOT)): sorted(
            i for i in _imports(p) if any(i == f or i.startswith(f + ".") for f in forbidden)
        )
        for p in _modules(package)
    }
    assert {k: v for k, v in offenders.items() if v} == {}


def test_no_module_has_more_than_600_lines() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in _modules(*PACKAGES)
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 600
    }
    assert long == {}


def test_readme_is_the_manual_and_docs_hold_the_long_form() -> None:
    assert (ROOT / "README.md").stat().st_size <= 16_000
    docs = sorted(p.name for p in (ROOT / "docs").glob("*.md"))
    assert "architecture.md" in docs and len(docs) >= 3
