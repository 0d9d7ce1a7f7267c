"""Property-based fuzzing from the OpenAPI schema (schemathesis): no input yields a 5xx.

Every operation gets generated path, query and body values (valid and invalid), sent with
each role's key in turn, over the same real DuckDB store as the route tests. The response
must not be a server error and must match the documented schema.
"""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings

schemathesis = pytest.importorskip("schemathesis")
from schemathesis import checks  # noqa: E402

from tests.api.conftest import KEYS, key  # noqa: E402

CASES_PER_OPERATION = 40
# semantic 422s (an unknown tag in a well-formed expression) are correct answers, so the
# positive-data-acceptance check is left out; everything the schema promises is checked
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]
_roles = itertools.cycle(KEYS)


def test_no_server_errors(app):
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 11
    failures: list[str] = []
    seen: dict[int, int] = {}

    for operation in operations:
        # a referral plan runs IMM and Monte Carlo per call: fewer, but still fuzzed, cases
        cases = 10 if "campaigns" in operation.path else CASES_PER_OPERATION

        @given(case=operation.as_strategy())
        @settings(
            max_examples=cases,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            print_blob=True,
            database=None,
        )
        def fuzz(case):
            response = case.call(headers=key(next(_roles)))
            status = response.status_code
            seen[status] = seen.get(status, 0) + 1
            if status >= 500:
                failures.append(f"{case.method} {case.formatted_path} -> {status}")
            assert status < 500, response.text[:300]
            ctype = "".join(response.headers.get("content-type") or [])
            if status == 200 and ctype.startswith("text/"):
                return
            case.validate_response(response, checks=CHECKS)

        fuzz()
    total = sum(seen.values())
    print(
        f"\nfuzz: {total} cases over {len(operations)} operations, statuses {sorted(seen.items())}"
    )
    assert not failures
    assert total >= CASES_PER_OPERATION * (len(operations) - 1) // 2
