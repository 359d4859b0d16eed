"""An HTTP answer from WeChat's API becomes a JSON object or a typed error (pure)."""

from __future__ import annotations

import pytest

from shared.wechat.errors import Transient, WeChatError
from shared.wechat.http import issued_token
from shared.wechat.retry import may_retry
from shared.wechat.token_policy import IssuedToken
from shared.wechat.transport import answer_of


def test_a_json_object_is_the_answer() -> None:
    assert answer_of(200, '{"errcode": 0, "openid": "o_1"}') == {"errcode": 0, "openid": "o_1"}


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_server_error_may_have_delivered_so_only_idempotent_calls_retry(status: int) -> None:
    with pytest.raises(Transient) as caught:
        answer_of(status, "")
    assert caught.value.maybe_delivered
    assert may_retry(caught.value, idempotent=True)
    assert not may_retry(caught.value, idempotent=False)


@pytest.mark.parametrize("status", [400, 403, 404])
def test_other_http_statuses_are_final(status: int) -> None:
    with pytest.raises(WeChatError) as caught:
        answer_of(status, '{"errcode": 0}')
    assert not isinstance(caught.value, Transient)
    assert f"http {status}" in str(caught.value)


@pytest.mark.parametrize("text", ["<html>busy</html>", "[1, 2]", "null", ""])
def test_an_answer_that_is_no_json_object_is_transient(text: str) -> None:
    with pytest.raises(Transient) as caught:
        answer_of(200, text)
    assert caught.value.maybe_delivered


def test_a_token_answer_grants_a_token_for_its_lifetime() -> None:
    answer = {"access_token": "ACCESS", "expires_in": 7200}
    assert issued_token(answer) == IssuedToken("ACCESS", 7200)


@pytest.mark.parametrize(
    "answer",
    [{"expires_in": 7200}, {"access_token": "A"}, {"access_token": "A", "expires_in": "soon"}],
)
def test_a_token_answer_without_token_or_lifetime_is_an_error(answer: dict[str, object]) -> None:
    with pytest.raises(WeChatError, match="lacks access_token or expires_in") as caught:
        issued_token(answer)
    assert not isinstance(caught.value, Transient)
