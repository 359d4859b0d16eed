"""The analytics handlers. Today they take readers' messages, WeChat's events and the
platform's reply events off the queue and ack them; the counting arrives with its issue."""

from __future__ import annotations

import logging

from shared.contracts.messages import WeChatMessage
from shared.contracts.reply_events import ReplySent
from shared.platform.delivery import Delivery

logger = logging.getLogger(__name__)


async def wechat_event(delivery: Delivery[WeChatMessage]) -> None:
    logger.debug("event %s (%s) taken", delivery.envelope.id, delivery.envelope.type)


async def reply_sent(delivery: Delivery[ReplySent]) -> None:
    logger.debug(
        "reply %s by rule %s taken", delivery.envelope.id, delivery.envelope.payload.rule_id
    )
