"""Settings every service reads from the environment, once, in its ``__main__``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"
DEFAULT_MONGODB_URL = "mongodb://127.0.0.1:27017/"
DEFAULT_WECHAT_API_BASE = "https://api.weixin.qq.com"


class SettingsError(ValueError):
    """A variable is missing or malformed; the message names it."""


def env_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None


def env_float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None


@dataclass(frozen=True, slots=True)
class CommonSettings:
    """What every service shares: where the broker, database and WeChat are."""

    amqp_url: str = DEFAULT_AMQP_URL
    mongodb_url: str = DEFAULT_MONGODB_URL
    master_key: str = ""
    admin_key: str = ""
    wechat_api_base: str = DEFAULT_WECHAT_API_BASE
    public_url: str = "http://127.0.0.1:8080"
    log_level: str = "INFO"
    host: str = "127.0.0.1"
    port: int = 8080
    shutdown_grace_seconds: float = 10.0
    api_rate_per_second: float = 20.0  # per API key and replica; the webhook path has no limit
    api_burst: float = 40.0

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, port_var: str, port: int
    ) -> CommonSettings:
        env = os.environ if env is None else env
        return cls(
            amqp_url=env.get("AMQP_URL") or DEFAULT_AMQP_URL,
            mongodb_url=env.get("MONGODB_URL") or DEFAULT_MONGODB_URL,
            master_key=env.get("WXP_MASTER_KEY", ""),
            admin_key=env.get("WXP_ADMIN_KEY", ""),
            wechat_api_base=(env.get("WECHAT_API_BASE") or DEFAULT_WECHAT_API_BASE).rstrip("/"),
            public_url=(env.get("WXP_PUBLIC_URL") or "http://127.0.0.1:8080").rstrip("/"),
            log_level=(env.get("LOG_LEVEL") or "INFO").upper(),
            host=env.get("WXP_HOST") or "127.0.0.1",
            port=env_int(env, port_var, port),
            shutdown_grace_seconds=env_float(env, "WXP_SHUTDOWN_GRACE_SECONDS", 10.0),
            api_rate_per_second=env_float(env, "WXP_API_RATE_PER_SECOND", 20.0),
            api_burst=env_float(env, "WXP_API_BURST", 40.0),
        )


@dataclass(frozen=True, slots=True)
class ConsumerSettings:
    """A consumer service: the common settings plus its queue's."""

    common: CommonSettings
    queue_prefix: str = "wxp"
    prefetch: int = 32

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, port_var: str, port: int
    ) -> ConsumerSettings:
        env = os.environ if env is None else env
        return cls(
            common=CommonSettings.from_env(env, port_var=port_var, port=port),
            queue_prefix=env.get("WXP_QUEUE_PREFIX") or "wxp",
            prefetch=env_int(env, "WXP_PREFETCH", 32),
        )
