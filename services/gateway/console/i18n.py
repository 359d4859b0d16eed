"""The console's words in Chinese (the default) and English. Pure.

Each page module keeps its own ``TEXT``: a mapping of message id to ``(zh, en)``; the
console merges them once (:func:`catalog`). A missing id shows as the id itself, which a
browser test notices."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"

Text = Mapping[str, tuple[str, str]]

COMMON: Text = {
    "app.title": ("wxp 公众号控制台", "wxp console"),
    "nav.overview": ("总览", "Overview"),
    "nav.onboard": ("接入公众号", "Add an account"),
    "nav.rules": ("自动回复", "Rules"),
    "nav.broadcasts": ("群发", "Broadcasts"),
    "nav.charts": ("数据", "Charts"),
    "nav.inbox": ("消息", "Inbox"),
    "nav.signout": ("退出", "Sign out"),
    "nav.language": ("English", "中文"),
    "nav.skip": ("跳到正文", "Skip to content"),
    "signin.title": ("登录", "Sign in"),
    "signin.key": ("API 密钥", "API key"),
    "signin.help": (
        "使用代理商密钥或公众号密钥登录。密钥只保存在加密的 Cookie 中。",
        "Sign in with an agency or account API key. It is kept only in an encrypted cookie.",
    ),
    "signin.submit": ("登录", "Sign in"),
    "signin.invalid": ("密钥无效或已吊销。", "That key is invalid or revoked."),
    "signin.expired": ("请重新登录。", "Please sign in again."),
    "error.title": ("出错了", "Something went wrong"),
    "error.not_found": ("找不到该页面或公众号。", "No such page or account."),
    "error.csrf": (
        "表单已过期，请刷新页面后重试。",
        "The form has expired; reload the page and try again.",
    ),
    "error.backend": ("服务暂时不可用：", "A service is unavailable: "),
    "tenant.pick": ("选择公众号", "Choose an account"),
    "common.save": ("保存", "Save"),
    "common.cancel": ("取消", "Cancel"),
    "common.delete": ("删除", "Delete"),
    "common.none": ("暂无数据", "Nothing yet"),
}


@dataclass(frozen=True, slots=True)
class Catalog:
    messages: Mapping[str, tuple[str, str]]

    def translator(self, language: str) -> Callable[[str], str]:
        index = LANGUAGES.index(language) if language in LANGUAGES else 0

        def translate(message_id: str) -> str:
            pair = self.messages.get(message_id)
            return pair[index] if pair else message_id

        return translate


def catalog(texts: Iterable[Text]) -> Catalog:
    merged: dict[str, tuple[str, str]] = dict(COMMON)
    for text in texts:
        for message_id, pair in text.items():
            if message_id in merged and merged[message_id] != pair:
                raise ValueError(f"message id {message_id} is defined twice")
            merged[message_id] = pair
    return Catalog(merged)


def language_of(cookie: str | None) -> str:
    return cookie if cookie in LANGUAGES else DEFAULT_LANGUAGE
