"""Analytics settings: a consumer service's, on port 8083 (``ANALYTICS_PORT``), with a
prefetch sized to its work (``WXP_PREFETCH`` still overrides it)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping

from shared.platform.settings import ConsumerSettings

# Each message costs analytics about a tenth of a millisecond: a wide window lets the broker
# stream while batched acks are on their way (tests/bench/consumer.py: a few % more than 32).
PREFETCH = 256


def from_env(env: Mapping[str, str] | None = None) -> ConsumerSettings:
    env = os.environ if env is None else env
    settings = ConsumerSettings.from_env(env, port_var="ANALYTICS_PORT", port=8083)
    if "WXP_PREFETCH" in env:
        return settings
    return dataclasses.replace(settings, prefetch=PREFETCH)
