"""What every schemathesis run over one of our APIs shares: the checks, the budget, the
(derandomized) hypothesis settings."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import requests
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import new_appid

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


def onboard_tenant(session: requests.Session, gateway: str, *, name: str, encrypt_mode: str) -> str:
    """A tenant of the fuzz's own, through the agency API (blocking, as schemathesis is)."""
    response = session.post(
        f"{gateway}/api/tenants",
        json={
            "name": name,
            "appid": new_appid(),
            "app_secret": "s",
            "account_type": "service",
            "encrypt_mode": encrypt_mode,
        },
    )
    assert response.status_code == 201, response.text
    tenant_id: str = response.json()["id"]
    return tenant_id


@dataclass
class FuzzRun:
    failures: list[str] = field(default_factory=list)
    counts: Counter[str] = field(default_factory=Counter)  # responses by status class
    operations: list[str] = field(default_factory=list)
    tenants: set[str] = field(default_factory=set)  # every tenant it created


def every_operation(
    schema_url: str, headers: dict[str, str], run: FuzzRun, fuzz_one: Callable[[Any], None]
) -> None:
    """``fuzz_one`` over each operation of the OpenAPI document at ``schema_url``; each
    failure is noted in ``run`` and the next operation still runs."""
    schema = schemathesis.openapi.from_url(schema_url)
    schema.config.update(headers=headers)
    for result in schema.get_all_operations():
        operation = result.ok()
        run.operations.append(operation.label)
        try:
            fuzz_one(operation)
        except (Exception, BaseExceptionGroup) as exc:  # schemathesis' FailureGroup is Base
            notes = "\n".join(getattr(exc, "__notes__", []))
            run.failures.append(f"{operation.label}: {exc}\n{notes}")
