"""What every schemathesis run over one of our APIs shares: the checks, the budget, the
(derandomized) hypothesis settings."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import requests
import schemathesis
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
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


Aim = Callable[["schemathesis.Case[Any]", random.Random], None]


def fuzz_operation(
    operation: schemathesis.APIOperation[Any, Any, Any, Any], aim: Aim, counts: Counter[str]
) -> None:
    """Valid and invalid requests for ``operation``; three in four valid ones are aimed
    (``aim``) at what the run owns, so the success paths run too. Each answer is checked."""
    valid = operation.as_strategy(GenerationMode.POSITIVE).map(lambda case: (case, True))
    invalid = operation.as_strategy(GenerationMode.NEGATIVE).map(lambda case: (case, False))
    session = requests.Session()

    @SETTINGS
    @hypothesis.given(drawn=st.one_of(valid, invalid), aimed=st.integers(0, 3), seed=st.integers())
    def run(drawn: tuple[schemathesis.Case[Any], bool], aimed: int, seed: int) -> None:
        case, is_valid = drawn
        if is_valid and aimed:  # three in four
            aim(case, random.Random(seed))
        response = case.call(session=session)
        counts[f"{response.status_code // 100}xx"] += 1
        case.validate_response(response, checks=CHECKS)

    try:
        run()
    finally:
        session.close()


def every_operation(
    schema_url: str, headers: dict[str, str], run: FuzzRun, fuzz_one: Callable[[Any], None]
) -> None:
    """``fuzz_one`` over each operation of the OpenAPI document at ``schema_url``; each
    failure is noted in ``run`` and the next operation still runs."""
    schema = schemathesis.openapi.from_url(schema_url)
    schema.config.update(headers=headers)
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()  # the document itself is wrong: nothing to fuzz
        operation = result.ok()
        run.operations.append(operation.label)
        try:
            fuzz_one(operation)
        except (Exception, BaseExceptionGroup) as exc:  # schemathesis' FailureGroup is Base
            notes = "\n".join(getattr(exc, "__notes__", []))
            run.failures.append(f"{operation.label}: {exc}\n{notes}")
