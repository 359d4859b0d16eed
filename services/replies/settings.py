"""Replies settings: a consumer service's (port 8081, ``REPLIES_PORT``) plus WeChat's
customer-service window and quota, which change: ``WXP_CS_MESSAGE_WINDOW_HOURS`` (48),
``WXP_CS_MESSAGE_LIMIT`` (5), ``WXP_CS_EVENT_WINDOW_SECONDS`` (60), ``WXP_CS_EVENT_LIMIT`` (3);
the most rules a tenant may have, ``WXP_MAX_RULES_PER_TENANT`` (10,000); and how long
customer-service claims and reader inbox items are kept, ``WXP_REPLIES_RETENTION_DAYS`` (30,
longer than the message window), purged every ``WXP_REPLIES_PURGE_INTERVAL_SECONDS`` (3600);
how many fallbacks a replica may hold at once, ``WXP_FALLBACKS_AT_ONCE`` (three quarters
of ``WXP_PREFETCH``, at least 1; below the prefetch, so that readers' messages always have
room to be answered passively: ``fallback.py``)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from services.replies.customer_service import QuotaPolicy
from services.replies.fallback import DEFAULT_AT_ONCE
from shared.platform.settings import (
    CommonSettings,
    ConsumerSettings,
    SettingsError,
    env_float,
    env_int,
)

DEFAULT_MAX_RULES = 10_000
DEFAULT_RETENTION_DAYS = 30
DEFAULT_PURGE_INTERVAL = 3600.0


@dataclass(frozen=True, slots=True)
class RepliesSettings:
    consumer: ConsumerSettings = field(default_factory=lambda: ConsumerSettings(CommonSettings()))
    quota: QuotaPolicy = field(default_factory=QuotaPolicy)
    max_rules_per_tenant: int = DEFAULT_MAX_RULES
    retention: timedelta = timedelta(days=DEFAULT_RETENTION_DAYS)
    purge_interval_seconds: float = DEFAULT_PURGE_INTERVAL
    fallbacks_at_once: int = DEFAULT_AT_ONCE

    @property
    def common(self) -> CommonSettings:
        return self.consumer.common

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RepliesSettings:
        env = os.environ if env is None else env
        max_rules = env_int(env, "WXP_MAX_RULES_PER_TENANT", DEFAULT_MAX_RULES)
        if max_rules < 1:
            raise SettingsError(f"WXP_MAX_RULES_PER_TENANT must be at least 1, got {max_rules}")
        quota = QuotaPolicy(
            message_window=timedelta(hours=env_float(env, "WXP_CS_MESSAGE_WINDOW_HOURS", 48)),
            message_limit=env_int(env, "WXP_CS_MESSAGE_LIMIT", 5),
            event_window=timedelta(seconds=env_float(env, "WXP_CS_EVENT_WINDOW_SECONDS", 60)),
            event_limit=env_int(env, "WXP_CS_EVENT_LIMIT", 3),
        )
        days = env_int(env, "WXP_REPLIES_RETENTION_DAYS", DEFAULT_RETENTION_DAYS)
        if timedelta(days=days) <= max(quota.message_window, quota.event_window):
            raise SettingsError(
                f"WXP_REPLIES_RETENTION_DAYS must outlast the customer-service window "
                f"(WXP_CS_MESSAGE_WINDOW_HOURS), got {days}"
            )
        interval = env_float(env, "WXP_REPLIES_PURGE_INTERVAL_SECONDS", DEFAULT_PURGE_INTERVAL)
        if not 1 <= interval <= 86_400:
            raise SettingsError(
                f"WXP_REPLIES_PURGE_INTERVAL_SECONDS must be from 1 to 86400, got {interval}"
            )
        consumer = ConsumerSettings.from_env(env, port_var="REPLIES_PORT", port=8081)
        prefetch = consumer.prefetch  # 0: no bound, which leaves room whatever the limit
        most = max(1, prefetch * 3 // 4) if prefetch > 0 else DEFAULT_AT_ONCE
        at_once = env_int(env, "WXP_FALLBACKS_AT_ONCE", most)
        if at_once < 1 or 0 < prefetch <= at_once:
            raise SettingsError(
                f"WXP_FALLBACKS_AT_ONCE must be at least 1 and below WXP_PREFETCH "
                f"({prefetch}), got {at_once}"
            )
        return cls(
            consumer=consumer,
            quota=quota,
            max_rules_per_tenant=max_rules,
            retention=timedelta(days=days),
            purge_interval_seconds=interval,
            fallbacks_at_once=at_once,
        )
