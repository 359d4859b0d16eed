"""Property-based fuzzing of the scheduler's broadcasts API against the document it serves,
as ``tests/replies/test_rules_fuzz.py`` does for the rules API.

Schemathesis draws requests for every operation of ``/api/openapi.json`` (valid ones, and
invalid ones that must be refused), sends them with the admin key to the real in-process
scheduler, and checks each answer: no 5xx, a documented status code and content type, a
body that matches the documented schema, invalid input refused.

Three in four valid requests are aimed at what the fuzz owns instead of at random ids, so
that the success paths run too: a tenant onboarded through the in-process gateway, whose
appid and secret the in-process fake WeChat knows; a broadcast of it that is still
scheduled and one that the app's own timer sent (its finish report came back through the
gateway and the bus), shown and previewed in turn; a fresh broadcast for each cancel and
delete; for a retract, the sent run. Aimed previews go to one recipient: each recipient
is a mass-API call, and an account has 60 a minute. Lists of openids are the fuzz's own
audiences, as they take none of the account's quota.

The requests go out from a worker thread: the services serve on this test's loop.
"""

from __future__ import annotations

import asyncio
import io
import json
import random
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
import requests
import schemathesis
from aiohttp import ClientSession

from services.scheduler.api import STATUSES
from shared.platform.storage import Client
from shared.wechat.simulator import Account
from tests.gateway.conftest import ADMIN_KEY
from tests.scheduler.conftest import forget_runs
from tests.support.bus import eventually
from tests.support.fake_mass import Webhook
from tests.support.fake_wechat import Account as FakeAccount
from tests.support.fake_wechat import FakeWeChat, Fault
from tests.support.fuzz import BUDGET_SECONDS, FuzzRun, every_operation, fuzz_operation

AUTH = {"Authorization": f"Bearer {ADMIN_KEY}"}
OPERATIONS = 8
SECRET = "secret"  # what new_account onboards with
LATER: dict[str, Any] = {
    "name": "fuzz",
    "message": {"type": "text", "content": "fuzzed"},
    "audience": {"kind": "openids", "openids": ["o_fuzz_1", "o_fuzz_2"]},
    "schedule": {"at": "2099-12-04T20:00"},
}


