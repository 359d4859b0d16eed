"""The mass-send side of the fake WeChat API (:mod:`tests.support.fake_wechat`). TEST-ONLY.

WeChat's rules, as plain code over times passed in: the jobs it accepted, the send quota
of an account's type (subscription: 1 ``sendall`` a calendar day; service: 4 a calendar
month; in the account's time zone, by wall-clock time), a ``clientmsgid`` answered with
the earlier job for 24 hours, 60 mass-API calls a rolling minute, and the
MASSSENDJOBFINISH event WeChat posts when a job ends. :class:`Courier` is the one part
that does I/O: it posts those events, signed and encrypted by
:mod:`shared.wechat.simulator`, the same code ``wxp simulate`` uses.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict, deque
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from aiohttp import ClientError, ClientSession, ClientTimeout

from shared.wechat import simulator
from shared.wechat.crypto import decode_aes_key
from shared.wechat.samples import build_xml

logger = logging.getLogger(__name__)

Json = dict[str, Any]
SEND_SUCCESS = "send success"  # the event's Status of a job that went out
MPHELPER = "mphelper"  # the sender of WeChat's mass-send reports
QUOTAS = {"subscription": ("%Y-%m-%d", 1), "service": ("%Y-%m", 4)}  # sendall per period
CLIENTMSGID_SECONDS = 24 * 3600.0
MINUTE_CALLS = 60
DEFAULT_AUDIENCE = 100  # TotalCount of a send to all or a tag when followers are unlisted
ATTEMPTS = 3  # WeChat posts an event at most three times
ATTEMPT_SECONDS = 5.0  # and gives up on an answer after five seconds
RETRY_PAUSE = 0.5


@dataclass(frozen=True)
class Webhook:
    """Where WeChat posts an account's events, and the keys it signs and encrypts with."""

    url: str
    token: str
    encoding_aes_key: str
    original_id: str  # gh_...: the event's ToUserName
    encrypt_mode: str = "safe"  # plain | compatible | safe

    def __post_init__(self) -> None:
        if self.encrypt_mode not in ("plain", "compatible", "safe"):
            raise ValueError("encrypt_mode must be plain, compatible or safe")
        if self.encrypt_mode != "plain":
            decode_aes_key(self.encoding_aes_key)  # a CryptoError (a ValueError) if bad


@dataclass
class MassJob:
    """One accepted ``sendall`` or ``send``; ``callback`` tells what became of its event."""

    msg_id: int
    appid: str
    target: str  # all | tag | openids
    msgtype: str
    total: int  # TotalCount
    filtered: int  # FilterCount: the followers among them
    accepted_at: float  # the fake's clock
    accepted_wall: float  # wall-clock seconds: what the quota counts by
    finish_at: float  # the fake's clock: mass/get answers SENDING until then
    finish_status: str  # the event's Status: "send success", or "err(N)" for a failure
    tag_id: int | None = None
    clientmsgid: str | None = None
    deleted: bool = False
    deleted_articles: list[int] = field(default_factory=list)
    callback: str = "none"  # none (no webhook) | suppressed | pending | delivered | failed
    attempts: list[str] = field(default_factory=list)  # each POST: HTTP status or error

    @property
    def succeeded(self) -> bool:
        return self.finish_status == SEND_SUCCESS

    @property
    def sent(self) -> int:
        return self.filtered if self.succeeded else 0

    @property
    def errors(self) -> int:
        return 0 if self.succeeded else self.filtered

    def status(self, now: float) -> str:
        """mass/get's ``msg_status`` at ``now`` (the fake's clock)."""
        if self.deleted:
            return "DELETE"
        if now < self.finish_at:
            return "SENDING"
        return "SEND_SUCCESS" if self.succeeded else "SEND_FAIL"

    def as_json(self, now: float) -> Json:
        return {
            **asdict(self),
            "status": self.status(now),
            "sent": self.sent,
            "errors": self.errors,
        }


def check_quota_rule(account_type: str, timezone: str) -> None:
    """Raises ValueError for an account type without a quota, KeyError for a bad zone."""
    if account_type not in QUOTAS:
        raise ValueError(f"account_type must be one of {sorted(QUOTAS)}")
    ZoneInfo(timezone)


def quota_period(account_type: str, timezone: str, wall: float) -> tuple[str, int]:
    """The quota period ``wall`` falls in (a local day or month) and its number of sends."""
    pattern, limit = QUOTAS[account_type]
    return datetime.fromtimestamp(wall, ZoneInfo(timezone)).strftime(pattern), limit


