"""The replies service's handler. For now it answers every passive-reply request
with ``none`` at once, so the gateway answers WeChat without waiting out the
deadline; keyword rules arrive with the replies issue."""

from __future__ import annotations

import json
import logging
import time

from shared.consumer import Delivery, Handler

logger = logging.getLogger(__name__)
DEADLINE_HEADER = "x-wxp-reply-deadline"
NO_REPLY = json.dumps({"type": "none"}).encode()


def deadline_passed(headers: dict[str, object], now_ms: int) -> bool:
    deadline = headers.get(DEADLINE_HEADER)
    return not isinstance(deadline, int) or deadline <= now_ms


async def handle(delivery: Delivery) -> None:
    if delivery.reply_to and not deadline_passed(delivery.headers, int(time.time() * 1000)):
        await delivery.reply(NO_REPLY)
    logger.debug("event %s (%s) handled", delivery.envelope.id, delivery.envelope.type)


def build() -> Handler:
    return handle
