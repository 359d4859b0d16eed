"""Reply rules: typed rules, safe text placeholders, picking one of several replies
(validation from JSON is in ``validation.py``; the reply itself is the shared
:class:`~shared.contracts.reply.Reply`).

Pure: no I/O and no clock. See DESIGN.md (replies) for the JSON contract.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal, Protocol

import re2  # type: ignore[import-untyped]  # google-re2: linear-time matching

from services.replies.schedule_window import Window
from shared.contracts.reply import Reply

MATCH_MODES = ("exact", "prefix", "contains", "regex")
MSGTYPES = ("text", "image", "voice", "video", "shortvideo", "location", "link", "file")
PLACEHOLDERS = frozenset({"openid", "keyword", "date", "time"})
MAX_PATTERN, MAX_REPLIES = 256, 20
MIN_PRIORITY, MAX_PRIORITY = -(2**31), 2**31 - 1  # int32: what every store keeps exactly
TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}")  # {{ and }} are literal braces


class InvalidRule(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class Regex(Protocol):
    def search(self, text: str) -> object | None: ...


class RandomSource(Protocol):  # random.Random fits
    def randrange(self, stop: int, /) -> int: ...


@dataclass(frozen=True, slots=True)
class Trigger:
    kind: Literal["keyword", "subscribe", "scan", "click", "msgtype", "default"]
    match: Literal["exact", "prefix", "contains", "regex"] | None = None
    pattern: str | None = None
    scene: str | None = None
    key: str | None = None
    msgtype: str | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    priority: int
    enabled: bool
    trigger: Trigger
    replies: tuple[Reply, ...]
    active_hours: Window | None = None
    id: str = ""


def compile_regex(pattern: str) -> Regex:
    """RE2: no backreferences or lookaround, so matching is linear in the text."""
    options = re2.Options()
    options.log_errors, options.case_sensitive, options.max_mem = False, False, 1 << 20
    compiled: Regex = re2.compile(pattern, options)
    return compiled


def pick_reply(rule: Rule, rng: RandomSource) -> Reply:
    """One of the rule's replies, chosen by the injected random source."""
    if len(rule.replies) == 1:
        return rule.replies[0]
    return rule.replies[rng.randrange(len(rule.replies))]


def render_text(template: str, values: Mapping[str, str]) -> str:
    """Substitute ``{name}`` from the allow-list in one pass; values are never re-scanned."""

    def one(token: re.Match[str]) -> str:
        name = token.group(1)
        if name is None:
            return token[0][0]
        return values.get(name, token[0])

    return TOKEN.sub(one, template)


def placeholder_values(openid: str, keyword: str, local: datetime) -> dict[str, str]:
    """The allow-listed placeholders; ``local`` is already in the tenant's timezone."""
    return {
        "openid": openid,
        "keyword": keyword,
        "date": local.strftime("%Y-%m-%d"),
        "time": local.strftime("%H:%M"),
    }


def render(reply: Reply, values: Mapping[str, str]) -> Reply:
    """The reply with its text placeholders filled in (other types unchanged)."""
    if reply.type != "text" or reply.content is None:
        return reply
    return replace(reply, content=render_text(reply.content, values))
