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


MESSAGE_FIELDS = ("openid", "msgtype", "content", "event", "event_key")


def inbound_of_test(message: object) -> Inbound:
    """A dry-run message: ``{"msgtype": "text", "content"}`` or ``{"event", "event_key"?}``,
    optionally with an ``openid``; each of them a string."""
    if not isinstance(message, dict):
        raise BadMessage("message", "message must be an object")
    for key in sorted(set(message) - set(MESSAGE_FIELDS)):
        raise BadMessage(f"message.{key}", f"unknown field; use {', '.join(MESSAGE_FIELDS)}")
    for key in MESSAGE_FIELDS:
        if key in message and not isinstance(message[key], str):
            raise BadMessage(f"message.{key}", "a string")
    openid = message.get("openid", "o_dry_run")
    event, msgtype = message.get("event"), message.get("msgtype")
    if event:
        key = message.get("event_key")
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
    if msgtype:
        content = message.get("content")
        if msgtype.lower() == "text" and content is None:
            raise BadMessage("message.content", "a text message needs content")
        return Inbound(
            kind="msg",
            type=msgtype.lower(),
            openid=openid,
            content=content,
            msgtype=msgtype.lower(),
        )
    raise BadMessage("message", 'give "msgtype" (with "content" for text) or "event"')
