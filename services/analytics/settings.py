"""Analytics settings: a consumer service's, on port 8083 (``ANALYTICS_PORT``), with a
prefetch sized to its work (``WXP_PREFETCH`` still overrides it), and its own:

- ``WXP_ANALYTICS_RAW_DAYS`` (35): how long the raw log keeps facts; older days are kept
  as finalized daily figures.
- ``WXP_ANALYTICS_REFRESH_SECONDS`` (60) and ``WXP_ANALYTICS_FULL_REFRESH_SECONDS`` (3600):
  how often touched tenants, and every tenant, get their overview row and send hour.
- ``WXP_ANALYTICS_DORMANT_DAYS`` (7) and ``WXP_ANALYTICS_DECLINING_RATIO`` (0.5): health.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from services.analytics.figures import HealthPolicy
from shared.platform.settings import (
    CommonSettings,
    ConsumerSettings,
    SettingsError,
    env_float,
    env_int,
)

# Each message costs analytics about a sixth of a millisecond, and its ack waits for the
# inbox write that carries it (tens of milliseconds on FerretDB): a wide window keeps the
# broker streaming meanwhile, and lets hundreds of facts share one insert.
PREFETCH = 1024


@dataclass(frozen=True, slots=True)
class AnalyticsSettings:
    consumer: ConsumerSettings = field(default_factory=lambda: ConsumerSettings(CommonSettings()))
    raw_days: int = 35
    refresh_seconds: float = 60.0
    full_refresh_seconds: float = 3600.0
    health: HealthPolicy = field(default_factory=HealthPolicy)

    @property
    def common(self) -> CommonSettings:
        return self.consumer.common

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> AnalyticsSettings:
        env = os.environ if env is None else env
        settings = cls(
            consumer=from_env(env),
            raw_days=env_int(env, "WXP_ANALYTICS_RAW_DAYS", 35),
            refresh_seconds=env_float(env, "WXP_ANALYTICS_REFRESH_SECONDS", 60.0),
            full_refresh_seconds=env_float(env, "WXP_ANALYTICS_FULL_REFRESH_SECONDS", 3600.0),
            health=HealthPolicy(
                dormant_days=env_int(env, "WXP_ANALYTICS_DORMANT_DAYS", 7),
                declining_ratio=env_float(env, "WXP_ANALYTICS_DECLINING_RATIO", 0.5),
            ),
        )
        if settings.raw_days < 30:
            raise SettingsError("WXP_ANALYTICS_RAW_DAYS must be at least 30 (activity needs 30)")
        return settings


def from_env(env: Mapping[str, str] | None = None) -> ConsumerSettings:
    """The consumer part: analytics' prefetch unless ``WXP_PREFETCH`` is set."""
    env = os.environ if env is None else env
    settings = ConsumerSettings.from_env(env, port_var="ANALYTICS_PORT", port=8083)
    if "WXP_PREFETCH" in env:
        return settings
    return dataclasses.replace(settings, prefetch=PREFETCH)
