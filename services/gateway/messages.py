"""WeChat XML in, envelope out. Pure functions.

Parsing is defensive: no DTDs or entities (``defusedxml``), at most ``MAX_DEPTH`` levels
and ``MAX_ELEMENTS`` elements (refused while parsing, before anything recurses), a root
named ``xml``, the four header fields present and in range. Whatever the bytes, the
outcome is a dict or a :class:`MessageError`. Every message and event type becomes an
envelope, known or not: an unknown type is published under its own lower-cased name.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from xml.etree.ElementTree import Element, ParseError, TreeBuilder

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from shared.contracts.envelope import Envelope, event_event_id, iso, message_event_id, type_name
from shared.contracts.messages import WeChatMessage

HEADER = ("ToUserName", "FromUserName", "CreateTime", "MsgType")
MAX_DEPTH = 8  # levels, <xml> included: WeChat's deepest messages have 5
MAX_ELEMENTS = 1_000  # WeChat's largest messages have a few dozen
MAX_HEADER_CHARS = 128  # an openid has 28, an account id 15
MAX_CREATE_TIME = 2**32 - 1  # WeChat's CreateTime is an unsigned 32-bit Unix time
REPLYABLE_EVENTS = frozenset({"subscribe", "scan", "click", "scancode_waitmsg"})
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


class MessageError(ValueError):
    """XML that is not a WeChat message; ``reason`` is a short label for metrics."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def snake(name: str) -> str:
    return _CAMEL.sub("_", name).lower().replace("__", "_")


class _BoundedTree(TreeBuilder):
    """Builds the tree, refusing it as soon as it grows too deep or too large."""

    def __init__(self) -> None:
        super().__init__()
        self._depth = 0
        self._elements = 0

    def start(self, tag: str, attrs: dict[str, str]) -> Element:
        self._depth += 1
        self._elements += 1
        if self._depth > MAX_DEPTH:
            raise MessageError("too_deep", f"XML nested deeper than {MAX_DEPTH} levels")
        if self._elements > MAX_ELEMENTS:
            raise MessageError("too_many_elements", f"XML with over {MAX_ELEMENTS} elements")
        return super().start(tag, attrs)

    def end(self, tag: str) -> Element:
        self._depth -= 1
        return super().end(tag)


def parse_xml(body: bytes) -> dict[str, Any]:
    """The children of ``<xml>`` as a dict; nested elements become dicts or lists."""
    parser = DefusedXMLParser(
        target=_BoundedTree(), forbid_dtd=True, forbid_entities=True, forbid_external=True
    )
    try:
        parser.feed(body)
        root = parser.close()
    except MessageError:
        raise
    except DefusedXmlException:
        raise MessageError("xml_entities", "XML with DTDs or entities is refused") from None
    except (ParseError, ValueError, LookupError) as exc:  # LookupError: an unknown encoding
        raise MessageError("bad_xml", f"malformed XML: {str(exc)[:100]}") from None
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
    too_long = [name for name in HEADER if len(fields[name]) > MAX_HEADER_CHARS]
    if too_long:
        raise MessageError("bad_field", f"{too_long[0]} over {MAX_HEADER_CHARS} characters")
    create_time = fields["CreateTime"]
    if not (create_time.isascii() and create_time.isdigit()) or int(create_time) > MAX_CREATE_TIME:
        raise MessageError(
            "bad_field", f"CreateTime must be a Unix time from 0 to {MAX_CREATE_TIME}"
        )
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
