"""Property-based fuzzing of the replies service's API (rules, the dry run, the reader
inbox) against the document it serves, as ``tests/gateway/test_api_fuzz.py`` does for the
agency API.

Schemathesis draws requests for every operation of ``/api/openapi.json`` (valid ones, and
invalid ones that must be refused), sends them with the admin key to the real in-process
replies service, and checks each answer: no 5xx, a documented status code and content
type, a body that matches the documented schema, invalid input refused.

Three in four valid requests are aimed at what the fuzz owns instead of at random ids, so
that the success paths run too: a tenant it onboards through the gateway first (its
account registered with the fake WeChat the service calls), a rule of that tenant
(changed at will), a fresh rule for each delete, for a reorder every rule id of the tenant
in a drawn order, and for an inbox reply or close a fresh unanswered message of a reader
of its own (kept straight in the database, as the service records one). Whatever it
creates goes with its tenant at the end. The requests go out from a worker thread: both
services serve on this test's loop.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
import schemathesis
from aiohttp import ClientSession
from pymongo import MongoClient

from services.replies.inbox import new_item
from shared.contracts.envelope import Envelope, iso
from shared.contracts.messages import WeChatMessage
from shared.contracts.tenancy import tenant_db_name
from tests.gateway.conftest import ADMIN_KEY
from tests.support.fake_wechat import Account as FakeAccount
from tests.support.fake_wechat import FakeWeChat
from tests.support.fuzz import (
    BUDGET_SECONDS,
    FuzzRun,
    every_operation,
    fuzz_operation,
    onboard_tenant,
)
from tests.support.infra import mongodb_url

AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}
OPERATIONS = 11
RULE = {
    "name": "fuzz",
    "priority": 1,
    "enabled": True,
    "trigger": {"kind": "keyword", "match": "contains", "pattern": "fuzz"},
    "reply": {"type": "text", "content": "fuzzed"},
}


@dataclass
class Owned:
    """What the fuzz may change and delete: its own tenants and their rules."""

    gateway: str
    replies: str
    session: requests.Session
    wechat: FakeWeChat
    mongo: MongoClient[dict[str, Any]]
    tenant_id: str = ""
    rule_id: str = ""
    tenants: set[str] = field(default_factory=set)

    def onboard(self) -> str:
        tenant_id = onboard_tenant(
            self.session, self.gateway, name="Replies fuzz target", encrypt_mode="plain"
        )
        self.tenants.add(tenant_id)
        response = self.session.get(f"{self.gateway}/api/tenants/{tenant_id}")
        assert response.status_code == 200, response.text
        self.wechat.register(FakeAccount(appid=response.json()["appid"], secret="s"))
        return tenant_id

    def new_message(self) -> str:
        """A reader's message no rule answered, in the inbox (a reader apiece: no quota)."""
        at = datetime.now(UTC) - timedelta(minutes=1)
        payload = WeChatMessage(account="gh_fuzz", fields={"content": "有人吗"})
        event_id, openid = secrets.token_hex(16), f"o_{secrets.token_hex(6)}"
        event = Envelope(event_id, self.tenant_id, "msg.text", iso(at), iso(at), openid, payload)
        item = new_item(event, timedelta(hours=48), datetime.now(UTC))
        assert item is not None
        self.mongo[tenant_db_name(self.tenant_id)].replies_inbox.insert_one(item)
        return event_id

    def new_rule(self) -> str:
        response = self.session.post(
            f"{self.replies}/api/tenants/{self.tenant_id}/rules", json=RULE
        )
        assert response.status_code == 201, response.text
        rule_id: str = response.json()["id"]
        return rule_id

    def rule_ids(self) -> list[str]:
        response = self.session.get(f"{self.replies}/api/tenants/{self.tenant_id}/rules")
        assert response.status_code == 200, response.text
        return [rule["id"] for rule in response.json()["items"]]

    def aim(self, case: schemathesis.Case, rng: random.Random) -> None:
        """Points a valid request at what the fuzz owns (a fresh rule where it deletes)."""
        params = case.path_parameters
        if "tenant_id" in params:
            params["tenant_id"] = self.tenant_id
        if "rule_id" in params:
            params["rule_id"] = self.new_rule() if case.method == "DELETE" else self.rule_id
        if "event_id" in params:
            params["event_id"] = self.new_message()
        if case.path.endswith("/reorder"):
            order = self.rule_ids()
            rng.shuffle(order)
            case.body = {"order": order}

    def clean_up(self) -> None:
        for tenant_id in self.tenants:
            response = self.session.delete(f"{self.gateway}/api/tenants/{tenant_id}")
            assert response.status_code in (204, 404), response.text


