"""WeChat's error codes as exceptions, so callers branch on a type, not a number.

Codes checked against WeChat's global return-code table (and wechatpy's list of it).
``Transient`` also stands for HTTP 5xx answers, timeouts and broken connections.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar


class WeChatError(Exception):
    """An answer with ``errcode != 0``; ``outcome`` is the metrics label for its kind."""

    outcome: ClassVar[str] = "error"

    def __init__(self, errcode: int, errmsg: str) -> None:
        super().__init__(f"errcode={errcode} errmsg={errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg
        self.answer: Mapping[str, Any] = {}  # the whole answer (45065 carries the msg_id)


class InvalidToken(WeChatError):
    """The access_token is wrong, superseded by a newer one, or expired: refresh it."""

    outcome = "invalid_token"


class InvalidCredential(WeChatError):
    """The appid or app secret is wrong: a configuration error, retrying will not help."""

    outcome = "invalid_credential"


class Forbidden(WeChatError):
    """The account has no permission for this API (for example, not verified)."""

    outcome = "forbidden"


class RateLimited(WeChatError):
    """Call quota reached (per day or per minute): back off, do not retry at once."""

    outcome = "rate_limited"


class OutOfWindow(WeChatError):
    """Customer-service message outside the reader's 48 h window or over its count."""

    outcome = "out_of_window"


class NotFollowing(WeChatError):
    """The openid is not a follower of this account (or not an openid of it)."""

    outcome = "not_following"


class UserBlocked(WeChatError):
    """The reader is on the account's blacklist or refused messages."""

    outcome = "user_blocked"


class InvalidMedia(WeChatError):
    """The media_id does not exist (or expired)."""

    outcome = "invalid_media"


class AlreadySent(WeChatError):
    """A mass send with this clientmsgid exists already: the earlier one stands."""

    outcome = "already_sent"


class Transient(WeChatError):
    """WeChat is busy or unreachable: try again later.

    ``maybe_delivered`` is true when the request may have reached WeChat (a timeout or a
    5xx after sending): only idempotent requests are retried then, so that a reader does
    not get the same message twice.
    """

    outcome = "transient"

    def __init__(self, errcode: int, errmsg: str, *, maybe_delivered: bool = False) -> None:
        super().__init__(errcode, errmsg)
        self.maybe_delivered = maybe_delivered


SYSTEM_BUSY = -1
HTTP_ERROR = -2  # not a WeChat code: the HTTP exchange itself failed

_BY_CODE: dict[int, type[WeChatError]] = {
    SYSTEM_BUSY: Transient,
    40001: InvalidToken,  # invalid credential: access_token invalid or not the latest
    40014: InvalidToken,  # invalid access_token
    42001: InvalidToken,  # access_token expired
    40013: InvalidCredential,  # invalid appid
    40125: InvalidCredential,  # invalid appsecret
    41004: InvalidCredential,  # appsecret missing
    48001: Forbidden,  # api unauthorized
    45009: RateLimited,  # api freq out of limit (daily quota)
    45011: RateLimited,  # api minute quota reached
    45015: OutOfWindow,  # response out of time limit (48 h) or unsubscribed
    45047: OutOfWindow,  # out of response count limit
    40003: NotFollowing,  # invalid openid
    43004: NotFollowing,  # require subscribe
    43019: UserBlocked,  # reader is blacklisted
    43101: UserBlocked,  # reader refused the message
    40007: InvalidMedia,  # invalid media_id
    45065: AlreadySent,  # clientmsgid exists
}

INVALID_TOKEN_CODES = frozenset(c for c, kind in _BY_CODE.items() if kind is InvalidToken)


def error_for(errcode: int, errmsg: str) -> WeChatError:
    """The exception for an API answer's ``errcode`` (the base class when unknown)."""
    return _BY_CODE.get(errcode, WeChatError)(errcode, errmsg)


def token_error_for(errcode: int, errmsg: str) -> WeChatError:
    """The exception for a ``/cgi-bin/token`` answer: there 40001 means a wrong secret."""
    if errcode in INVALID_TOKEN_CODES:
        return InvalidCredential(errcode, errmsg)
    return error_for(errcode, errmsg)


Classify = Callable[[int, str], WeChatError]


def raise_for_errcode(answer: Mapping[str, Any], classify: Classify = error_for) -> None:
    """Raise the error an API answer stands for, if any (``classify`` picks its kind)."""
    errcode = int(answer.get("errcode") or 0)
    if errcode != 0:
        error = classify(errcode, str(answer.get("errmsg", "")))
        error.answer = answer
        raise error