def soon(seconds: float) -> str:
    return (datetime.now(UTC) + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Target:
    """The fuzz's tenant and the broadcasts it keeps."""

    tenant_id: str
    scheduled_id: str  # due in 2099
    sent_id: str  # an mpnews broadcast that went out and finished
    sent_run: str

    def base(self, scheduler: str) -> str:
        return f"{scheduler}/api/tenants/{self.tenant_id}/broadcasts"


@pytest.fixture
async def tenant(
    gateway: str,
    http: ClientSession,
    new_account: Callable[..., Any],
    fake_server: tuple[FakeWeChat, str],
    mongo: Client,
) -> AsyncIterator[Account]:
    """A tenant onboarded through the gateway, known to the fake WeChat (which posts its
    finish reports to the gateway); deleted with its runs at the end."""
    account: Account = await new_account("plain")
    fake, _ = fake_server
    webhook = Webhook(
        url=f"{gateway}/wx/{account.tenant_id}",
        token=account.token,
        encoding_aes_key=account.encoding_aes_key,
        original_id="gh_fuzz",
        encrypt_mode="plain",
    )
    fake.register(FakeAccount(account.appid, SECRET, webhook=webhook, finish_delay=0.5))
    yield account
    async with http.delete(f"{gateway}/api/tenants/{account.tenant_id}", headers=AUTH) as r:
        assert r.status == 204, await r.text()
    await forget_runs(mongo, account.tenant_id)


async def create(http: ClientSession, base: str, body: dict[str, Any]) -> str:
    async with http.post(base, json=body, headers=AUTH) as response:
        created = await response.json()
        assert response.status == 201, created
    broadcast_id: str = created["id"]
    return broadcast_id


async def shown(http: ClientSession, base: str, broadcast_id: str) -> dict[str, Any]:
    async with http.get(f"{base}/{broadcast_id}", headers=AUTH) as response:
        assert response.status == 200, await response.text()
        view: dict[str, Any] = await response.json()
        return view


@pytest.fixture
async def target(scheduler: str, http: ClientSession, tenant: Account) -> Target:
    base = f"{scheduler}/api/tenants/{tenant.tenant_id}/broadcasts"
    scheduled_id = await create(http, base, LATER)
    article = {"type": "mpnews", "media_id": "m_fuzz"}
    sent_id = await create(http, base, {**LATER, "message": article, "schedule": {"at": soon(2)}})

    async def finished() -> bool:
        runs = (await shown(http, base, sent_id))["runs"]
        return bool(runs) and runs[0]["status"] == "finished"

    await eventually(finished, 20, f"broadcast {sent_id} sent and reported")
    sent_run = (await shown(http, base, sent_id))["runs"][0]["run_id"]
    return Target(tenant.tenant_id, scheduled_id, sent_id, sent_run)


@dataclass
class Owned:
    """Points valid requests at the fuzz's own tenant and broadcasts."""

    scheduler: str
    target: Target
    session: requests.Session

    def new_broadcast(self) -> str:
        response = self.session.post(self.target.base(self.scheduler), json=LATER)
        assert response.status_code == 201, response.text
        broadcast_id: str = response.json()["id"]
        return broadcast_id

    def aim(self, case: schemathesis.Case, rng: random.Random) -> None:
        """A fresh broadcast where it cancels or deletes, the sent run where it retracts, a
        status the list knows."""
        params = case.path_parameters
        if "tenant_id" in params:
            params["tenant_id"] = self.target.tenant_id
        if "run_id" in params:
            params["broadcast_id"], params["run_id"] = self.target.sent_id, self.target.sent_run
        elif "broadcast_id" in params:
            stops = case.method == "DELETE" or case.path.endswith("/cancel")
            kept = rng.choice((self.target.scheduled_id, self.target.sent_id))
            params["broadcast_id"] = self.new_broadcast() if stops else kept
        if case.path.endswith("/preview") and isinstance(case.body, dict):
            case.body = {k: v[:1] for k, v in case.body.items() if isinstance(v, list)}
        if case.query and "status" in case.query:  # documented as any string; eight are taken
            case.query["status"] = rng.choice(STATUSES)


def fuzz(scheduler: str, target: Target) -> FuzzRun:
    """Runs in a worker thread: every operation in turn, each failure noted."""
    owner = requests.Session()
    owner.headers["Authorization"] = f"Bearer {ADMIN_KEY}"
    owned = Owned(scheduler=scheduler, target=target, session=owner)
    run = FuzzRun()
    try:
        every_operation(
            f"{scheduler}/api/openapi.json",
            AUTH,
            run,
            lambda op: fuzz_operation(op, owned.aim, run.counts),
        )
    finally:
        owner.close()
    return run


# The app's own work (its timer's sends, the WeChat client's jittered retries) draws from
# the global random on the loop's thread while Hypothesis draws cases in the worker thread.
@pytest.mark.filterwarnings("ignore:Do not use the `random` module inside strategies")
async def test_fuzzing_the_broadcasts_api_finds_no_5xx_and_no_schema_violation(
    scheduler: str, target: Target
) -> None:
    started = time.monotonic()
    run = await asyncio.to_thread(fuzz, scheduler, target)
    elapsed = time.monotonic() - started

    assert not run.failures, "\n\n".join(run.failures)
    assert len(run.operations) == OPERATIONS, run.operations
    assert run.counts["2xx"] >= 50, run.counts
    assert run.counts["4xx"] >= 50, run.counts
    assert elapsed < BUDGET_SECONDS, elapsed


async def test_every_status_the_routes_answer_is_documented(
    scheduler: str,
    http: ClientSession,
    target: Target,
    fake_server: tuple[FakeWeChat, str],
    tenant: Account,
) -> None:
    base = target.base(scheduler)
    article = {"type": "mpnews", "media_id": "m_later"}
    unsent = await create(http, base, {**LATER, "message": article})
    unsent_run = (await shown(http, base, unsent))["runs"][0]["run_id"]
    one = "/api/tenants/{tenant_id}/broadcasts/{broadcast_id}"
    retract = one + "/runs/{run_id}/retract"
    calls = [  # (method, the documented path, the url)
        ("post", one + "/cancel", f"{base}/{target.scheduled_id}/cancel"),
        ("post", one + "/cancel", f"{base}/{target.scheduled_id}/cancel"),  # cancelled now
        ("delete", one, f"{base}/{target.scheduled_id}"),
        ("post", retract, f"{base}/{unsent}/runs/{unsent_run}/retract"),  # nothing sent
        ("post", retract, f"{base}/{target.sent_id}/runs/{target.sent_run}/retract"),
    ]
    fake, _ = fake_server
    fake.add_fault(Fault(path="/cgi-bin/message/mass/delete", errcode=-1, appid=tenant.appid))
    answered = []
    for method, path, url in calls:
        async with http.request(method, url, json={}, headers=AUTH) as response:
            answered.append((method, path, response.status))
    fake.faults.clear()
    async with http.get(f"{scheduler}/api/openapi.json") as response:
        paths = (await response.json())["paths"]

    assert [status for *_, status in answered] == [200, 409, 409, 409, 502]
    undocumented = [
        (method, path, status)
        for method, path, status in answered
        if str(status) not in paths[path][method]["responses"]
    ]
    assert undocumented == [], undocumented


def raw_json(fields: dict[str, str]) -> str:
    """A JSON object whose values are written as given: escapes and numbers stay as they are."""
    return "{" + ", ".join(f'"{name}": {value}' for name, value in fields.items()) + "}"


BROADCAST_JSON = {
    "name": '"edge"',
    "message": '{"type": "text", "content": "x"}',
    "audience": '{"kind": "all"}',
    "schedule": '{"at": "2099-12-04T20:00"}',
}


def with_field(name: str, value: str) -> Callable[[], str]:
    return lambda: raw_json({**BROADCAST_JSON, name: value})


def tag(value: str) -> Callable[[], str]:
    return with_field("audience", f'{{"kind": "tag", "tag_id": {value}}}')


def past_at_plus_14() -> str:
    """An hour ago, at +14:00: read without its offset, 13 hours ahead of UTC now."""
    an_hour_ago = datetime.now(UTC) - timedelta(hours=1)
    written = an_hour_ago.astimezone(timezone(timedelta(hours=14))).isoformat(timespec="minutes")
    return raw_json({**BROADCAST_JSON, "schedule": json.dumps({"at": written})})


def openids_over_the_limit() -> str:
    """1,000,001 openids (WXP_BROADCAST_MAX_OPENIDS' default is 1,000,000): 13 MB."""
    listed = "[" + ",".join(f'"o_{n}"' for n in range(1_000_001)) + "]"
    return raw_json({**BROADCAST_JSON, "audience": f'{{"kind": "openids", "openids": {listed}}}'})


# What Hypothesis rarely or never draws: (the body, the status and error.field expected).
EDGES: dict[str, tuple[Callable[[], str], int, str | None]] = {
    "lone surrogate in a name": (with_field("name", '"\\ud800"'), 400, None),
    "tag_id 2^63": (tag(str(2**63)), 422, "audience.tag_id"),
    "tag_id true": (tag("true"), 422, "audience.tag_id"),
    "tag_id 1e400": (tag("1e400"), 422, "audience.tag_id"),
    "tag_id NaN": (tag("NaN"), 422, "audience.tag_id"),
    "1,000,001 openids": (openids_over_the_limit, 422, "audience.openids"),
    "cron with 6 fields": (
        with_field("schedule", '{"cron": "0 0 20 * * 5"}'),
        422,
        "schedule.cron",
    ),
    "cron minute 61": (with_field("schedule", '{"cron": "61 * * * *"}'), 422, "schedule.cron"),
    "at +14:00, in the past": (past_at_plus_14, 422, "schedule.at"),
    "deep nesting": (lambda: '{"name": ' + "[" * 100_000, 400, None),
}


@pytest.mark.parametrize("edge", EDGES)
async def test_inputs_the_generator_rarely_draws_are_refused_cleanly(
    edge: str, scheduler: str, http: ClientSession, tenant: Account
) -> None:
    body, status, field = EDGES[edge]
    base = f"{scheduler}/api/tenants/{tenant.tenant_id}/broadcasts"
    await create(http, base, LATER)
    async with http.get(base, headers=AUTH) as response:
        before = (await response.json())["broadcasts"]

    raw = io.BytesIO(body().encode())  # aiohttp streams it: one edge is 13 MB
    async with http.post(
        base, data=raw, headers={**AUTH, "Content-Type": "application/json"}
    ) as response:
        answered, answer = response.status, await response.json()

    assert (answered, answer["error"].get("field")) == (status, field), (edge, answer)
    assert set(answer["error"]) >= {"code", "message"}
    async with http.get(base, headers=AUTH) as response:
        assert (await response.json())["broadcasts"] == before  # a refusal stored nothing
    assert len(before) == 1


async def test_a_limit_in_other_unicode_digits_is_refused(
    scheduler: str, http: ClientSession, tenant: Account
) -> None:
    base = f"{scheduler}/api/tenants/{tenant.tenant_id}/broadcasts"
    async with http.get(base, params={"limit": "²"}, headers=AUTH) as response:
        answered, answer = response.status, await response.json()

    assert (answered, answer["error"].get("field")) == (422, "limit"), answer
