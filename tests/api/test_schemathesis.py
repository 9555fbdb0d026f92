"""Property-based run over the OpenAPI schema: every route, authenticated with a key of
the role it needs; no 5xx and no response that breaks the documented schema.

Driven through hypothesis directly (schemathesis' pytest plugin does not load on
pytest 9), one strategy per operation."""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from tests.api.conftest import Env

ROLE_BY_PREFIX = (
    ("/v1/children", "coordinator"),
    ("/v1/reservations", "coordinator"),
    ("/v1/review", "coordinator"),
    ("/v1/placements", "coordinator"),
    ("/v1/families", "consultant"),
    ("/v1/institutions", "consultant"),
    ("/v1/capacity", "consultant"),
    ("/v1/batches", "planner"),
    ("/v1/audit", "admin"),
    ("/v1/keys", "admin"),
    ("/v1/policies", "planner"),
    ("/healthz", "admin"),
)
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


def role_for(path: str) -> str:
    return next(role for prefix, role in ROLE_BY_PREFIX if path.startswith(prefix))


def test_every_operation_against_the_schema(env: Env) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", env.client.app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20
    for operation in operations:
        run_operation(operation, env.auth(role_for(operation.path)))


def run_operation(operation: schemathesis.APIOperation, headers: dict[str, str]) -> None:
    @settings(
        max_examples=15, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(case=operation.as_strategy())
    def check(case: schemathesis.Case) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    check()
