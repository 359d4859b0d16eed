"""Playing WeChat: signed and encrypted webhook requests, and checked replies (pure)."""

from __future__ import annotations

import pytest
from defusedxml.ElementTree import fromstring

from shared.wechat.crypto import MessageCrypto, encrypted_envelope, signature_matches
from shared.wechat.samples import build_xml
from shared.wechat.simulator import (
    Account,
    ReplyCheckError,
    SignedRequest,
    open_reply,
    sign_request,
)

AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
XML = build_xml("text", openid="o_r", account="gh_a", create_time=1_790_000_000, msg_id="1")


def account(mode: str) -> Account:
    return Account("acme", "wx0123456789abcdef", "tok", AES_KEY, mode)


def sign(mode: str) -> SignedRequest:
    return sign_request(account(mode), XML, openid="o_r", timestamp=1_790_000_000, nonce="n1")


def test_plain_mode_sends_the_xml_as_is_with_a_signature() -> None:
    signed = sign("plain")
    assert (signed.body, signed.encrypted) == (XML, False)
    assert signed.query["openid"] == "o_r"
    assert signature_matches(signed.query["signature"], "tok", "1790000000", "n1")
    assert "msg_signature" not in signed.query


@pytest.mark.parametrize(("mode", "plaintext_beside"), [("safe", False), ("compatible", True)])
def test_encrypted_modes_carry_the_message_signed_and_encrypted(
    mode: str, plaintext_beside: bool
) -> None:
    signed = sign(mode)
    outer = fromstring(signed.body)
    encrypted = outer.findtext("Encrypt") or ""
    assert signed.encrypted
    assert signed.query["encrypt_type"] == "aes"
    assert signature_matches(signed.query["msg_signature"], "tok", "1790000000", "n1", encrypted)
    assert MessageCrypto(AES_KEY, "wx0123456789abcdef").decrypt(encrypted) == XML
    assert outer.findtext("ToUserName") == "gh_a"
    assert (outer.findtext("Content") == "hello") is plaintext_beside


@pytest.mark.parametrize("body", [b"success", b""])
def test_no_reply_passes_through(body: bytes) -> None:
    assert open_reply(account("safe"), body, encrypted=True) == body


def test_an_encrypted_reply_is_opened_once_its_signature_verifies() -> None:
    reply = b"<xml><Content><![CDATA[hi]]></Content></xml>"
    encrypted = MessageCrypto(AES_KEY, "wx0123456789abcdef").encrypt(reply)
    body = encrypted_envelope("tok", encrypted, "1790000001", "n2")
    assert open_reply(account("safe"), body, encrypted=True) == reply
    with pytest.raises(ReplyCheckError):
        open_reply(account("safe"), body.replace(b"n2", b"n3"), encrypted=True)


def test_made_up_msg_ids_of_one_second_are_all_different() -> None:
    ids = {
        fromstring(
            build_xml("text", openid=f"o{n}", account="gh_a", create_time=1_790_000_000)
        ).findtext("MsgId")
        for n in range(5_000)
    }
    assert len(ids) == 5_000
    assert all(int(i) // 1_000_000 == 1_790_000_000 for i in ids if i)  # the second, then a serial
