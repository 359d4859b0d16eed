"""What a rule set matches, from the replies service's two edges, pure: an envelope off the
bus, or a dry-run message from the API, each becomes an ``Inbound``."""

from __future__ import annotations

from services.replies.matching import Inbound
from shared.contracts.envelope import Envelope
from shared.contracts.messages import WeChatMessage


class BadMessage(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def inbound_of(event: Envelope[WeChatMessage]) -> Inbound:
    kind, _, name = event.type.partition(".")
    message = event.payload
    return Inbound(
        kind="event" if kind == "event" else "msg",
        type=name,
        openid=event.openid,
        content=message.content,
        event_key=message.event_key,
        scene=message.scene,
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
