"""WeChat XML in, envelope out. Pure functions.

Parsing is defensive: no DTDs or entities (``defusedxml``), a root named ``xml``, the
four header fields present. Every message and event type becomes an envelope, known or
not: an unknown type is published under its own lower-cased name, never dropped.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from xml.etree.ElementTree import Element, ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from shared.contracts.envelope import Envelope, event_event_id, iso, message_event_id, type_name
from shared.contracts.messages import WeChatMessage

HEADER = ("ToUserName", "FromUserName", "CreateTime", "MsgType")
REPLYABLE_EVENTS = frozenset({"subscribe", "scan", "click", "scancode_waitmsg"})
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


class MessageError(ValueError):
    """XML that is not a WeChat message; ``reason`` is a short label for metrics."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def snake(name: str) -> str:
    return _CAMEL.sub("_", name).lower().replace("__", "_")


def parse_xml(body: bytes) -> dict[str, Any]:
    """The children of ``<xml>`` as a dict; nested elements become dicts or lists."""
    try:
        root = fromstring(body, forbid_dtd=True, forbid_entities=True, forbid_external=True)
    except DefusedXmlException:
        raise MessageError("xml_entities", "XML with DTDs or entities is refused") from None
    except (ParseError, ValueError) as exc:
        raise MessageError("bad_xml", f"malformed XML: {exc}") from None
    if root.tag != "xml":
        raise MessageError("bad_xml", "root element must be <xml>")
    return _children(root)


def _value(element: Element) -> Any:
    if len(element) == 0:
        return (element.text or "").strip()
    if all(child.tag == "item" for child in element):
        return [_value(child) for child in element]
    return _children(element)


def _children(element: Element) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    repeated: set[str] = set()  # tags seen more than once: their values, in order, as a list
    for child in element:
        value = _value(child)
        if child.tag not in fields:
            fields[child.tag] = value
        elif child.tag in repeated:
            fields[child.tag].append(value)
        else:
            fields[child.tag] = [fields[child.tag], value]
            repeated.add(child.tag)
    return fields


def _snake_tree(value: Any) -> Any:
    if isinstance(value, dict):
        return {snake(k): _snake_tree(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_snake_tree(v) for v in value]
    return value


def to_envelope(
    tenant_id: str, fields: dict[str, Any], *, received_at: datetime
) -> Envelope[WeChatMessage]:
    missing = [name for name in HEADER if not isinstance(fields.get(name), str) or not fields[name]]
    if missing:
        raise MessageError("missing_field", f"missing {', '.join(missing)}")
    create_time = fields["CreateTime"]
    if not (create_time.isascii() and create_time.isdigit()) or len(create_time) > 12:
        raise MessageError("bad_field", "CreateTime must be a Unix timestamp")
    msgtype = fields["MsgType"]
    is_event = msgtype.lower() == "event"
    event = str(fields.get("Event", "")) if is_event else ""
    kind_type = type_name("event", event or "unknown") if is_event else type_name("msg", msgtype)
    msg_id = fields.get("MsgId") or fields.get("MsgID")
    openid = fields["FromUserName"]
    event_key = fields.get("EventKey")
    key = event_key if isinstance(event_key, str) else ""
    envelope_id = (
        message_event_id(tenant_id, msg_id)
        if isinstance(msg_id, str) and msg_id
        else event_event_id(tenant_id, openid, create_time, event, key)
    )
    skip = {*HEADER, "Event"}
    values = {snake(k): _snake_tree(v) for k, v in fields.items() if k not in skip}
    if kind_type in ("event.subscribe", "event.scan") and key:
        values["scene"] = key.removeprefix("qrscene_")
    return Envelope(
        id=envelope_id,
        tenant_id=tenant_id,
        type=kind_type,
        occurred_at=iso(datetime.fromtimestamp(int(create_time), UTC)),
        received_at=iso(received_at),
        openid=openid,
        payload=WeChatMessage(account=fields["ToUserName"], fields=values),
    )


def wants_reply(envelope: Envelope[WeChatMessage]) -> bool:
    """Readers' messages and the events WeChat lets us answer passively."""
    kind, _, name = envelope.type.partition(".")
    return kind == "msg" or (kind == "event" and name in REPLYABLE_EVENTS)
