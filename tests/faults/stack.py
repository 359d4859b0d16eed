"""The stack under fault: two gateways and two replies services as processes, each
reaching the run's own servers (``servers.py``) through routes of the fault proxy of its
own, and the fake WeChat API taking the replies' customer-service messages."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from urllib.parse import urlparse

from aiohttp import ClientSession

from shared.wechat.simulator import Account
from tests.conftest import account_from, new_appid
from tests.faults.plan import REPLICAS
from tests.faults.servers import Servers
from tests.faults.wechat import Gateways
from tests.support.fake_wechat import FakeAdmin, running_fake
from tests.support.gateway import onboard, send, wait_ready
from tests.support.infra import amqp_url
from tests.support.processes import ServiceProcess, start_service
from tests.support.proxy import Proxies, running_proxies

ADMIN_KEY = "faults-admin-key"
APP_SECRET = "faults-secret"  # the fake WeChat's, for test accounts
CS_SEND = "/cgi-bin/message/custom/send"
CS_LATENCY = 0.5  # WeChat's customer-service API answers this slowly: sends are in flight
MODES = ("safe", "compatible", "plain")
RULES = (
    {
        "name": "menu",
        "priority": 3,
        "enabled": True,
        "trigger": {"kind": "keyword", "match": "contains", "pattern": "菜单"},
        "reply": {"type": "text", "content": "今天的菜单"},
    },
    {
        "name": "welcome",
        "priority": 2,
        "enabled": True,
        "trigger": {"kind": "subscribe"},
        "reply": {"type": "text", "content": "欢迎"},
    },
    {
        "name": "news",
        "priority": 1,
        "enabled": True,
        "trigger": {"kind": "click", "key": "MENU_NEWS"},
        "reply": {"type": "text", "content": "新闻"},
    },
)
SETTINGS = {
    "gateway-a": {"WXP_RELAY_INTERVAL_SECONDS": "0.5"},
    # This replica cannot wait for any passive reply: its readers are answered through the
    # customer-service API, so both reply paths are under fault at once.
    "gateway-b": {"WXP_RELAY_INTERVAL_SECONDS": "0.5", "WXP_REPLY_DEADLINE_SECONDS": "0.005"},
}


@dataclass
class Stack:
    http: ClientSession
    servers: Servers
    proxies: Proxies
    wechat: FakeAdmin
    wechat_base: str
    queue_prefix: str
    replicas: dict[str, ServiceProcess] = field(default_factory=dict)
    retired: list[ServiceProcess] = field(default_factory=list)
    gateways: Gateways = field(default_factory=lambda: Gateways({}))
    accounts: dict[int, Account] = field(default_factory=dict)

    def environment(self, replica: str) -> dict[str, str]:
        env = {
            "AMQP_URL": self.servers.broker_url(self.proxies.address(f"{replica}-amqp")),
            "MONGODB_URL": self.servers.mongodb_url(self.proxies.address(f"{replica}-db")),
            **SETTINGS.get(replica, {}),
        }
        if replica.startswith("replies"):
            env["WECHAT_API_BASE"] = self.wechat_base
        return env

    async def start(self, replica: str) -> ServiceProcess:
        service = start_service(
            replica.split("-")[0],
            queue_prefix=self.queue_prefix,
            admin_key=ADMIN_KEY,
            **self.environment(replica),
        )
        await self._ready(replica, service)
        return service

    async def replace(self, replica: str) -> None:
        """A new process for a killed replica, taking traffic once ready."""
        old = self.replicas[replica]
        self.retired.append(old)
        new = old.replacement()
        self.replicas[replica] = new
        await self._ready(replica, new)

    async def _ready(self, replica: str, service: ServiceProcess) -> None:
        self.replicas[replica] = service
        try:
            await wait_ready(self.http, service.url, timeout=40)
        except AssertionError:
            raise AssertionError(f"{replica} not ready; its log:\n{service.log()}") from None
        if replica.startswith("gateway"):
            self.gateways.urls[replica] = service.url

    def kill(self, replica: str) -> ServiceProcess:
        """``kill -9``; WeChat's load balancer stops sending it anything at once."""
        self.gateways.urls.pop(replica, None)
        service = self.replicas[replica]
        service.kill()
        return service

    def logs(self) -> list[ServiceProcess]:
        return [*self.retired, *self.replicas.values()]

    async def onboard(self, tenants: int) -> None:
        gateway, replies = self.replicas["gateway-a"].url, self.replicas["replies-a"].url
        admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
        for n in range(tenants):
            record = await onboard(
                self.http,
                gateway,
                ADMIN_KEY,
                name=f"Faults {n}",
                appid=new_appid(),
                app_secret=APP_SECRET,
                account_type="service",
                encrypt_mode=MODES[n % len(MODES)],
            )
            account = account_from(record)
            self.accounts[n] = account
            await self.wechat.register(account.appid, APP_SECRET)
            for rule in RULES:
                url = f"{replies}/api/tenants/{account.tenant_id}/rules"
                async with self.http.post(url, json=rule, headers=admin) as response:
                    assert response.status == 201, await response.text()
        await self.wechat.add_fault(path=CS_SEND, delay=CS_LATENCY)

    async def warm_up(self) -> None:
        """Every gateway knows every account before the traffic starts."""
        for account in self.accounts.values():
            for replica in ("gateway-a", "gateway-b"):
                url = self.replicas[replica].url
                answer = await send(
                    self.http, url, account, "event:VIEW", openid=f"o_warm_{replica}"
                )
                assert answer.status == 200, (replica, answer.status, answer.body)

    def terminate(self) -> None:
        for service in self.replicas.values():
            service.terminate(timeout=10)


@contextlib.asynccontextmanager
async def fault_stack(
    http: ClientSession, servers: Servers, queue_prefix: str
) -> AsyncIterator[Stack]:
    broker = urlparse(amqp_url())
    addresses = {
        "amqp": (broker.hostname or "127.0.0.1", broker.port or 5672),
        "db": ("127.0.0.1", servers.database_port),
    }
    targets = {f"{r}-{kind}": addresses[kind] for r in REPLICAS for kind in addresses}
    async with running_fake() as wechat_base, running_proxies(http, targets) as proxies:
        admin = FakeAdmin(http, wechat_base)
        stack = Stack(http, servers, proxies, admin, wechat_base, queue_prefix)
        try:
            await asyncio.gather(*(stack.start(replica) for replica in REPLICAS))
            yield stack
        finally:
            stack.terminate()
