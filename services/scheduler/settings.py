"""Scheduler settings: a consumer service's, on port 8082 (``SCHEDULER_PORT``)."""

from __future__ import annotations

from collections.abc import Mapping

from shared.platform.settings import ConsumerSettings


def from_env(env: Mapping[str, str] | None = None) -> ConsumerSettings:
    return ConsumerSettings.from_env(env, port_var="SCHEDULER_PORT", port=8082)
