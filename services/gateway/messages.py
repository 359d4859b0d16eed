"""WeChat XML in, envelope out. Pure functions.

Parsing is defensive: no DTDs or entity declarations (refused as expat meets them, as
``defusedxml`` does; no external entity is ever fetched), at most ``MAX_DEPTH`` levels
and ``MAX_ELEMENTS`` elements (refused while parsing, before anything recurses), a root
named ``xml``, the four header fields present and in range. Whatever the bytes, the
outcome is a dict or a :class:`MessageError`. Every message and event type becomes an
envelope, known or not: an unknown type is published under its own lower-cased name.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, NoReturn
from xml.parsers import expat

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


class _Builder:
    """Expat's events straight into the dicts ``parse_xml`` answers (no element tree: a
    webhook parses two documents, and the tree cost more than the parse). Refuses a DTD or
    an entity declaration, and a tree too deep or too large, as soon as it starts."""

    __slots__ = ("_elements", "_open", "root")

    def __init__(self) -> None:
        self._open: list[tuple[str, list[tuple[str, Any]], list[str]]] = []  # tag, kids, text
        self._elements = 0
        self.root: tuple[str, list[tuple[str, Any]]] | None = None

    def start(self, tag: str, _: object) -> None:
        self._elements += 1
        if len(self._open) >= MAX_DEPTH:
            raise MessageError("too_deep", f"XML nested deeper than {MAX_DEPTH} levels")
        if self._elements > MAX_ELEMENTS:
            raise MessageError("too_many_elements", f"XML with over {MAX_ELEMENTS} elements")
        self._open.append((tag, [], []))

    def text(self, data: str) -> None:
        if self._open:
            self._open[-1][2].append(data)

    def end(self, _: str) -> None:
        tag, children, texts = self._open.pop()
        if not self._open:
            self.root = (tag, children)
        elif not children:  # a leaf: its text
            self._open[-1][1].append((tag, "".join(texts).strip()))
        elif all(child == "item" for child, _ in children):
            self._open[-1][1].append((tag, [value for _, value in children]))
        else:
            self._open[-1][1].append((tag, _fields(children)))

    @staticmethod
    def refuse(*_: object) -> NoReturn:
        raise MessageError("xml_entities", "XML with DTDs or entities is refused")


def parse_xml(body: bytes) -> dict[str, Any]:
    """The children of ``<xml>`` as a dict; nested elements become dicts or lists."""
    builder = _Builder()
    parser = expat.ParserCreate()
    parser.buffer_text = True
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = builder.refuse
    parser.EntityDeclHandler = builder.refuse
    parser.UnparsedEntityDeclHandler = builder.refuse
    parser.ExternalEntityRefHandler = builder.refuse
    parser.StartElementHandler = builder.start
    parser.EndElementHandler = builder.end
    parser.CharacterDataHandler = builder.text
    try:
        parser.Parse(body, True)
    except MessageError:
        raise
    except (expat.ExpatError, ValueError, LookupError) as exc:  # LookupError: an encoding
        raise MessageError("bad_xml", f"malformed XML: {str(exc)[:100]}") from None
    if builder.root is None or builder.root[0] != "xml":
        raise MessageError("bad_xml", "root element must be <xml>")
    return _fields(builder.root[1])


def _fields(children: list[tuple[str, Any]]) -> dict[str, Any]:
    """Children as a dict: a tag seen more than once has its values, in order, as a list."""
    fields: dict[str, Any] = {}
    repeated: set[str] = set()
    for tag, value in children:
        if tag not in fields:
            fields[tag] = value
        elif tag in repeated:
            fields[tag].append(value)
        else:
            fields[tag] = [fields[tag], value]
            repeated.add(tag)
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
