"""Validating rule JSON into typed rules, naming the first bad field. Pure."""

from __future__ import annotations

import re2  # type: ignore[import-untyped]  # google-re2: linear-time matching

from services.replies.json_fields import choice, http_url, keys_of, string
from services.replies.rules import (
    MATCH_MODES,
    MAX_PATTERN,
    MAX_PRIORITY,
    MAX_REPLIES,
    MIN_PRIORITY,
    MSGTYPES,
    PLACEHOLDERS,
    TOKEN,
    InvalidRule,
    Rule,
    Trigger,
    compile_regex,
)
from services.replies.schedule_window import InvalidWindow, parse_window
from shared.contracts.reply import (
    MAX_ARTICLES,
    MAX_TEXT,
    OPTIONAL,
    REQUIRED,
    Article,
    Reply,
)

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
REPLIES: dict[str, Shape] = {kind: (REQUIRED[kind], OPTIONAL[kind]) for kind in REQUIRED}
_ALL_TRIGGER_KEYS = {key for shape in TRIGGERS.values() for keys in shape for key in keys}
_ALL_REPLY_KEYS = {key for shape in REPLIES.values() for keys in shape for key in keys}


def _trigger(d: object) -> Trigger:
    kind = choice(keys_of(d, "trigger", {"kind"}, _ALL_TRIGGER_KEYS), "kind", "trigger", TRIGGERS)
    t = keys_of(d, "trigger", {"kind", *TRIGGERS[kind][0]}, set(TRIGGERS[kind][1]))
    if kind == "keyword":
        match = choice(t, "match", "trigger", MATCH_MODES)
        pattern = str(string(t, "pattern", "trigger", MAX_PATTERN))
        if match == "regex":
            try:
                compile_regex(pattern)
            except re2.error as exc:
                raise InvalidRule("trigger.pattern", f"not a supported regex: {exc}") from exc
        return Trigger(kind, match=match, pattern=pattern)
    if kind == "msgtype":
        return Trigger(kind, msgtype=choice(t, "msgtype", "trigger", MSGTYPES))
    return Trigger(kind, scene=string(t, "scene", "trigger"), key=string(t, "key", "trigger"))


def _article(d: object, f: str) -> Article:
    a = keys_of(d, f, {"title", "url"}, {"description", "picurl"})
    title, url = str(string(a, "title", f)), str(http_url(a, "url", f))
    return Article(title, string(a, "description", f) or "", url, http_url(a, "picurl", f) or "")


def _reply(d: object, f: str) -> Reply:
    kind = choice(keys_of(d, f, {"type"}, _ALL_REPLY_KEYS), "type", f, REPLIES)
    r = keys_of(d, f, {"type", *REPLIES[kind][0]}, set(REPLIES[kind][1]))
    if kind == "text":
        content = str(string(r, "content", f, MAX_TEXT))
        for token in TOKEN.finditer(content):
            if token.group(1) is not None and token.group(1) not in PLACEHOLDERS:
                allowed = ", ".join(f"{{{p}}}" for p in sorted(PLACEHOLDERS))
                raise InvalidRule(f"{f}.content", f"unknown placeholder {token[0]}; use {allowed}")
        return Reply(kind, content=content)
    if kind == "news":
        articles = r["articles"]
        if not isinstance(articles, list) or not 1 <= len(articles) <= MAX_ARTICLES:
            raise InvalidRule(f"{f}.articles", f"a list of 1 to {MAX_ARTICLES} articles")
        return Reply(
            kind, articles=tuple(_article(a, f"{f}.articles[{i}]") for i, a in enumerate(articles))
        )
    return Reply(
        kind,
        media_id=string(r, "media_id", f),
        title=string(r, "title", f),
        description=string(r, "description", f),
        music_url=http_url(r, "music_url", f),
        hq_music_url=http_url(r, "hq_music_url", f),
        thumb_media_id=string(r, "thumb_media_id", f),
    )


def validate_reply(data: object, field: str = "reply") -> Reply:
    """One reply spec, checked as a rule's replies are (``InvalidRule`` names the field)."""
    return _reply(data, field)


def validate_rule(data: object) -> Rule:
    """Turn rule JSON into a ``Rule`` or raise ``InvalidRule`` naming the field."""
    top = {"name", "priority", "enabled", "trigger"}
    d = keys_of(data, "", top, {"reply", "replies", "active_hours", "id"})
    name = str(string(d, "name", "", MAX_PATTERN))
    priority = d["priority"]
    if (
        not isinstance(priority, int)
        or isinstance(priority, bool)
        or not (MIN_PRIORITY <= priority <= MAX_PRIORITY)
    ):
        raise InvalidRule("priority", f"an integer from {MIN_PRIORITY} to {MAX_PRIORITY}")
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
    rule_id = string(d, "id", "") or ""
    return Rule(name.strip(), int(priority), d["enabled"], trigger, replies, window, rule_id)
