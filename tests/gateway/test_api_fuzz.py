"""Property-based fuzzing of the gateway's agency API against the document it serves.

Schemathesis draws requests for every operation of ``/api/openapi.json`` (valid ones,
and invalid ones that must be refused), sends them with the admin key to the real
in-process gateway, and checks each answer: no 5xx, a documented status code and
content type, a body that matches the documented schema, invalid input refused.

Half of the valid requests are aimed at what the fuzz itself owns instead of at random
ids, so that the success paths run too: a tenant it onboards first (changed at will),
and for the destructive routes a fresh tenant or key per example. Random ids never
match another test's tenants (those are ``t`` + 9 random characters) or keys (12 random
hex digits), so nothing outside the fuzz is touched; whatever it creates is deleted at
the end through the API.

The requests go out from a worker thread: the gateway serves on this test's event loop.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from aiohttp import ClientSession
from hypothesis import strategies as st
from schemathesis import GenerationMode

from tests.conftest import new_appid
from tests.gateway.conftest import ADMIN_KEY
from tests.support.fuzz import (
    BUDGET_SECONDS,
    CHECKS,
    SETTINGS,
    FuzzRun,
    every_operation,
    onboard_tenant,
)

AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}


@dataclass
class Owned:
    """What the fuzz may change and delete: its own tenants and keys."""

    base: str
    session: requests.Session
    tenant_id: str = ""
    tenants: set[str] = field(default_factory=set)
    agency_keys: set[str] = field(default_factory=set)

    def onboard(self) -> str:
        tenant_id = onboard_tenant(self.session, self.base, name="Fuzz target", encrypt_mode="safe")
        self.tenants.add(tenant_id)
        return tenant_id

    def new_key(self, tenant_id: str | None) -> str:
        path = f"/api/tenants/{tenant_id}/keys" if tenant_id else "/api/keys"
        response = self.session.post(f"{self.base}{path}", json={"name": "fuzz"})
        assert response.status_code == 201, response.text
        key_id: str = response.json()["id"]
        if tenant_id is None:
            self.agency_keys.add(key_id)
        return key_id

    def aim(self, case: schemathesis.Case) -> None:
        """Points a valid request at what the fuzz owns (a fresh one where it destroys)."""
        params = case.path_parameters
        if "tenant_id" in params:
            destroys = case.method == "DELETE" and case.path == "/api/tenants/{tenant_id}"
            params["tenant_id"] = self.onboard() if destroys else self.tenant_id
        if "key_id" in params:
            params["key_id"] = self.new_key(params.get("tenant_id"))

    def note(self, case: schemathesis.Case, response: requests.Response) -> None:
        """Remembers what a fuzzed request created, to delete it at the end."""
        if response.status_code != 201:
            return
        if case.path == "/api/tenants":
            self.tenants.add(response.json()["id"])
        elif case.path == "/api/keys":
            self.agency_keys.add(response.json()["id"])

    def clean_up(self) -> None:
        for tenant_id in self.tenants:
            response = self.session.delete(f"{self.base}/api/tenants/{tenant_id}")
            assert response.status_code in (204, 404), response.text
        for key_id in self.agency_keys:
            response = self.session.delete(f"{self.base}/api/keys/{key_id}")
            assert response.status_code in (204, 404), response.text


def fuzz_operation(
    operation: schemathesis.APIOperation, owned: Owned, counts: Counter[str]
) -> None:
    valid = operation.as_strategy(GenerationMode.POSITIVE).map(lambda case: (case, True))
    invalid = operation.as_strategy(GenerationMode.NEGATIVE).map(lambda case: (case, False))
    session = requests.Session()  # the key comes with each case: its headers are fixed

    @SETTINGS
    @hypothesis.given(drawn=st.one_of(valid, invalid), aimed=st.booleans())
    def run(drawn: tuple[schemathesis.Case, bool], aimed: bool) -> None:
        case, is_valid = drawn
        if is_valid and aimed:
            owned.aim(case)
        response = case.call(session=session)
        owned.note(case, response)
        counts[f"{response.status_code // 100}xx"] += 1
        case.validate_response(response, checks=CHECKS)

    try:
        run()
    finally:
        session.close()


def fuzz(base: str) -> FuzzRun:
    """Runs in a worker thread: every operation in turn, each failure noted."""
    owner = requests.Session()
    owner.headers["Authorization"] = f"Bearer {ADMIN_KEY}"
    owned = Owned(base=base, session=owner)
    schema_url, headers = f"{base}/api/openapi.json", {"Authorization": f"Bearer {ADMIN_KEY}"}
    run = FuzzRun(tenants=owned.tenants)
    try:
        owned.tenant_id = owned.onboard()
        every_operation(schema_url, headers, run, lambda op: fuzz_operation(op, owned, run.counts))
    finally:
        owned.clean_up()
        owner.close()
    return run


async def test_fuzzing_the_agency_api_finds_no_5xx_and_no_schema_violation(
    gateway: str, created_tenants: list[str]
) -> None:
    started = time.monotonic()
    run = await asyncio.to_thread(fuzz, gateway)
    elapsed = time.monotonic() - started
    created_tenants.extend(run.tenants)  # what the API could not delete goes at the end

    assert not run.failures, "\n\n".join(run.failures)
    assert len(run.operations) == 11, run.operations  # every operation of the agency API
    assert run.counts["2xx"] >= 50, run.counts  # the success paths ran, not only refusals
    assert run.counts["4xx"] >= 50, run.counts  # and so did the refusals
    assert elapsed < BUDGET_SECONDS, elapsed


def raw_json(**fields: str) -> str:
    """A JSON object whose values are written as given: escapes stay as they are."""
    return "{" + ", ".join(f'"{name}": "{value}"' for name, value in fields.items()) + "}"


def tenant_json(**overrides: str) -> str:
    fields = {
        "name": "Edge case",
        "appid": new_appid(),
        "app_secret": "s",
        "account_type": "service",
        "encrypt_mode": "plain",
        **overrides,
    }
    return raw_json(**fields)


# What Hypothesis never draws: lone surrogates (valid JSON escapes, not valid Unicode),
# a trailing newline (Python's `$` matches before one, the document's ECMA `$` does not),
# nesting past Python's recursion limit, fields the document forbids.
EDGES = {
    "lone surrogate in a new tenant": ("POST", "/api/tenants", tenant_json(name="\\ud800")),
    "lone surrogate in a change": ("PATCH", "/api/tenants/{own}", raw_json(name="\\udfff")),
    "lone surrogate in a key name": ("POST", "/api/keys", raw_json(name="\\ud800")),
    "newline after an appid": ("POST", "/api/tenants", tenant_json(appid=new_appid() + "\\n")),
    "newline after a tenant id": ("POST", "/api/tenants", tenant_json(id="edge-nl\\n")),
    "newline after a token": ("PATCH", "/api/tenants/{own}", raw_json(token="abc\\n")),
    "deep nesting": ("POST", "/api/tenants", "[" * 100_000),
    "unknown field in a key": ("POST", "/api/keys", raw_json(name="k", bogus="1")),
    "unknown field in a tenant key": ("POST", "/api/tenants/{own}/keys", raw_json(bogus="1")),
}


@pytest.mark.parametrize("edge", EDGES)
async def test_inputs_the_generator_never_draws_are_refused_cleanly(
    edge: str, gateway: str, http: ClientSession, new_account: Any, created_tenants: list[str]
) -> None:
    method, path, body = EDGES[edge]
    own = (await new_account()).tenant_id
    async with http.request(
        method,
        gateway + path.format(own=own),
        data=body.encode(),
        headers={**AUTH, "Content-Type": "application/json"},
    ) as response:
        status, answer = response.status, await response.json()
    if status == 201:  # a bug: clean up what it created, then fail below
        await forget_created(http, gateway, path, answer, created_tenants)

    assert status in (400, 422), (edge, status, answer)
    assert set(answer["error"]) >= {"code", "message"}
    async with http.get(f"{gateway}/api/tenants/{own}", headers=AUTH) as response:
        shown = await response.json()
    assert shown["name"] == "Test account"  # a refused change changed nothing
    assert "updated_at" not in shown


async def forget_created(
    http: ClientSession, gateway: str, path: str, answer: dict[str, Any], created: list[str]
) -> None:
    if path == "/api/tenants":
        created.append(answer["id"])
        return
    key_path = "/api/keys/{id}" if path == "/api/keys" else "/api/tenants/{tenant_id}/keys/{id}"
    async with http.delete(gateway + key_path.format(**answer), headers=AUTH):
        pass
