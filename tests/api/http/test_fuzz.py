"""Property-based fuzzing from the OpenAPI schema (schemathesis): no input yields a 5xx.

Every operation gets generated path, query and body values (valid and invalid), sent over the
same real DuckDB store as the route tests, three ways: with each role's key in turn, with a
viewer's key only (the role with the most masking) and with no key at all (every answer must be
a documented 401, never a server error). The response must not be a server error and must
match the documented schema. schemathesis is a dev dependency: it is imported, never skipped.
"""

from __future__ import annotations

import itertools

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import checks

from tests.api.conftest import KEYS, key

CASES_PER_OPERATION = 40
# semantic 422s (an unknown tag in a well-formed expression) are correct answers, so the
# positive-data-acceptance check is left out; everything the schema promises is checked
CHECKS = [
    checks.not_a_server_error,
    checks.status_code_conformance,
    checks.content_type_conformance,
    checks.response_schema_conformance,
]
#: who calls: a cycle of header sets, one per case
CALLERS = {
    "each role": [key(role) for role in KEYS],
    "viewer": [key("viewer")],
    "no key": [{}],
}


@pytest.mark.parametrize("caller", list(CALLERS))
def test_no_server_errors(app, caller):
    headers = itertools.cycle(CALLERS[caller])
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
            response = case.call(headers=next(headers))
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
        f"\nfuzz ({caller}): {total} cases over {len(operations)} operations, "
        f"statuses {sorted(seen.items())}, 5xx {len(failures)}"
    )
    assert not failures
    if caller == "no key":
        # /health is the one open operation; everything else refuses an anonymous caller
        assert seen.get(401, 0) >= total - CASES_PER_OPERATION
    assert total >= CASES_PER_OPERATION * (len(operations) - 1) // 2
