"""Schemathesis fuzzes the live API on loopback with a valid token: valid and invalid
input for every operation, bounded (72 examples in all, a deadline each). No answer may
be a 5xx, and every answer must match the OpenAPI schema (status, content type, body)."""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from ragengine.models import ApiTokenKind

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

OPERATIONS = 9
EXAMPLES_PER_OPERATION_AND_MODE = 4  # 9 operations × 2 modes × 4 = 72 requests
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def test_fuzzing_the_live_api_finds_no_server_error_and_no_schema_mismatch(
    live_server, issue, handbook, embedder
):
    issued = issue(
        kind=ApiTokenKind.SERVICE,
        sets=[handbook],
        scopes=["ask", "documents", "reports", "evaluation"],
        rate_limit="100000/min",
    )
    raw = httpx.get(
        f"{live_server.url}/api/v1/schema/",
        headers={"Accept": "application/vnd.oai.openapi+json"},
    ).json()
    schema = schemathesis.openapi.from_dict(raw)
    headers = {"Authorization": f"Bearer {issued.plain}"}
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == OPERATIONS
    calls: list[tuple[str, int]] = []

    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(
                max_examples=EXAMPLES_PER_OPERATION_AND_MODE,
                deadline=10_000,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            )
            @given(case=operation.as_strategy(generation_mode=mode))
            def call(case) -> None:
                response = case.call(base_url=live_server.url, headers=headers, timeout=30)
                calls.append((case.operation.label, response.status_code))
                case.validate_response(response, checks=CHECKS, headers=headers)

            call()

    assert len({label for label, _ in calls}) == OPERATIONS
    assert all(status < 500 for _, status in calls)
