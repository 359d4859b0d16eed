"""Sending as WeChat does, and remembering what happened to every attempt.

WeChat posts a message and waits 5 s. Without an answer in time, or on a non-2xx answer,
it sends the same body again, with a fresh timestamp, nonce and signature, up to three
attempts in all; then it gives up. Behind a load balancer each attempt may reach either
gateway replica.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

import aiohttp
from aiohttp import ClientSession

from shared.contracts.envelope import event_event_id, message_event_id
from shared.wechat.samples import SAMPLES, build_xml
from shared.wechat.simulator import Account, sign_request
from tests.faults.plan import Webhook
from tests.support.gateway import post_signed

ATTEMPTS = 3
WAIT = 5.0  # WeChat gives up on an attempt after this long
PAUSE_AFTER_ERROR = 0.5  # before retrying an attempt answered non-2xx


@dataclass(slots=True)
class Attempt:
    replica: str
    started: float  # seconds after the traffic started
    ended: float = 0.0
    status: int | None = None  # None: no answer (WeChat's wait ran out, or no connection)
    replied: bool = False  # a passive reply, not "success"

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass(slots=True)
class Chain:
    """A webhook and its attempts."""

    hook: Webhook
    tenant_id: str
    event_id: str = ""
    attempts: list[Attempt] = field(default_factory=list)

    @property
    def answered(self) -> bool:
        return any(a.ok for a in self.attempts)

    @property
    def replied(self) -> bool:
        """WeChat took a passive reply from the attempt it accepted."""
        return any(a.ok and a.replied for a in self.attempts)


@dataclass
class Gateways:
    """The replicas WeChat reaches now (a load balancer's view), and the attempts each
    has open: what a kill catches in flight."""

    urls: dict[str, str]
    open: dict[str, set[int]] = field(default_factory=dict)

    def live(self) -> list[str]:
        return sorted(self.urls)

    def in_flight(self, replica: str) -> set[int]:
        return set(self.open.get(replica, ()))


def expected_id(tenant_id: str, hook: Webhook, create_time: int) -> str:
    """The envelope id the contract derives (shared/contracts/envelope.py)."""
    if hook.msg_id is not None:
        return message_event_id(tenant_id, hook.msg_id)
    fields = {**SAMPLES[hook.sample], **hook.overrides}
    event, key = str(fields.get("Event", hook.event_name)), str(fields.get("EventKey", ""))
    return event_event_id(tenant_id, hook.openid, str(create_time), event, key)


class WeChatServer:
    def __init__(
        self,
        http: ClientSession,
        gateways: Gateways,
        accounts: Mapping[int, Account],
        *,
        seed: int,
        started: float,
    ) -> None:
        self.http = http
        self.gateways = gateways
        self.accounts = accounts
        self.seed = seed
        self.started = started
        self.chains: list[Chain] = []

    def clock(self) -> float:
        return time.monotonic() - self.started

    async def deliver(self, hook: Webhook) -> Chain:
        account = self.accounts[hook.tenant]
        create_time = int(time.time())
        xml = build_xml(
            hook.sample,
            openid=hook.openid,
            account="gh_faults",
            create_time=create_time,
            msg_id=hook.msg_id,
            overrides=hook.overrides,
        )
        chain = Chain(hook, account.tenant_id, expected_id(account.tenant_id, hook, create_time))
        self.chains.append(chain)
        choice = random.Random(f"{self.seed}/{hook.n}")
        for attempt_no in range(ATTEMPTS):
            live = self.gateways.live()
            attempt = Attempt(choice.choice(live) if live else "none", self.clock())
            chain.attempts.append(attempt)
            await self._attempt(attempt, account, xml, hook)
            if attempt.ok:
                break
            if attempt.ended - attempt.started < WAIT and attempt_no < ATTEMPTS - 1:
                await asyncio.sleep(PAUSE_AFTER_ERROR)  # refused or answered non-2xx
        return chain

    async def _attempt(self, attempt: Attempt, account: Account, xml: bytes, hook: Webhook) -> None:
        url = self.gateways.urls.get(attempt.replica)
        opened = self.gateways.open.setdefault(attempt.replica, set())
        opened.add(hook.n)
        try:
            if url is None:
                raise aiohttp.ClientConnectionError("replica gone")
            signed = sign_request(account, xml, openid=hook.openid)
            async with asyncio.timeout(WAIT):
                answer = await post_signed(self.http, url, account, signed)
            attempt.status = answer.status
            attempt.replied = answer.status == 200 and answer.body not in (b"success", b"")
        except (TimeoutError, aiohttp.ClientError, OSError):
            attempt.status = None
        finally:
            opened.discard(hook.n)
            attempt.ended = self.clock()
