"""Scheduler settings: a consumer service's (port 8082, ``SCHEDULER_PORT``) plus its own.

- ``WXP_SCHEDULER_CLAIM_SECONDS`` (60, at least 30): how long a replica owns a run it
  started; a run whose owner died is taken over, with the same ``clientmsgid``, once that
  has passed.
- ``WXP_SCHEDULER_SCAN_SECONDS`` (5) and ``WXP_SCHEDULER_HORIZON_SECONDS`` (30): how often
  each replica reads the due index, and how far ahead it loads runs into its timer.
- ``WXP_SCHEDULER_CHECK_AFTER_SECONDS`` (3600): a submitted run whose finish report has
  not come is asked about through ``mass/get`` after this long.
- ``WXP_SCHEDULER_MAX_PER_WEEK`` (3): more broadcasts than this in 7 days get a warning.
- ``WXP_BROADCAST_MAX_TEXT`` (10,000) and ``WXP_BROADCAST_MAX_OPENIDS`` (1,000,000).
- ``WXP_SCHEDULER_CONCURRENCY`` (32): runs one replica works on at once.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from services.scheduler.runner import CALL_BUDGET
from services.scheduler.spec import SpecLimits
from shared.platform.settings import (
    CommonSettings,
    ConsumerSettings,
    SettingsError,
    env_float,
    env_int,
)

MIN_CLAIM_SECONDS = CALL_BUDGET.total_seconds() + 5


@dataclass(frozen=True, slots=True)
class SchedulerSettings:
    consumer: ConsumerSettings = field(default_factory=lambda: ConsumerSettings(CommonSettings()))
    limits: SpecLimits = field(default_factory=SpecLimits)
    claim_seconds: float = 60.0
    scan_seconds: float = 5.0
    horizon_seconds: float = 30.0
    check_after_seconds: float = 3600.0
    max_per_week: int = 3
    concurrency: int = 32

    @property
    def common(self) -> CommonSettings:
        return self.consumer.common

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SchedulerSettings:
        env = os.environ if env is None else env
        settings = cls(
            consumer=ConsumerSettings.from_env(env, port_var="SCHEDULER_PORT", port=8082),
            limits=SpecLimits(
                max_text=env_int(env, "WXP_BROADCAST_MAX_TEXT", 10_000),
                max_openids=env_int(env, "WXP_BROADCAST_MAX_OPENIDS", 1_000_000),
            ),
            claim_seconds=env_float(env, "WXP_SCHEDULER_CLAIM_SECONDS", 60.0),
            scan_seconds=env_float(env, "WXP_SCHEDULER_SCAN_SECONDS", 5.0),
            horizon_seconds=env_float(env, "WXP_SCHEDULER_HORIZON_SECONDS", 30.0),
            check_after_seconds=env_float(env, "WXP_SCHEDULER_CHECK_AFTER_SECONDS", 3600.0),
            max_per_week=env_int(env, "WXP_SCHEDULER_MAX_PER_WEEK", 3),
            concurrency=env_int(env, "WXP_SCHEDULER_CONCURRENCY", 32),
        )
        if settings.claim_seconds < MIN_CLAIM_SECONDS:
            raise SettingsError(
                f"WXP_SCHEDULER_CLAIM_SECONDS must be at least {MIN_CLAIM_SECONDS:.0f}: "
                "a claim must outlast a mass-send call with its retries"
            )
        if settings.horizon_seconds <= settings.scan_seconds:
            raise SettingsError("WXP_SCHEDULER_HORIZON_SECONDS must exceed the scan interval")
        if settings.limits.max_text < 1 or settings.limits.max_openids < 2:
            raise SettingsError("broadcast limits must allow a text and two openids")
        return settings