class MassLedger:
    """Every account's accepted jobs and recent mass-API calls."""

    def __init__(self) -> None:
        self.jobs: dict[int, MassJob] = {}
        self._calls: defaultdict[str, deque[float]] = defaultdict(deque)

    def admit_call(self, appid: str, now: float) -> bool:
        """False when ``appid`` made its 60 calls in the minute before ``now``; only the
        calls admitted count."""
        window = self._calls[appid]
        while window and window[0] <= now - 60.0:
            window.popleft()
        if len(window) >= MINUTE_CALLS:
            return False
        window.append(now)
        return True

    def earlier(self, appid: str, clientmsgid: str, now: float) -> MassJob | None:
        """The job accepted under ``clientmsgid`` in the 24 hours before ``now``."""
        for job in reversed(self.accepted(appid)):
            if job.clientmsgid == clientmsgid and now - job.accepted_at < CLIENTMSGID_SECONDS:
                return job
        return None

    def quota_left(self, appid: str, account_type: str, timezone: str, wall: float) -> bool:
        period, limit = quota_period(account_type, timezone, wall)
        used = [
            job
            for job in self.accepted(appid)
            if job.target != "openids"
            and quota_period(account_type, timezone, job.accepted_wall)[0] == period
        ]
        return len(used) < limit

    def record(self, job: MassJob) -> None:
        self.jobs[job.msg_id] = job

    def job(self, appid: str, msg_id: int) -> MassJob | None:
        job = self.jobs.get(msg_id)
        return job if job is not None and job.appid == appid else None

    def accepted(self, appid: str | None = None) -> list[MassJob]:
        return [job for job in self.jobs.values() if appid is None or job.appid == appid]


def finish_event(webhook: Webhook, job: MassJob, wall: float) -> simulator.SignedRequest:
    """The MASSSENDJOBFINISH request WeChat posts for ``job``, signed (and encrypted)."""
    fields = {
        "MsgID": str(job.msg_id),
        "Status": job.finish_status,
        "TotalCount": str(job.total),
        "FilterCount": str(job.filtered),
        "SentCount": str(job.sent),
        "ErrorCount": str(job.errors),
        "CopyrightCheckResult": {"Count": "0", "ResultList": [], "CheckState": "1"},
        "ArticleUrlResult": {"Count": "0", "ResultList": []},
    }
    xml = build_xml(
        "event:MASSSENDJOBFINISH",
        openid=MPHELPER,
        account=webhook.original_id,
        create_time=int(wall),
        overrides=fields,
    )
    signer = simulator.Account(
        tenant_id="",
        appid=job.appid,
        token=webhook.token,
        encoding_aes_key=webhook.encoding_aes_key,
        encrypt_mode=webhook.encrypt_mode,
    )
    return simulator.sign_request(signer, xml, openid=MPHELPER, timestamp=int(wall))


class Courier:
    """Posts each job's finish event in a task of its own; ``close`` cancels the tasks
    still waiting. A task's unexpected failure is logged, never dropped."""

    def __init__(self, http: ClientSession, *, wall: Callable[[], float]) -> None:
        self.http, self.wall = http, wall
        self.tasks: set[asyncio.Task[None]] = set()

    def post_later(self, job: MassJob, webhook: Webhook, delay: float) -> None:
        job.callback = "pending"
        task = asyncio.get_running_loop().create_task(
            self._deliver(job, webhook, delay), name=f"fake-wechat finish {job.msg_id}"
        )
        self.tasks.add(task)
        task.add_done_callback(self._done)

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.error("finish event task %s failed", task.get_name(), exc_info=task.exception())

    async def _deliver(self, job: MassJob, webhook: Webhook, delay: float) -> None:
        await asyncio.sleep(delay)
        request = finish_event(webhook, job, self.wall())
        for attempt in range(1, ATTEMPTS + 1):
            outcome = await self._post(webhook.url, request)
            job.attempts.append(outcome)
            if outcome == "200":
                job.callback = "delivered"
                return
            logger.warning(
                "finish event of %s for %s: attempt %s answered %s",
                job.msg_id,
                job.appid,
                attempt,
                outcome,
            )
            if attempt < ATTEMPTS:
                await asyncio.sleep(RETRY_PAUSE)
        job.callback = "failed"
        logger.error("finish event of %s for %s not delivered", job.msg_id, job.appid)

    async def _post(self, url: str, request: simulator.SignedRequest) -> str:
        try:
            async with self.http.post(
                url,
                params=request.query,
                data=request.body,
                headers={"Content-Type": "text/xml"},
                timeout=ClientTimeout(total=ATTEMPT_SECONDS),
            ) as response:
                await response.read()
                return str(response.status)
        except (ClientError, TimeoutError) as exc:
            return type(exc).__name__
