"""Replies settings: a consumer service's (port 8081, ``REPLIES_PORT``) plus WeChat's
customer-service window and quota, which change: ``WXP_CS_MESSAGE_WINDOW_HOURS`` (48),
``WXP_CS_MESSAGE_LIMIT`` (5), ``WXP_CS_EVENT_WINDOW_SECONDS`` (60), ``WXP_CS_EVENT_LIMIT`` (3)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

from services.replies.customer_service import QuotaPolicy
from shared.platform.settings import CommonSettings, ConsumerSettings, env_float, env_int


@dataclass(frozen=True, slots=True)
class RepliesSettings:
    consumer: ConsumerSettings = field(default_factory=lambda: ConsumerSettings(CommonSettings()))
    quota: QuotaPolicy = field(default_factory=QuotaPolicy)

    @property
    def common(self) -> CommonSettings:
        return self.consumer.common

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> RepliesSettings:
        env = os.environ if env is None else env
        return cls(
            consumer=ConsumerSettings.from_env(env, port_var="REPLIES_PORT", port=8081),
            quota=QuotaPolicy(
                message_window=timedelta(hours=env_float(env, "WXP_CS_MESSAGE_WINDOW_HOURS", 48)),
                message_limit=env_int(env, "WXP_CS_MESSAGE_LIMIT", 5),
                event_window=timedelta(seconds=env_float(env, "WXP_CS_EVENT_WINDOW_SECONDS", 60)),
                event_limit=env_int(env, "WXP_CS_EVENT_LIMIT", 3),
            ),
        )
