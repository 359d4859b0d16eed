"""Broadcasts through every process: the scheduler's API, two scheduler replicas, the fake
WeChat API taking the mass send and, later, posting its signed MASSSENDJOBFINISH to the
gateway, which puts it on the bus for the scheduler to record."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiohttp import ClientSession

from shared.platform.storage import CONTROL_DB, Client
from shared.wechat.simulator import Account
from tests.e2e.conftest import ADMIN_KEY, metric_total
from tests.support.bus import eventually
from tests.support.fake_wechat import FakeAdmin, running_fake
from tests.support.processes import ServiceProcess

ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
TEXT = {"type": "text", "content": "周五晚八点, 新品上线"}
QUICK = {
    "WXP_SCHEDULER_SCAN_SECONDS": "1",
    "WXP_SCHEDULER_HORIZON_SECONDS": "5",
    "WXP_SCHEDULER_CLAIM_SECONDS": "30",
}


@dataclass
class Stack:
    gateway: ServiceProcess
    schedulers: list[ServiceProcess]
    account: Account
    fake: FakeAdmin
    http: ClientSession

    @property
    def base(self) -> str:
        """The API of a replica that is alive (a test may have killed one)."""
        alive = next(s for s in self.schedulers if s.process.poll() is None)
        return f"{alive.url}/api/tenants/{self.account.tenant_id}"

    async def create(self, in_seconds: float, **body: Any) -> dict[str, Any]:
        due = datetime.now(UTC) + timedelta(seconds=in_seconds)
        body = {"name": "e2e", "message": TEXT, "audience": {"kind": "all"}, **body}
        body.setdefault("schedule", {"at": due.isoformat(timespec="seconds")})
        async with self.http.post(f"{self.base}/broadcasts", json=body, headers=ADMIN) as r:
            created: dict[str, Any] = await r.json()
            assert r.status == 201, created
        return created

    async def show(self, broadcast_id: str) -> dict[str, Any]:
        async with self.http.get(f"{self.base}/broadcasts/{broadcast_id}", headers=ADMIN) as r:
            assert r.status == 200
            shown: dict[str, Any] = await r.json()
            return shown

    async def finished(self, broadcast_id: str, timeout: float = 30.0) -> dict[str, Any]:
        async def done() -> bool:
            runs = (await self.show(broadcast_id))["runs"]
            return bool(runs) and runs[0]["status"] == "finished"

        try:
            await eventually(done, timeout, f"broadcast {broadcast_id} finished")
        except AssertionError:
            runs = (await self.show(broadcast_id))["runs"]
            tails = "\n".join(s.last_lines() for s in (*self.schedulers, self.gateway))
            raise AssertionError(f"runs: {runs}\nthe last log lines:\n{tails}") from None
        return (await self.show(broadcast_id))["runs"][0]


@pytest.fixture
async def broadcast_stack(
    services, http, onboarded
) -> AsyncIterator[Callable[..., Awaitable[Stack]]]:
    async with running_fake() as wechat:

        async def make(replicas: int = 2, **env: str) -> Stack:
            gateway = await services("gateway")
            schedulers = [
                await services("scheduler", WECHAT_API_BASE=wechat, **{**QUICK, **env})
                for _ in range(replicas)
            ]
            _, account = await onboarded(gateway.url, name="Broadcasts", app_secret="mass-secret")
            fake = FakeAdmin(http, wechat)
            await fake.register(
                account.appid,
                "mass-secret",
                followers=[f"o_follower_{n}" for n in range(40)],
                webhook_url=f"{gateway.url}/wx/{account.tenant_id}",
                token=account.token,
                encoding_aes_key=account.encoding_aes_key,
                original_id="gh_e2e_broadcast",
                finish_delay=1.0,
            )
            return Stack(gateway, schedulers, account, fake, http)

        yield make


async def test_a_broadcast_goes_out_on_time_once_and_its_report_comes_back(
    broadcast_stack, tap_factory
):
    stack = await broadcast_stack()
    tap = await tap_factory([f"{stack.account.tenant_id}.broadcast.*"], answer=None)
    created = await stack.create(3.0)
    run = await stack.finished(created["id"])

    [job] = await stack.fake.mass_jobs(stack.account.appid)
    assert job["clientmsgid"] == run["clientmsgid"]
    assert run["msg_id"] == str(job["msg_id"])
    assert run["result"] == {"status": "sent", "total": 40, "filter": 40, "sent": 40, "error": 0}
    assert job["callback"] == "delivered"  # through the gateway, the bus and the scheduler
    lag_count = await metric_total(
        http := stack.http, stack.schedulers, "wxp_scheduler_due_lag_seconds_count"
    )
    lag_sum = await metric_total(http, stack.schedulers, "wxp_scheduler_due_lag_seconds_sum")
    assert lag_count == 1
    assert lag_sum < 1.0
    kinds = sorted(e.type for e in tap.events)
    assert kinds == ["broadcast.finished", "broadcast.submitted"]
    assert (await stack.show(created["id"]))["status"] == "finished"


async def test_a_replica_killed_mid_send_leaves_exactly_one_mass_send(
    broadcast_stack, mongo: Client
):
    """The replica that claimed the run is killed while WeChat holds its answer; the other
    takes the run over when the claim expires and sends again under the same clientmsgid:
    WeChat answers 45065 with the first msg_id, and the run ends submitted, then finished."""
    stack = await broadcast_stack()
    await stack.fake.add_fault(
        path="/cgi-bin/message/mass/sendall", delay=30.0, after=True, times=1
    )
    created = await stack.create(2.0)

    async def accepted() -> bool:
        return len(await stack.fake.mass_jobs(stack.account.appid)) == 1

    await eventually(accepted, 15, "the mass send accepted")
    prefix = f"{stack.account.tenant_id}/{created['id']}/"
    claims = (
        await mongo[CONTROL_DB].scheduler_claims.find({"_id": {"$regex": f"^{prefix}"}}).to_list()
    )
    [owner] = {c["owner"] for c in claims}
    pids = {s.process.pid: s for s in stack.schedulers}
    holder = pids[int(owner.rsplit(":", 1)[1])]
    holder.kill()

    run = await stack.finished(created["id"], timeout=60)
    jobs = await stack.fake.mass_jobs(stack.account.appid)
    assert len(jobs) == 1
    assert run["msg_id"] == str(jobs[0]["msg_id"])
    assert run["result"]["status"] == "sent"
    survivor = next(s for s in stack.schedulers if s is not holder)
    async with stack.http.get(f"{survivor.url}/metrics") as response:
        assert 'wxp_scheduler_sends_total{outcome="already_submitted"} 1.0' in await response.text()


async def test_the_api_refuses_what_wechat_would_and_hides_other_tenants(
    broadcast_stack, onboarded, http
):
    stack = await broadcast_stack(replicas=1)
    base = stack.base
    bad = [
        ({"schedule": {"cron": "61 * * * *"}}, "schedule.cron"),
        ({"schedule": {"at": "2020-01-01T20:00"}}, "schedule.at"),
        ({"audience": {"kind": "openids", "openids": ["o_only"]}}, "audience.openids"),
        ({"message": {"type": "video", "media_id": "m"}}, "message.type"),
        ({"message": {"type": "mpnews"}}, "message.media_id"),
        ({"message": {"type": "text", "content": "长" * 10_001}}, "message.content"),
    ]
    valid = {
        "name": "x",
        "message": TEXT,
        "audience": {"kind": "all"},
        "schedule": {"best_on": "2099-01-01"},
    }
    for change, field in bad:
        async with http.post(f"{base}/broadcasts", json={**valid, **change}, headers=ADMIN) as r:
            body = await r.json()
            assert (r.status, body["error"].get("field")) == (422, field), body
    async with http.get(f"{base}/broadcasts", headers=ADMIN) as r:
        assert (await r.json())["broadcasts"] == []  # nothing was stored

    created = await stack.create(3600)
    other, _ = await onboarded(stack.gateway.url, name="Other")
    keys = f"{stack.gateway.url}/api/tenants/{other['id']}/keys"
    async with http.post(keys, json={"name": "other"}, headers=ADMIN) as r:
        other_key = {"Authorization": f"Bearer {(await r.json())['key']}"}
    one = f"{base}/broadcasts/{created['id']}"
    for method, url in [
        ("GET", f"{base}/broadcasts"),
        ("GET", one),
        ("POST", f"{one}/cancel"),
        ("DELETE", one),
        ("GET", f"{base}/quota"),
    ]:
        async with http.request(method, url, headers=other_key) as r:
            assert r.status == 404, (method, url)
    assert (await stack.show(created["id"]))["status"] == "scheduled"

    async with http.get(f"{base}/quota", headers=ADMIN) as r:
        quota = await r.json()
    assert (quota["account_type"], quota["reserved"], quota["limit"]) == ("service", 1, 4)
    async with http.post(f"{one}/cancel", headers=ADMIN) as r:
        assert (r.status, (await r.json())["status"]) == (200, "cancelled")
    async with http.post(f"{one}/cancel", headers=ADMIN) as r:
        body = await r.json()
        assert r.status == 409, body
        assert "cancelled" in body["error"]["message"]


async def test_preview_and_retract_reach_wechat(broadcast_stack, http):
    stack = await broadcast_stack(replicas=1)
    created = await stack.create(2.0, message={"type": "mpnews", "media_id": "m_article"})
    run = await stack.finished(created["id"])
    one = f"{stack.base}/broadcasts/{created['id']}"
    async with http.post(f"{one}/preview", json={"wxnames": ["editor-wang"]}, headers=ADMIN) as r:
        assert (await r.json())["previews"] == [{"to": "editor-wang", "sent": True, "errcode": 0}]
    retract = f"{one}/runs/{run['run_id']}/retract"
    async with http.post(retract, json={"article_idx": 0}, headers=ADMIN) as r:
        assert r.status == 200
    [job] = await stack.fake.mass_jobs(stack.account.appid)
    assert job["deleted"] is True
    assert (await stack.show(created["id"]))["runs"][0]["retracted"][0]["article_idx"] == 0
    assert run["clientmsgid"] == job["clientmsgid"]


async def test_a_full_quota_period_is_refused_with_the_next_allowed_time(
    broadcast_stack, onboarded, http
):
    stack = await broadcast_stack(replicas=1)
    created, _ = await onboarded(
        stack.gateway.url, name="Subscription", account_type="subscription"
    )
    base = f"{stack.schedulers[0].url}/api/tenants/{created['id']}"
    body = {"name": "daily", "message": TEXT, "audience": {"kind": "all"}}
    first = {**body, "schedule": {"at": "2099-12-04T20:00"}}
    async with http.post(f"{base}/broadcasts", json=first, headers=ADMIN) as r:
        assert r.status == 201
    second = {
        **body,
        "audience": {"kind": "tag", "tag_id": 3},
        "schedule": {"at": "2099-12-04T08:00"},
    }
    async with http.post(f"{base}/broadcasts", json=second, headers=ADMIN) as r:
        refused = await r.json()
    assert r.status == 422
    assert refused["error"]["code"] == "quota_exhausted"
    assert refused["error"]["next_allowed_at"] == "2099-12-04T16:00:00Z"  # next local midnight
    to_list = {**body, "audience": {"kind": "openids", "openids": ["o_a", "o_b"]}}
    async with http.post(f"{base}/broadcasts", json={**to_list, **first}, headers=ADMIN) as r:
        assert r.status == 422  # the same day, to all again
    listed = {**to_list, "schedule": {"at": "2099-12-04T21:00"}}
    async with http.post(f"{base}/broadcasts", json=listed, headers=ADMIN) as r:
        assert r.status == 201  # a list send does not count
