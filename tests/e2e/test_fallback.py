"""When the gateway cannot wait, the reader still gets exactly one answer: through the
customer-service API of the (fake) WeChat, sent once however often the event comes and
whichever of two replies replicas takes it."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

import aio_pika
import pytest
from aiohttp import ClientSession

from shared.contracts.topology import EVENTS_EXCHANGE
from shared.wechat.simulator import Account
from tests.e2e.conftest import ADMIN_KEY, metric_total
from tests.support.bus import continually, eventually, wait_until
from tests.support.fake_wechat import FakeAdmin, running_fake
from tests.support.gateway import send
from tests.support.processes import ServiceProcess

CS_SEND = "/cgi-bin/message/custom/send"
RULE = {
    "name": "menu",
    "priority": 1,
    "enabled": True,
    "trigger": {"kind": "keyword", "match": "contains", "pattern": "菜单"},
    "reply": {"type": "text", "content": "今天: 面"},
}
SETTLE = 3.0  # seconds a second send would need to show: a redelivery, the other replica


@dataclass
class Stack:
    gateway: ServiceProcess
    replies: list[ServiceProcess]
    account: Account
    fake: FakeAdmin


@pytest.fixture
async def fallback_stack(
    services, http, onboarded
) -> AsyncIterator[Callable[..., Awaitable[Stack]]]:
    """A gateway, two replies replicas and the fake WeChat as processes, one account with
    the menu rule. The gateway's deadline is one no responder meets: every answer takes
    the fallback path."""
    async with running_fake() as wechat:

        async def make(mode: str, followers: list[str] | None = None) -> Stack:
            gateway = await services("gateway", WXP_REPLY_DEADLINE_SECONDS="0.001")
            replies = [await services("replies", WECHAT_API_BASE=wechat) for _ in range(2)]
            _, account = await onboarded(
                gateway.url, name="Fallback", encrypt_mode=mode, app_secret="fallback-secret"
            )
            fake = FakeAdmin(http, wechat)
            extra = {} if followers is None else {"followers": followers}
            await fake.register(account.appid, "fallback-secret", **extra)
            await add_rule(http, replies[0], account.tenant_id)
            return Stack(gateway, replies, account, fake)

        yield make


async def add_rule(http: ClientSession, replies: ServiceProcess, tenant_id: str) -> None:
    """The menu rule, through a replies replica's API."""
    async with http.post(
        f"{replies.url}/api/tenants/{tenant_id}/rules",
        json=RULE,
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
    ) as response:
        assert response.status == 201


async def test_fallback_goes_through_customer_service_once(fallback_stack, http, amqp, tap_factory):
    stack = await fallback_stack("safe", followers=["o_reader", "o_other"])
    gateway, replies, account, fake = stack.gateway, stack.replies, stack.account, stack.fake
    tap = await tap_factory([f"{account.tenant_id}.reply.*"], answer=None)

    answer = await send(
        http, gateway.url, account, "text", openid="o_reader", overrides={"Content": "菜单?"}
    )
    assert answer.status == 200
    assert answer.body == b"success"
    await eventually(lambda: sent_to(fake, "o_reader", count=1))
    calls = await fake.calls(CS_SEND, account.appid)
    assert calls[0]["body"] == {
        "touser": "o_reader",
        "msgtype": "text",
        "text": {"content": "今天: 面"},
    }
    await wait_until(lambda: len(tap.of_type("reply.sent")) == 1)
    sent = tap.of_type("reply.sent")[0]
    assert sent.payload.via == "customer_service"
    assert sent.payload.rule_id.startswith("r")

    # The same fallback again, four times (redeliveries; the replicas share the queue, so
    # both get some): nothing more is sent, then or over the window after.
    fallback = tap.of_type("reply.fallback")[0]
    channel = await amqp.channel(publisher_confirms=True)
    exchange = await channel.get_exchange(EVENTS_EXCHANGE)
    for _ in range(4):
        await exchange.publish(
            aio_pika.Message(fallback.to_bytes()), fallback.routing_key, mandatory=True
        )
    # and a message without a matching rule gets no customer-service message at all
    await send(http, gateway.url, account, "text", openid="o_other", overrides={"Content": "hello"})
    await wait_until(lambda: len(tap.of_type("reply.fallback")) >= 6)
    await eventually(lambda: outcomes_at_least(http, replies, "duplicate", 4))
    await eventually(lambda: outcomes_at_least(http, replies, "no_rule", 1))
    await continually(lambda: sent_count_is(fake, account, 1), SETTLE, what="one message only")
    assert len(tap.of_type("reply.sent")) == 1


async def sent_to(fake: FakeAdmin, openid: str, *, count: int) -> bool:
    calls = await fake.calls(CS_SEND)
    return sum(1 for c in calls if c["body"].get("touser") == openid) >= count


async def sent_count_is(fake: FakeAdmin, account: Account, count: int) -> bool:
    return len(await fake.calls(CS_SEND, account.appid)) == count


