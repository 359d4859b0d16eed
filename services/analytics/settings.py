"""Analytics settings: a consumer service's, on port 8083 (``ANALYTICS_PORT``)."""

from __future__ import annotations

from collections.abc import Mapping

from shared.platform.settings import ConsumerSettings


def from_env(env: Mapping[str, str] | None = None) -> ConsumerSettings:
    return ConsumerSettings.from_env(env, port_var="ANALYTICS_PORT", port=8083)
