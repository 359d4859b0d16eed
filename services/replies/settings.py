"""Replies settings: a consumer service's (port 8081, ``REPLIES_PORT``) plus WeChat's
customer-service window and quota, which change: ``WXP_CS_MESSAGE_WINDOW_HOURS`` (48),
``WXP_CS_MESSAGE_LIMIT`` (5), ``WXP_CS_EVENT_WINDOW_SECONDS`` (60), ``WXP_CS_EVENT_LIMIT`` (3);
and the most rules a tenant may have, ``WXP_MAX_RULES_PER_TENANT`` (10,000)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from services.replies.customer_service import QuotaPolicy
from shared.platform.settings import (
    CommonSettings,
    ConsumerSettings,
    SettingsError,
    env_float,
    env_int,
)

DEFAULT_MAX_RULES = 10_000


@dataclass(frozen=True, slots=True)
class RepliesSettings:
    consumer: ConsumerSettings = field(default_factory=lambda: ConsumerSettings(CommonSettings()))
    quota: QuotaPolicy = field(default_factory=QuotaPolicy)
    max_rules_per_tenant: int = DEFAULT_MAX_RULES

    @property
    def common(self) -> CommonSettings:
        return self.consumer.common

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RepliesSettings:
        env = os.environ if env is None else env
        max_rules = env_int(env, "WXP_MAX_RULES_PER_TENANT", DEFAULT_MAX_RULES)
        if max_rules < 1:
            raise SettingsError(f"WXP_MAX_RULES_PER_TENANT must be at least 1, got {max_rules}")
        return cls(
            consumer=ConsumerSettings.from_env(env, port_var="REPLIES_PORT", port=8081),
            quota=QuotaPolicy(
                message_window=timedelta(hours=env_float(env, "WXP_CS_MESSAGE_WINDOW_HOURS", 48)),
                message_limit=env_int(env, "WXP_CS_MESSAGE_LIMIT", 5),
                event_window=timedelta(seconds=env_float(env, "WXP_CS_EVENT_WINDOW_SECONDS", 60)),
                event_limit=env_int(env, "WXP_CS_EVENT_LIMIT", 3),
            ),
            max_rules_per_tenant=max_rules,
        )
