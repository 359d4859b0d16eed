"""WeChat errcodes become typed exceptions (pure)."""

from __future__ import annotations

import pytest

from shared.wechat.errors import (
    AlreadySent,
    Forbidden,
    InvalidCredential,
    InvalidMedia,
    InvalidToken,
    NotFollowing,
    OutOfWindow,
    RateLimited,
    Transient,
    UserBlocked,
    WeChatError,
    error_for,
    token_error_for,
)


@pytest.mark.parametrize(
    ("errcode", "kind"),
    [
        (40001, InvalidToken),
        (40014, InvalidToken),
        (42001, InvalidToken),
        (40013, InvalidCredential),
        (40125, InvalidCredential),
        (48001, Forbidden),
        (45009, RateLimited),
        (45011, RateLimited),
        (45015, OutOfWindow),
        (45047, OutOfWindow),
        (43004, NotFollowing),
        (40003, NotFollowing),
        (43019, UserBlocked),
        (40007, InvalidMedia),
        (45065, AlreadySent),
        (-1, Transient),
    ],
)
def test_known_codes_map_to_their_kind(errcode: int, kind: type[WeChatError]) -> None:
    error = error_for(errcode, "some message")
    assert type(error) is kind
    assert (error.errcode, error.errmsg) == (errcode, "some message")
    assert f"errcode={errcode}" in str(error)


def test_unknown_code_is_the_base_error() -> None:
    error = error_for(99999, "new in some later API")
    assert type(error) is WeChatError
    assert error.outcome == "error"


def test_on_the_token_endpoint_40001_means_a_wrong_secret() -> None:
    assert type(token_error_for(40001, "invalid credential")) is InvalidCredential
    assert type(token_error_for(40125, "invalid appsecret")) is InvalidCredential
    assert type(token_error_for(45009, "api freq out of limit")) is RateLimited
    assert type(token_error_for(-1, "system busy")) is Transient


def test_every_kind_has_its_own_metrics_outcome() -> None:
    kinds = [
        WeChatError,
        InvalidToken,
        InvalidCredential,
        Forbidden,
        RateLimited,
        OutOfWindow,
        NotFollowing,
        UserBlocked,
        InvalidMedia,
        AlreadySent,
        Transient,
    ]
    outcomes = [kind.outcome for kind in kinds]
    assert len(set(outcomes)) == len(outcomes)
    assert all(o.isidentifier() and o.islower() for o in outcomes)


def test_system_busy_was_not_delivered_but_a_timeout_may_have_been() -> None:
    busy = error_for(-1, "system error")
    assert isinstance(busy, Transient)
    assert busy.maybe_delivered is False
    assert Transient(-2, "timeout", maybe_delivered=True).maybe_delivered is True
