"""Rendering a reply spec (the replies service's JSON) as WeChat's passive-reply XML.

Pure: the account and reader come from the inbound envelope, never from the spec, so
a reply can only go back to the reader who wrote, on the account that received it.
"""

from __future__ import annotations

from typing import Any

from shared.envelope import Envelope

MAX_ARTICLES = 8


class ReplyError(ValueError):
    """A reply spec the gateway cannot render."""


def cdata(value: object) -> str:
    text = str(value).replace("]]>", "]]]]><![CDATA[>")
    return f"<![CDATA[{text}]]>"


def _field(spec: dict[str, Any], name: str, *, required: bool = True) -> str:
    value = spec.get(name)
    if value is None and not required:
        return ""
    if not isinstance(value, str) or (required and not value):
        raise ReplyError(f"reply field {name!r} must be a non-empty string")
    return value


def _body(spec: dict[str, Any]) -> tuple[str, str]:
    kind = spec.get("type")
    if kind == "text":
        return "text", f"<Content>{cdata(_field(spec, 'content'))}</Content>"
    if kind in ("image", "voice"):
        tag = kind.capitalize()
        return kind, f"<{tag}><MediaId>{cdata(_field(spec, 'media_id'))}</MediaId></{tag}>"
    if kind == "video":
        parts = [f"<MediaId>{cdata(_field(spec, 'media_id'))}</MediaId>"]
        for name, tag in (("title", "Title"), ("description", "Description")):
            if spec.get(name):
                parts.append(f"<{tag}>{cdata(_field(spec, name))}</{tag}>")
        return "video", f"<Video>{''.join(parts)}</Video>"
    if kind == "music":
        names = (
            ("title", "Title"),
            ("description", "Description"),
            ("music_url", "MusicUrl"),
            ("hq_music_url", "HQMusicUrl"),
        )
        parts = [f"<{tag}>{cdata(_field(spec, n, required=False))}</{tag}>" for n, tag in names]
        parts.append(f"<ThumbMediaId>{cdata(_field(spec, 'thumb_media_id'))}</ThumbMediaId>")
        return "music", f"<Music>{''.join(parts)}</Music>"
    if kind == "news":
        articles = spec.get("articles")
        if not isinstance(articles, list) or not 1 <= len(articles) <= MAX_ARTICLES:
            raise ReplyError(f"news needs 1 to {MAX_ARTICLES} articles")
        items = "".join(_article(a) for a in articles)
        return "news", f"<ArticleCount>{len(articles)}</ArticleCount><Articles>{items}</Articles>"
    raise ReplyError(f"unknown reply type {kind!r}")


def _article(article: object) -> str:
    if not isinstance(article, dict):
        raise ReplyError("each article must be an object")
    names = (
        ("title", "Title"),
        ("description", "Description"),
        ("picurl", "PicUrl"),
        ("url", "Url"),
    )
    inner = "".join(
        f"<{tag}>{cdata(_field(article, n, required=n == 'title'))}</{tag}>" for n, tag in names
    )
    return f"<item>{inner}</item>"


def render_reply(spec: dict[str, Any], inbound: Envelope, *, now: int) -> bytes:
    """The plaintext XML of a passive reply to ``inbound``."""
    msgtype, body = _body(spec)
    account = inbound.payload.get("account", "")
    return (
        f"<xml><ToUserName>{cdata(inbound.openid)}</ToUserName>"
        f"<FromUserName>{cdata(account)}</FromUserName>"
        f"<CreateTime>{now}</CreateTime><MsgType>{cdata(msgtype)}</MsgType>{body}</xml>"
    ).encode()
