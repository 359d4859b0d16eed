"""The scheduler's calls to WeChat's mass-send API, at most 60 a minute per account
(WeChat's limit for these endpoints), shared by the runner and the API of a replica.

A refused call is answered as its errcode (and WeChat's answer, which for 45065 holds the
earlier ``msg_id``), so the runner decides with ``outcomes.classify``; -1 is WeChat busy,
-2 a failed exchange (a timeout after sending is retried under the same ``clientmsgid``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aiolimiter import AsyncLimiter

from services.scheduler.spec import Message
from shared.wechat.errors import WeChatError
from shared.wechat.runtime import WeChatRuntime

CALLS_PER_MINUTE = 60
MASS = "/cgi-bin/message/mass"


class MassCalls:
    def __init__(self, wechat: WeChatRuntime, *, per_minute: int = CALLS_PER_MINUTE) -> None:
        self._wechat = wechat
        self._per_minute = per_minute
        self._limiters: dict[str, AsyncLimiter] = {}

    async def _post(
        self, appid: str, path: str, body: dict[str, Any]
    ) -> tuple[Mapping[str, Any], int]:
        limiter = self._limiters.setdefault(appid, AsyncLimiter(self._per_minute, 60))
        async with limiter:
            try:
                answer = await self._wechat.client.call(
                    appid,
                    "POST",
                    f"{MASS}/{path}",
                    json=body,
                    idempotent="clientmsgid" in body or path == "get",
                )
            except WeChatError as exc:
                return exc.answer, exc.errcode
        return (answer if isinstance(answer, dict) else {}), 0

    async def send(
        self, appid: str, to_openids: bool, body: dict[str, Any]
    ) -> tuple[Mapping[str, Any], int]:
        return await self._post(appid, "send" if to_openids else "sendall", body)

    async def status(self, appid: str, msg_id: str) -> str | None:
        """``mass/get``'s ``msg_status`` (SEND_SUCCESS, SENDING, SEND_FAIL, DELETE), or None
        when WeChat did not say."""
        answer, errcode = await self._post(appid, "get", {"msg_id": _number(msg_id)})
        status = answer.get("msg_status")
        return str(status) if errcode == 0 and status else None

    async def preview(
        self, appid: str, message: Message, kind: str, names: Sequence[str]
    ) -> list[dict[str, Any]]:
        """Sends the message now to each staff member's phone; one outcome each."""
        field = "touser" if kind == "openids" else "towxname"
        outcomes = []
        for name in names:
            _, errcode = await self._post(appid, "preview", {**message.wechat_body(), field: name})
            outcomes.append({"to": name, "sent": errcode == 0, "errcode": errcode})
        return outcomes

    async def retract(self, appid: str, msg_ids: Sequence[str], article_idx: int) -> list[int]:
        """WeChat's mass delete of each batch; the errcodes (0: deleted)."""
        results = []
        for msg_id in msg_ids:
            body = {"msg_id": _number(msg_id), "article_idx": article_idx}
            _, errcode = await self._post(appid, "delete", body)
            results.append(errcode)
        return results


def _number(msg_id: str) -> int | str:
    """WeChat's msg_ids are numbers; they are kept as text."""
    return int(msg_id) if msg_id.isdigit() else msg_id