def fuzz(gateway: str, replies: str, wechat: FakeWeChat) -> FuzzRun:
    """Runs in a worker thread: every operation in turn, each failure noted."""
    owner = requests.Session()
    owner.headers["Authorization"] = f"Bearer {ADMIN_KEY}"
    mongo: MongoClient[dict[str, Any]] = MongoClient(mongodb_url(), tz_aware=True)
    owned = Owned(gateway=gateway, replies=replies, session=owner, wechat=wechat, mongo=mongo)
    schema_url, headers = f"{replies}/api/openapi.json", AUTH
    run = FuzzRun(tenants=owned.tenants)
    try:
        owned.tenant_id = owned.onboard()
        owned.rule_id = owned.new_rule()
        every_operation(
            schema_url, headers, run, lambda op: fuzz_operation(op, owned.aim, run.counts)
        )
    finally:
        owned.clean_up()
        owner.close()
        mongo.close()
    return run


async def test_fuzzing_the_replies_api_finds_no_5xx_and_no_schema_violation(
    gateway: str,
    replies: str,
    created_tenants: list[str],
    fake_server: tuple[FakeWeChat, str],
) -> None:
    started = time.monotonic()
    run = await asyncio.to_thread(fuzz, gateway, replies, fake_server[0])
    elapsed = time.monotonic() - started
    created_tenants.extend(run.tenants)

    assert not run.failures, "\n\n".join(run.failures)
    assert len(run.operations) == OPERATIONS, run.operations
    assert run.counts["2xx"] >= 50, run.counts
    assert run.counts["4xx"] >= 50, run.counts
    assert elapsed < BUDGET_SECONDS, elapsed
    answered = fake_server[0].calls("/cgi-bin/message/custom/send")
    assert len(answered) >= 5, "inbox replies went out"  # the success path ran


def raw_json(fields: dict[str, str]) -> str:
    """A JSON object whose string values are written as given: escapes stay as they are."""
    return "{" + ", ".join(f'"{name}": {value}' for name, value in fields.items()) + "}"


RULE_JSON = {
    "name": '"edge"',
    "priority": "1",
    "enabled": "true",
    "trigger": '{"kind": "default"}',
    "reply": '{"type": "text", "content": "x"}',
}
# What Hypothesis rarely or never draws.
EDGES = {
    "lone surrogate in a name": ("POST", "", raw_json({**RULE_JSON, "name": '"\\ud800"'})),
    "priority 2^63": ("POST", "", raw_json({**RULE_JSON, "priority": str(2**63)})),
    "priority 2^31": ("PUT", "/{rule}", raw_json({**RULE_JSON, "priority": str(2**31)})),
    "priority -2^63-1": ("PATCH", "/{rule}", raw_json({"priority": str(-(2**63) - 1)})),
    "priority 1e400": ("POST", "", raw_json({**RULE_JSON, "priority": "1e400"})),
    "priority NaN": ("POST", "", raw_json({**RULE_JSON, "priority": "NaN"})),
    "reorder of mixed types": ("POST", "/reorder", raw_json({"order": '[1, "a"]'})),
    "unhashable trigger kind": ("POST", "", raw_json({**RULE_JSON, "trigger": '{"kind": []}'})),
    "deep nesting": ("POST", "/test", '{"message": ' + "[" * 100_000),
    "both reply forms in a change": (
        "PATCH",
        "/{rule}",
        raw_json({"reply": '{"type": "text", "content": "a"}', "replies": "[]"}),
    ),
}


@pytest.mark.parametrize("edge", EDGES)
async def test_inputs_the_generator_rarely_draws_are_refused_cleanly(
    edge: str, replies: str, http: ClientSession, new_account: Any
) -> None:
    method, path, body = EDGES[edge]
    tenant_id = (await new_account("plain")).tenant_id
    base = f"{replies}/api/tenants/{tenant_id}/rules"
    async with http.post(base, json=RULE, headers=AUTH) as response:
        kept = await response.json()

    async with http.request(
        method,
        base + path.format(rule=kept["id"]),
        data=body.encode(),
        headers={**AUTH, "Content-Type": "application/json"},
    ) as response:
        status, answer = response.status, await response.json()

    assert status in (400, 422), (edge, status, answer)
    assert set(answer["error"]) >= {"code", "message"}
    async with http.get(base, headers=AUTH) as response:
        assert (await response.json())["items"] == [kept]  # a refused change changed nothing
