"""The reply spec: what a rule answers with, one type from the replies service to the
gateway's passive XML and to the customer-service API.

On the wire (direct reply-to, and ``gateway_published`` notes) a reply is the JSON of
DESIGN (``{"type": "text", "content"}``, ...). :class:`PassiveAnswer` is the replies
service's whole answer to a passive-reply request: a reply and the rule that chose it,
or ``{"type": "none"}``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal, cast, get_args

from shared.contracts.codec import DecodeError, Json, JsonObject, obj, optional_text, text

ReplyType = Literal["text", "image", "voice", "video", "music", "news"]
REPLY_TYPES: tuple[str, ...] = get_args(ReplyType)
MAX_ARTICLES = 8  # WeChat shows at most 8 articles in a passive news reply
MAX_TEXT = 2048
MAX_FIELD = 1024
# Fields each type must carry (besides ``type``); the rest are optional.
REQUIRED: dict[str, tuple[str, ...]] = {
    "text": ("content",),
    "image": ("media_id",),
    "voice": ("media_id",),
    "video": ("media_id",),
    "music": ("thumb_media_id",),
    "news": ("articles",),
}
OPTIONAL: dict[str, tuple[str, ...]] = {
    "text": (),
    "image": (),
    "voice": (),
    "video": ("title", "description"),
    "music": ("title", "description", "music_url", "hq_music_url"),
    "news": (),
}


@dataclass(frozen=True, slots=True)
class Article:
    title: str
    description: str = ""
    url: str = ""
    picurl: str = ""

    def to_json(self) -> JsonObject:
        return {
            "title": self.title,
            "description": self.description,
            "url": self.url,
            "picurl": self.picurl,
        }

    @classmethod
    def from_json(cls, value: object) -> Article:
        data = obj(value, "article")
        return cls(
            title=text(data, "title"),
            description=optional_text(data, "description") or "",
            url=optional_text(data, "url") or "",
            picurl=optional_text(data, "picurl") or "",
        )


@dataclass(frozen=True, slots=True)
class Reply:
    type: ReplyType
    content: str | None = None
    media_id: str | None = None
    title: str | None = None
    description: str | None = None
    music_url: str | None = None
    hq_music_url: str | None = None
    thumb_media_id: str | None = None
    articles: tuple[Article, ...] = ()

    def __post_init__(self) -> None:
        for name in REQUIRED[self.type]:
            if not getattr(self, name):
                raise DecodeError(f"a {self.type} reply needs {name}")
        if self.type == "news" and len(self.articles) > MAX_ARTICLES:
            raise DecodeError(f"news has at most {MAX_ARTICLES} articles")

    def to_json(self) -> JsonObject:
        spec: JsonObject = {"type": self.type}
        for name in (*REQUIRED[self.type], *OPTIONAL[self.type]):
            if name == "articles":
                spec["articles"] = [article.to_json() for article in self.articles]
            elif (value := getattr(self, name)) is not None:
                spec[name] = value
        return spec

    @classmethod
    def from_json(cls, value: object) -> Reply:
        """The typed reply of a spec; :class:`DecodeError` names what is wrong."""
        data = obj(value, "reply")
        kind = data.get("type")
        if kind not in REPLY_TYPES:
            raise DecodeError(f"unknown reply type {kind!r}")
        if kind == "news":
            articles = data.get("articles")
            if not isinstance(articles, list):
                raise DecodeError("news needs a list of articles")
            return cls("news", articles=tuple(Article.from_json(a) for a in articles))
        value = {name: optional_text(data, name) for name in (*REQUIRED[kind], *OPTIONAL[kind])}
        return cls(
            cast(ReplyType, kind),
            content=value.get("content"),
            media_id=value.get("media_id"),
            title=value.get("title"),
            description=value.get("description"),
            music_url=value.get("music_url"),
            hq_music_url=value.get("hq_music_url"),
            thumb_media_id=value.get("thumb_media_id"),
        )


@dataclass(frozen=True, slots=True)
class PassiveAnswer:
    """The answer to a passive-reply request: ``reply`` (with its ``rule_id``) or none."""

    reply: Reply | None = None
    rule_id: str | None = None

    def to_json(self) -> JsonObject:
        if self.reply is None:
            return {"type": "none"}
        spec = self.reply.to_json()
        if self.rule_id is not None:
            spec["rule_id"] = self.rule_id
        return spec

    def encode(self) -> bytes:
        return json.dumps(self.to_json(), ensure_ascii=False, separators=(",", ":")).encode()

    @classmethod
    def from_json(cls, value: object) -> PassiveAnswer:
        data: Mapping[str, Json] = obj(value, "answer")
        if data.get("type") == "none":
            return cls()
        return cls(Reply.from_json(data), optional_text(data, "rule_id"))

    @classmethod
    def decode(cls, body: bytes) -> PassiveAnswer:
        try:
            return cls.from_json(json.loads(body))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DecodeError(f"answer is not JSON: {exc}") from None
