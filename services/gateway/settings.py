"""Gateway settings: the common ones plus the webhook path's limits."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from services.gateway.bounded import DATABASE_BOUND
from shared.platform.settings import CommonSettings, env_float, env_int


@dataclass(frozen=True, slots=True)
class GatewaySettings:
    common: CommonSettings = field(default_factory=CommonSettings)
    reply_deadline_seconds: float = 3.0  # WeChat gives 5 s end to end; keep a margin
    timestamp_tolerance_seconds: float = 300.0
    max_body_bytes: int = 64 * 1024
    dedup_window_seconds: float = 900.0  # WeChat retries within ~15 s; keep ids far longer
    relay_interval_seconds: float = 2.0
    confirm_timeout_seconds: float = 1.0  # bounded so that dedup + publish + keep fit in 5 s
    tenant_cache_seconds: float = 5.0
    queue_prefix: str = "wxp"
    aes_key_grace_seconds: float = 86400.0  # a replaced EncodingAESKey is accepted this long
    # An offboarded tenant's database is dropped again by each purge this long after, for
    # a consumer's late write (a consumer keeps a known tenant 30 s); its id waits as long.
    offboarding_settle_seconds: float = 600.0
    # The console calls every service's API (the gateway's own over loopback).
    replies_url: str = "http://127.0.0.1:8081"
    scheduler_url: str = "http://127.0.0.1:8082"
    analytics_url: str = "http://127.0.0.1:8083"

    @property
    def retry_grace_seconds(self) -> float:
        """The longest a first attempt can still be publishing or keeping its event: the
        reply wait, a confirm, and two bounded database calls (dedup, then keep). A retry
        that finds the event neither published nor kept, seen longer ago than this, finds
        an attempt that gave up: it publishes the event."""
        return self.reply_deadline_seconds + self.confirm_timeout_seconds + 2 * DATABASE_BOUND

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> GatewaySettings:
        env = os.environ if env is None else env
        return cls(
            common=CommonSettings.from_env(env, port_var="GATEWAY_PORT", port=8080),
            reply_deadline_seconds=env_float(env, "WXP_REPLY_DEADLINE_SECONDS", 3.0),
            timestamp_tolerance_seconds=env_float(env, "WXP_TIMESTAMP_TOLERANCE_SECONDS", 300.0),
            max_body_bytes=env_int(env, "WXP_MAX_BODY_BYTES", 64 * 1024),
            dedup_window_seconds=env_float(env, "WXP_DEDUP_WINDOW_SECONDS", 900.0),
            relay_interval_seconds=env_float(env, "WXP_RELAY_INTERVAL_SECONDS", 2.0),
            confirm_timeout_seconds=env_float(env, "WXP_CONFIRM_TIMEOUT_SECONDS", 1.0),
            tenant_cache_seconds=env_float(env, "WXP_TENANT_CACHE_SECONDS", 5.0),
            queue_prefix=env.get("WXP_QUEUE_PREFIX") or "wxp",
            aes_key_grace_seconds=env_float(env, "WXP_AES_KEY_GRACE_SECONDS", 86400.0),
            offboarding_settle_seconds=env_float(env, "WXP_OFFBOARDING_SETTLE_SECONDS", 600.0),
            replies_url=_url(env, "WXP_REPLIES_URL", "http://127.0.0.1:8081"),
            scheduler_url=_url(env, "WXP_SCHEDULER_URL", "http://127.0.0.1:8082"),
            analytics_url=_url(env, "WXP_ANALYTICS_URL", "http://127.0.0.1:8083"),
        )


def _url(env: Mapping[str, str], name: str, default: str) -> str:
    return (env.get(name) or default).rstrip("/")
