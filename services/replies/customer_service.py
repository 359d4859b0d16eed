"""The customer-service API's rules, pure: the message to send for a reply spec, and
whether WeChat's window and per-reader quota still allow one more.

WeChat's numbers today: up to 5 messages within 48 hours of a reader's message, and up
to 3 within a minute of a click, subscribe or scan. They change: they are settings.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.settings import env_float, env_int

BRIEF_EVENTS = frozenset({"event.click", "event.subscribe", "event.scan"})


@dataclass(frozen=True, slots=True)
class QuotaPolicy:
    message_window: timedelta = timedelta(hours=48)
    message_limit: int = 5
    event_window: timedelta = timedelta(minutes=1)
    event_limit: int = 3

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> QuotaPolicy:
        """``WXP_CS_MESSAGE_WINDOW_HOURS``, ``WXP_CS_MESSAGE_LIMIT``,
        ``WXP_CS_EVENT_WINDOW_SECONDS``, ``WXP_CS_EVENT_LIMIT``."""
        env = os.environ if env is None else env
        return cls(
            message_window=timedelta(hours=env_float(env, "WXP_CS_MESSAGE_WINDOW_HOURS", 48)),
            message_limit=env_int(env, "WXP_CS_MESSAGE_LIMIT", 5),
            event_window=timedelta(seconds=env_float(env, "WXP_CS_EVENT_WINDOW_SECONDS", 60)),
            event_limit=env_int(env, "WXP_CS_EVENT_LIMIT", 3),
        )


def refusal(
    policy: QuotaPolicy,
    interaction_type: str,
    interaction_at: datetime,
    now: datetime,
    already_sent: int,
) -> str | None:
    """Why no message may go to the reader now (None: one may)."""
    brief = interaction_type in BRIEF_EVENTS
    window = policy.event_window if brief else policy.message_window
    limit = policy.event_limit if brief else policy.message_limit
    if now - interaction_at > window:
        return "outside_window"
    if already_sent >= limit:
        return "quota_exhausted"
    return None


def cs_message(openid: str, spec: dict[str, Any]) -> dict[str, Any]:
    """The body of ``/cgi-bin/message/custom/send`` for a reply spec."""
    kind = spec["type"]
    body: dict[str, Any] = {"touser": openid, "msgtype": kind}
    if kind == "text":
        body["text"] = {"content": spec["content"]}
    elif kind in ("image", "voice"):
        body[kind] = {"media_id": spec["media_id"]}
    elif kind == "video":
        body["video"] = {k: spec[k] for k in ("media_id", "title", "description") if k in spec}
    elif kind == "music":
        names = {
            "title": "title",
            "description": "description",
            "music_url": "musicurl",
            "hq_music_url": "hqmusicurl",
            "thumb_media_id": "thumb_media_id",
        }
        body["music"] = {theirs: spec[ours] for ours, theirs in names.items() if ours in spec}
    elif kind == "news":  # WeChat sends one article through this API
        first = spec["articles"][0]
        body["news"] = {
            "articles": [
                {k: first[k] for k in ("title", "description", "url", "picurl") if first.get(k)}
            ]
        }
    else:
        raise ValueError(f"no customer-service message for reply type {kind!r}")
    return body
