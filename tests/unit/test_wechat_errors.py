"""What an errcode in a WeChat answer means to the code that called (pure).

Each answer goes through the same checks ``WeChatHttp`` applies (``raise_for_errcode``
with the API's or the token endpoint's classification); the tests look at what callers
branch on: the exception type, whether it may be retried, and its outcome label.
"""

from __future__ import annotations

import pytest

from shared.wechat.errors import (
    InvalidCredential,
    InvalidToken,
    RateLimited,
    Transient,
    WeChatError,
    error_for,
    raise_for_errcode,
    token_error_for,
)
from shared.wechat.retry import may_retry


def refusal(errcode: int, *, token_endpoint: bool = False) -> WeChatError:
    """The error raised for an answer carrying ``errcode``."""
    answer = {"errcode": errcode, "errmsg": "as WeChat said it"}
    with pytest.raises(WeChatError) as caught:
        raise_for_errcode(answer, token_error_for if token_endpoint else error_for)
    return caught.value


@pytest.mark.parametrize("answer", [{"access_token": "t"}, {"errcode": 0, "errmsg": "ok"}])
def test_an_answer_without_an_errcode_passes(answer: dict[str, object]) -> None:
    raise_for_errcode(answer)


@pytest.mark.parametrize("errcode", [40001, 40014, 42001])
def test_a_refused_access_token_asks_for_a_refresh(errcode: int) -> None:
    error = refusal(errcode)
    assert isinstance(error, InvalidToken)
    assert not may_retry(error, idempotent=True)  # the client refreshes, then tries once


@pytest.mark.parametrize("errcode", [40001, 40014, 42001])
def test_the_same_codes_from_the_token_endpoint_mean_a_wrong_secret(errcode: int) -> None:
    error = refusal(errcode, token_endpoint=True)
    assert isinstance(error, InvalidCredential)
    assert not isinstance(error, InvalidToken)  # else a bad secret would loop on refreshes


@pytest.mark.parametrize(
    ("errcode", "outcome"),
    [
        (45015, "out_of_window"),  # the reader has been silent for over 48 h
        (43004, "not_following"),  # the reader unsubscribed
        (40007, "invalid_media"),  # the media_id expired
    ],
)
def test_refusals_of_a_customer_service_message_are_final_and_named(
    errcode: int, outcome: str
) -> None:
    error = refusal(errcode)
    assert error.outcome == outcome  # replies counts them as refused_<outcome>
    assert not isinstance(error, Transient | RateLimited)  # the fallback gives up on them
    assert not may_retry(error, idempotent=True)


def test_system_busy_is_retried_even_for_a_message_as_it_was_not_delivered() -> None:
    error = refusal(-1)
    assert isinstance(error, Transient)
    assert error.maybe_delivered is False
    assert may_retry(error, idempotent=False)


def test_a_quota_is_not_retried_at_once_but_kept_for_later() -> None:
    error = refusal(45009)
    assert isinstance(error, RateLimited)
    assert not may_retry(error, idempotent=True)


def test_an_unknown_code_is_a_plain_final_error() -> None:
    error = refusal(99999)
    assert type(error) is WeChatError
    assert error.outcome == "error"
    assert not may_retry(error, idempotent=True)


def test_the_error_carries_wechats_code_and_message() -> None:
    error = refusal(45015)
    assert (error.errcode, error.errmsg) == (45015, "as WeChat said it")
    assert "errcode=45015" in str(error)


def test_every_kind_has_a_distinct_metrics_label() -> None:
    kinds = [WeChatError, *WeChatError.__subclasses__()]
    outcomes = [kind.outcome for kind in kinds]
    assert len(set(outcomes)) == len(outcomes)
    assert all(o.isidentifier() and o.islower() for o in outcomes)