async def outcomes_at_least(
    http, replies: list[ServiceProcess], outcome: str, value: float
) -> bool:
    sample = f'wxp_replies_fallback_total{{outcome="{outcome}"}}'
    return await metric_total(http, replies, sample) >= value


async def test_refusals_are_recorded_not_retried(fallback_stack, http):
    stack = await fallback_stack("plain", followers=["o_window"])
    gateway, replies, account, fake = stack.gateway, stack.replies, stack.account, stack.fake
    await fake.add_fault(path=CS_SEND, errcode=45015, times=1)  # out of the 48 h window

    # One after the other: the fault takes the first send whoever it is to, and the two
    # replicas would race o_gone's fallback ahead of o_window's now and then.
    refusals = (("o_window", "refused_out_of_window"), ("o_gone", "refused_not_following"))
    for openid, outcome in refusals:  # o_gone no longer follows the account
        answer = await send(
            http, gateway.url, account, "text", openid=openid, overrides={"Content": "菜单"}
        )
        assert answer.status == 200
        await eventually(lambda outcome=outcome: outcomes_at_least(http, replies, outcome, 1))

    async def once_each() -> bool:
        calls = await fake.calls(CS_SEND, account.appid)
        return sorted(c["body"]["touser"] for c in calls) == ["o_gone", "o_window"]

    await continually(once_each, SETTLE, what="each refusal tried once")


async def test_a_slow_or_failing_send_blocks_no_other_reader_and_is_never_doubled(
    fallback_stack, http
):
    stack = await fallback_stack("plain")
    gateway, replies, account, fake = stack.gateway, stack.replies, stack.account, stack.fake
    await fake.add_fault(path=CS_SEND, delay=4.0, times=1)  # WeChat hangs on this one

    await send(http, gateway.url, account, "text", openid="o_slow", overrides={"Content": "菜单"})
    await eventually(lambda: called(fake, 1))  # o_slow's send is under way, hanging
    started = time.monotonic()
    quick = [f"o_quick{n}" for n in range(4)]  # the replicas take turns: some share o_slow's
    for openid in quick:
        await send(http, gateway.url, account, "text", openid=openid, overrides={"Content": "菜单"})
    for openid in quick:
        await eventually(lambda openid=openid: sent_to(fake, openid, count=1), timeout=10)
    assert time.monotonic() - started < 3.0  # not queued behind the hanging call

    await fake.add_fault(path=CS_SEND, status=500, times=1)  # may or may not have arrived
    await send(http, gateway.url, account, "text", openid="o_maybe", overrides={"Content": "菜单"})
    await eventually(lambda: outcomes_at_least(http, replies, "unknown", 1))

    async def maybe_once() -> bool:
        calls = await fake.calls(CS_SEND, account.appid)
        return [c["body"]["touser"] for c in calls].count("o_maybe") == 1

    await continually(maybe_once, SETTLE, what="o_maybe's message not sent twice")


async def called(fake: FakeAdmin, count: int) -> bool:
    return len(await fake.calls(CS_SEND)) >= count


async def test_passive_replies_keep_flowing_while_wechat_hangs_on_fallbacks(
    services, http, onboarded
):
    """WeChat's customer-service API hangs; fallbacks pile up in the replies queue. A
    reader who writes meanwhile still gets the rule's passive answer within the deadline:
    the fallbacks waiting on WeChat hold no delivery the passive path needs."""
    async with running_fake() as wechat:
        rushed = await services("gateway", WXP_REPLY_DEADLINE_SECONDS="0.001")
        gateway = await services("gateway")  # the usual deadline
        replies = await services("replies", WECHAT_API_BASE=wechat)
        _, account = await onboarded(
            rushed.url, name="Hanging", encrypt_mode="safe", app_secret="hang-secret"
        )
        fake = FakeAdmin(http, wechat)
        readers = [f"o_waiting_{n}" for n in range(40)]
        await fake.register(account.appid, "hang-secret", followers=[*readers, "o_now"])
        await fake.add_fault(path=CS_SEND, delay=6.0, times=1000)  # past the client's 5 s
        await add_rule(http, replies, account.tenant_id)
        for openid in readers:  # 40 fallbacks, more than the replies' prefetch of 32
            answer = await send(
                http, rushed.url, account, "text", openid=openid, overrides={"Content": "菜单"}
            )
            assert answer.body == b"success"
        await eventually(lambda: called(fake, 24), timeout=10.0)  # the fallbacks hang on WeChat

        started = time.monotonic()
        answer = await send(
            http, gateway.url, account, "text", openid="o_now", overrides={"Content": "菜单?"}
        )
        assert answer.status == 200
        took = time.monotonic() - started
        assert answer.body != b"success", f"no passive reply: success after {took:.1f} s"
        assert "今天: 面" in answer.plaintext(account).decode()  # the menu rule's reply
        deferred = 'wxp_replies_fallback_total{outcome="deferred"}'
        assert await metric_total(http, [replies], deferred) > 0  # the rest wait their turn
