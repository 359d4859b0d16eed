"""The scheduler's handlers. Today it takes WeChat's job-finish reports off its queue and
acks them; broadcasts arrive with their own issue."""

from __future__ import annotations

import logging

from shared.contracts.messages import WeChatMessage
from shared.platform.delivery import Delivery

logger = logging.getLogger(__name__)


async def job_finished(delivery: Delivery[WeChatMessage]) -> None:
    logger.debug("event %s (%s) taken", delivery.envelope.id, delivery.envelope.type)
