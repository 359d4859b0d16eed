"""Validating rule JSON into typed rules, naming the first bad field. Pure."""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import re2  # type: ignore[import-untyped]  # google-re2: linear-time matching

from services.replies.rules import (
    MATCH_MODES,
    MAX_FIELD,
    MAX_PATTERN,
    MAX_REPLIES,
    MAX_TEXT,
    MSGTYPES,
    PLACEHOLDERS,
    TOKEN,
    Article,
    InvalidRule,
    Reply,
    Rule,
    Trigger,
    compile_regex,
)
from services.replies.schedule_window import InvalidWindow, parse_window

# kind -> (required keys, optional keys)
Shape = tuple[tuple[str, ...], tuple[str, ...]]
TRIGGERS: dict[str, Shape] = {
    "keyword": (("match", "pattern"), ()),
    "subscribe": ((), ("scene",)),
    "scan": ((), ("scene",)),
    "click": (("key",), ()),
    "msgtype": (("msgtype",), ()),
    "default": ((), ()),
}
REPLIES: dict[str, Shape] = {
    "text": (("content",), ()),
    "image": (("media_id",), ()),
    "voice": (("media_id",), ()),
    "video": (("media_id",), ("title", "description")),
    "music": (("thumb_media_id",), ("title", "description", "music_url", "hq_music_url")),
    "news": (("articles",), ()),
}
_ALL_TRIGGER_KEYS = {key for shape in TRIGGERS.values() for keys in shape for key in keys}
_ALL_REPLY_KEYS = {key for shape in REPLIES.values() for keys in shape for key in keys}


def _keys(d: object, field: str, required: set[str], optional: set[str]) -> dict[str, Any]:
    if not isinstance(d, dict):
        raise InvalidRule(field, "must be an object")
    for key in sorted(set(d) - required - optional):
        raise InvalidRule(_at(field, key), "unknown field")
    for key in sorted(required - set(d)):
        raise InvalidRule(_at(field, key), "required")
    return d


def _str(d: dict[str, Any], key: str, field: str, limit: int = MAX_FIELD) -> str | None:
    value = d.get(key)
    if value is None and key not in d:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise InvalidRule(_at(field, key), f"a non-blank string of at most {limit} characters")
    return value


def _url(d: dict[str, Any], key: str, field: str) -> str | None:
    value = _str(d, key, field)
    if value is not None and not value.startswith(("https://", "http://")):
        raise InvalidRule(f"{field}.{key}", "an http(s) URL")
    return value


def _at(field: str, key: str) -> str:
    return f"{field}.{key}" if field else key


def _choice(d: dict[str, Any], key: str, field: str, allowed: Collection[str]) -> Any:
    if d.get(key) not in allowed:
        raise InvalidRule(_at(field, key), f"one of {', '.join(allowed)}")
    return d[key]


def _trigger(d: object) -> Trigger:
    kind = _choice(_keys(d, "trigger", {"kind"}, _ALL_TRIGGER_KEYS), "kind", "trigger", TRIGGERS)
    t = _keys(d, "trigger", {"kind", *TRIGGERS[kind][0]}, set(TRIGGERS[kind][1]))
    if kind == "keyword":
        match = _choice(t, "match", "trigger", MATCH_MODES)
        pattern = str(_str(t, "pattern", "trigger", MAX_PATTERN))
        if match == "regex":
            try:
                compile_regex(pattern)
            except re2.error as exc:
                raise InvalidRule("trigger.pattern", f"not a supported regex: {exc}") from exc
        return Trigger(kind, match=match, pattern=pattern)
    if kind == "msgtype":
        return Trigger(kind, msgtype=_choice(t, "msgtype", "trigger", MSGTYPES))
    return Trigger(kind, scene=_str(t, "scene", "trigger"), key=_str(t, "key", "trigger"))


def _article(d: object, f: str) -> Article:
    a = _keys(d, f, {"title", "url"}, {"description", "picurl"})
    title, url = str(_str(a, "title", f)), str(_url(a, "url", f))
    return Article(title, _str(a, "description", f) or "", url, _url(a, "picurl", f) or "")


def _reply(d: object, f: str) -> Reply:
    kind = _choice(_keys(d, f, {"type"}, _ALL_REPLY_KEYS), "type", f, REPLIES)
    r = _keys(d, f, {"type", *REPLIES[kind][0]}, set(REPLIES[kind][1]))
    if kind == "text":
        content = str(_str(r, "content", f, MAX_TEXT))
        for token in TOKEN.finditer(content):
            if token.group(1) is not None and token.group(1) not in PLACEHOLDERS:
                allowed = ", ".join(f"{{{p}}}" for p in sorted(PLACEHOLDERS))
                raise InvalidRule(f"{f}.content", f"unknown placeholder {token[0]}; use {allowed}")
        return Reply(kind, content=content)
    if kind == "news":
        articles = r["articles"]
        if not isinstance(articles, list) or not 1 <= len(articles) <= 8:
            raise InvalidRule(f"{f}.articles", "a list of 1 to 8 articles")
        return Reply(
            kind, articles=tuple(_article(a, f"{f}.articles[{i}]") for i, a in enumerate(articles))
        )
    return Reply(
        kind,
        media_id=_str(r, "media_id", f),
        title=_str(r, "title", f),
        description=_str(r, "description", f),
        music_url=_url(r, "music_url", f),
        hq_music_url=_url(r, "hq_music_url", f),
        thumb_media_id=_str(r, "thumb_media_id", f),
    )


def validate_rule(data: object) -> Rule:
    """Turn rule JSON into a ``Rule`` or raise ``InvalidRule`` naming the field."""
    top = {"name", "priority", "enabled", "trigger"}
    d = _keys(data, "", top, {"reply", "replies", "active_hours", "id"})
    name = str(_str(d, "name", "", MAX_PATTERN))
    if type(d["priority"]) is not int:
        raise InvalidRule("priority", "an integer (higher wins)")
    if type(d["enabled"]) is not bool:
        raise InvalidRule("enabled", "true or false")
    if ("reply" in d) == ("replies" in d):
        raise InvalidRule("reply", 'give exactly one of "reply" or "replies"')
    replies: tuple[Reply, ...]
    if "reply" in d:
        replies = (_reply(d["reply"], "reply"),)
    elif isinstance(d["replies"], list) and 1 <= len(d["replies"]) <= MAX_REPLIES:
        replies = tuple(_reply(r, f"replies[{i}]") for i, r in enumerate(d["replies"]))
    else:
        raise InvalidRule("replies", f"a list of 1 to {MAX_REPLIES} replies")
    try:
        window = None if d.get("active_hours") is None else parse_window(d["active_hours"])
    except InvalidWindow as exc:
        raise InvalidRule(f"active_hours.{exc.field}".rstrip("."), exc.message) from exc
    trigger = _trigger(d["trigger"])
    rule_id = _str(d, "id", "") or ""
    return Rule(name.strip(), d["priority"], d["enabled"], trigger, replies, window, rule_id)
