"""Translations at the replies service's edges, pure: envelope → ``Inbound`` for matching,
a dry-run message → ``Inbound``, and a ``Reply`` → the reply spec the gateway renders."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from services.replies.matching import Inbound
from services.replies.rules import Reply
from shared.envelope import Envelope


class BadMessage(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def inbound_of(event: Envelope) -> Inbound:
    kind, _, name = event.type.partition(".")
    payload = event.payload
    key = payload.get("event_key")
    return Inbound(
        kind="event" if kind == "event" else "msg",
        type=name,
        openid=event.openid,
        content=payload.get("content") if isinstance(payload.get("content"), str) else None,
        event_key=key if isinstance(key, str) else None,
        scene=payload.get("scene") if isinstance(payload.get("scene"), str) else None,
        msgtype="event" if kind == "event" else name,
    )


def inbound_of_test(message: object) -> Inbound:
    """A dry-run message: ``{"msgtype": "text", "content"}`` or ``{"event", "event_key"?}``."""
    if not isinstance(message, dict):
        raise BadMessage("message", "message must be an object")
    openid = message.get("openid", "o_dry_run")
    if not isinstance(openid, str):
        raise BadMessage("message.openid", "a string")
    event, msgtype = message.get("event"), message.get("msgtype")
    if isinstance(event, str) and event:
        key = message.get("event_key")
        if key is not None and not isinstance(key, str):
            raise BadMessage("message.event_key", "a string")
        scene = (
            key.removeprefix("qrscene_") if key and event.lower() in ("subscribe", "scan") else None
        )
        return Inbound(
            kind="event",
            type=event.lower(),
            openid=openid,
            event_key=key,
            scene=scene,
            msgtype="event",
        )
    if isinstance(msgtype, str) and msgtype:
        content = message.get("content")
        if msgtype == "text" and not isinstance(content, str):
            raise BadMessage("message.content", "a text message needs content")
        return Inbound(
            kind="msg",
            type=msgtype.lower(),
            openid=openid,
            content=content if isinstance(content, str) else None,
            msgtype=msgtype.lower(),
        )
    raise BadMessage("message", 'give "msgtype" (with "content" for text) or "event"')


def reply_spec(reply: Reply) -> dict[str, Any]:
    """The JSON the gateway renders as WeChat's XML (``services/gateway/replies.py``)."""
    spec = {k: v for k, v in asdict(reply).items() if v not in (None, (), [])}
    if reply.articles:
        spec["articles"] = [asdict(article) for article in reply.articles]
    return spec
