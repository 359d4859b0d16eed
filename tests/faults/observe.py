"""What the run looks at once the traffic is over: it waits, each time within a bound,
for what should still come out, then reads the replies' sent log and what the fake
WeChat took."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Awaitable, Callable

from services.gateway.relay import RELAY_CLAIM_SECONDS
from shared.platform.storage import CONTROL_DB, Client, PyMongoError, tenant_db_name
from tests.faults.stack import CS_SEND, Stack
from tests.faults.tap import BusRecord
from tests.faults.verdict import base_id
from tests.faults.wechat import Chain
from tests.support.bus import eventually, stays_true

SETTLE = 6.0  # seconds the bus must stay quiet before it is judged: > relay pass + confirm
# Seconds the kept events and the required ids get to come out, together: a replica killed
# just before this wait began leaves relay claims that block the others for their whole
# RELAY_CLAIM_SECONDS (the product's bound), then a relay pass publishes what they held.
DRAIN = RELAY_CLAIM_SECONDS + 30.0
EFFECTS = 45.0  # a claim left by a killed replica is stale after 30 s, then retried
QUIET = 30.0  # seconds the bus gets to fall quiet


async def settle(tap: BusRecord, mongo: Client, tenants: list[str], chains: list[Chain]) -> str:
    """Waits, each within a bound, for what the run should still bring out: the kept events
    published, the required ids on the bus, every reply effect in a final state; then for
    the bus to stay quiet for a whole ``SETTLE`` window. Says what never came."""
    outbox = mongo[CONTROL_DB].gateway_outbox
    waiting = {"tenant_id": {"$in": tenants}, "published_at": None}
    required = {c.event_id for c in chains if c.answered}
    answered_by_rule = {c.event_id for c in chains if c.hook.rule}
    problems = []

    async def released() -> bool:
        return await outbox.count_documents(waiting) == 0

    async def effects_final() -> bool:
        log = await sent_log(mongo, tenants)
        fallbacks = {base_id(i) for i in tap.copies if i.endswith("-fb")} & answered_by_rule
        return "sending" not in log.values() and fallbacks <= set(log)

    async def on_bus() -> bool:
        return required <= set(tap.copies)

    drained_by = time.monotonic() + DRAIN
    for check, what in (
        (released, "kept events published"),
        (on_bus, "required ids on the bus"),
        (effects_final, "reply effects final"),
    ):
        timeout = EFFECTS if check is effects_final else drained_by - time.monotonic()
        try:
            await eventually(tolerant(check), timeout=round(max(timeout, 1.0), 1), what=what)
        except AssertionError as exc:
            problems.append(str(exc))
    quiet_by = time.monotonic() + QUIET
    while True:
        count = tap.total
        try:
            await stays_true(lambda n=count: tap.total == n, SETTLE, what="the bus quiet")
            break
        except AssertionError:
            if time.monotonic() > quiet_by:
                problems.append(f"the bus never stayed quiet for {SETTLE}s")
                break
    return "; ".join(problems) or "settled"


def tolerant(check: Callable[[], Awaitable[bool]]) -> Callable[[], Awaitable[bool]]:
    """A look at the database that fails while it is away is a look that says no."""

    async def look() -> bool:
        try:
            return await check()
        except PyMongoError:
            return False

    return look


async def sent_log(mongo: Client, tenants: list[str]) -> dict[str, str]:
    """Each event's status in the replies' sent log: that of its latest claim (an event
    may have several, ``{id}``, ``{id}~1``, ...; the earlier ones end ``abandoned``)."""
    latest: dict[str, tuple[int, str]] = {}
    for tenant_id in tenants:
        async for doc in mongo[tenant_db_name(tenant_id)].replies_sent.find({}):
            event_id = str(doc.get("event_id") or doc["_id"]).split("~")[0]
            attempt = doc.get("attempt") if type(doc.get("attempt")) is int else 0
            if event_id not in latest or attempt >= latest[event_id][0]:
                latest[event_id] = (attempt, str(doc.get("status")))
    return {event_id: status for event_id, (_, status) in latest.items()}


async def cs_sends(stack: Stack) -> Counter[str]:
    appids = {a.appid for a in stack.accounts.values()}
    calls = await stack.wechat.calls(CS_SEND)
    return Counter(c["body"]["touser"] for c in calls if c["appid"] in appids)
