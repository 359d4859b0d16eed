"""What every schemathesis run over one of our APIs shares: the checks, the budget, the
(derandomized) hypothesis settings."""

from __future__ import annotations

import hypothesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

MAX_EXAMPLES = 50  # per operation, valid and invalid requests together
BUDGET_SECONDS = 60.0
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
SETTINGS = hypothesis.settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,  # the same requests every run
    deadline=None,
    database=None,
    suppress_health_check=list(hypothesis.HealthCheck),
)
