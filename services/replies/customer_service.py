"""The customer-service API's rules, pure: the message to send for a reply spec, and
whether WeChat's window and per-reader quota still allow one more.

WeChat's numbers today: up to 5 messages within 48 hours of a reader's message, and up
to 3 within a minute of a click, subscribe or scan. They change: they are settings.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from shared.contracts.reply import Reply

BRIEF_EVENTS = frozenset({"event.click", "event.subscribe", "event.scan"})


@dataclass(frozen=True, slots=True)
class QuotaPolicy:
    message_window: timedelta = timedelta(hours=48)
    message_limit: int = 5
    event_window: timedelta = timedelta(minutes=1)
    event_limit: int = 3


def quota_limit(policy: QuotaPolicy, interaction_type: str) -> int:
    """How many messages the reader may get after an interaction of this type."""
    return policy.event_limit if interaction_type in BRIEF_EVENTS else policy.message_limit


def outside_window(
    policy: QuotaPolicy, interaction_type: str, interaction_at: datetime, now: datetime
) -> bool:
    """Whether WeChat's window after the reader's interaction has closed at ``now``."""
    brief = interaction_type in BRIEF_EVENTS
    return now - interaction_at > (policy.event_window if brief else policy.message_window)


def refusal(
    policy: QuotaPolicy,
    interaction_type: str,
    interaction_at: datetime,
    now: datetime,
    already_sent: int,
) -> str | None:
    """Why no message may go to the reader now (None: one may)."""
    if outside_window(policy, interaction_type, interaction_at, now):
        return "outside_window"
    if already_sent >= quota_limit(policy, interaction_type):
        return "quota_exhausted"
    return None


def cs_message(openid: str, reply: Reply) -> dict[str, Any]:
    """The body of ``/cgi-bin/message/custom/send`` for a reply."""
    body: dict[str, Any] = {"touser": openid, "msgtype": reply.type}
    if reply.type == "text":
        body["text"] = {"content": reply.content}
    elif reply.type in ("image", "voice"):
        body[reply.type] = {"media_id": reply.media_id}
    elif reply.type == "video":
        video = {"media_id": reply.media_id, "title": reply.title, "description": reply.description}
        body["video"] = {k: v for k, v in video.items() if v is not None}
    elif reply.type == "music":
        music = {
            "title": reply.title,
            "description": reply.description,
            "musicurl": reply.music_url,
            "hqmusicurl": reply.hq_music_url,
            "thumb_media_id": reply.thumb_media_id,
        }
        body["music"] = {k: v for k, v in music.items() if v is not None}
    else:  # news: WeChat sends one article through this API
        first = reply.articles[0].to_json()
        body["news"] = {"articles": [{k: v for k, v in first.items() if v}]}
    return body
