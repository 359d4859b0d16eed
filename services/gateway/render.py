"""A reply as WeChat's passive-reply XML. Pure.

The account and reader come from the inbound envelope, never from the reply, so a reply
can only go back to the reader who wrote, on the account that received it.
"""

from __future__ import annotations

from shared.contracts.envelope import Envelope
from shared.contracts.messages import WeChatMessage
from shared.contracts.reply import Article, Reply


def cdata(value: object) -> str:
    text = str(value).replace("]]>", "]]]]><![CDATA[>")
    return f"<![CDATA[{text}]]>"


def _tags(pairs: tuple[tuple[str, str | None], ...], *, keep_empty: bool) -> str:
    return "".join(
        f"<{tag}>{cdata(value or '')}</{tag}>" for tag, value in pairs if keep_empty or value
    )


def _article(article: Article) -> str:
    pairs = (
        ("Title", article.title),
        ("Description", article.description),
        ("PicUrl", article.picurl),
        ("Url", article.url),
    )
    return f"<item>{_tags(pairs, keep_empty=True)}</item>"


def _body(reply: Reply) -> str:
    if reply.type == "text":
        return f"<Content>{cdata(reply.content)}</Content>"
    if reply.type in ("image", "voice"):
        tag = reply.type.capitalize()
        return f"<{tag}><MediaId>{cdata(reply.media_id)}</MediaId></{tag}>"
    if reply.type == "video":
        pairs = (
            ("MediaId", reply.media_id),
            ("Title", reply.title),
            ("Description", reply.description),
        )
        return f"<Video>{_tags(pairs, keep_empty=False)}</Video>"
    if reply.type == "music":
        music = (
            ("Title", reply.title),
            ("Description", reply.description),
            ("MusicUrl", reply.music_url),
            ("HQMusicUrl", reply.hq_music_url),
            ("ThumbMediaId", reply.thumb_media_id),
        )
        return f"<Music>{_tags(music, keep_empty=True)}</Music>"
    items = "".join(_article(a) for a in reply.articles)
    return f"<ArticleCount>{len(reply.articles)}</ArticleCount><Articles>{items}</Articles>"


def render_reply(reply: Reply, inbound: Envelope[WeChatMessage], *, now: int) -> bytes:
    """The plaintext XML of a passive reply to ``inbound``."""
    return (
        f"<xml><ToUserName>{cdata(inbound.openid)}</ToUserName>"
        f"<FromUserName>{cdata(inbound.payload.account)}</FromUserName>"
        f"<CreateTime>{now}</CreateTime><MsgType>{cdata(reply.type)}</MsgType>"
        f"{_body(reply)}</xml>"
    ).encode()
