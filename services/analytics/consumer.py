"""The analytics service's handler. It takes its events off the queue and acks them;
its real work arrives with its own issue."""

from __future__ import annotations

import logging

from shared.consumer import Delivery
from shared.directory import TenantDirectory
from shared.runtime import Platform, ServiceParts

logger = logging.getLogger(__name__)


async def handle(delivery: Delivery) -> None:
    logger.debug("event %s (%s) taken", delivery.envelope.id, delivery.envelope.type)


def build(_: Platform, __: TenantDirectory) -> ServiceParts:
    return ServiceParts(handler=handle)
