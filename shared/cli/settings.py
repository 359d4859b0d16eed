"""What ``wxp`` reads from its environment, once, in :func:`shared.cli.main`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

DEFAULT_URL = "http://127.0.0.1:8080"
DEFAULT_SCHEDULER_URL = "http://127.0.0.1:8082"
DEFAULT_ANALYTICS_URL = "http://127.0.0.1:8083"
DEFAULT_REPLIES_URL = "http://127.0.0.1:8081"


@dataclass(frozen=True, slots=True)
class CliSettings:
    """``WXP_URL`` (the gateway), ``WXP_SCHEDULER_URL`` (the scheduler),
    ``WXP_ANALYTICS_URL`` (analytics), ``WXP_REPLIES_URL`` (replies) and ``WXP_API_KEY``,
    or else ``WXP_ADMIN_KEY`` (one key for all of them); ``WXP_DEBUG=1`` shows the
    traceback of an unexpected error."""

    base_url: str = DEFAULT_URL
    key: str | None = None
    scheduler_url: str = DEFAULT_SCHEDULER_URL
    analytics_url: str = DEFAULT_ANALYTICS_URL
    replies_url: str = DEFAULT_REPLIES_URL
    debug: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> CliSettings:
        return cls(
            base_url=env.get("WXP_URL", DEFAULT_URL).rstrip("/"),
            key=env.get("WXP_API_KEY") or env.get("WXP_ADMIN_KEY") or None,
            scheduler_url=(env.get("WXP_SCHEDULER_URL") or DEFAULT_SCHEDULER_URL).rstrip("/"),
            analytics_url=(env.get("WXP_ANALYTICS_URL") or DEFAULT_ANALYTICS_URL).rstrip("/"),
            replies_url=(env.get("WXP_REPLIES_URL") or DEFAULT_REPLIES_URL).rstrip("/"),
            debug=env.get("WXP_DEBUG", "") not in ("", "0"),
        )
