"""Playing the WeChat server: sign (and in compatible or safe mode encrypt) a webhook
request for an account, and open and check the gateway's answer.

Used by ``wxp simulate``, the tests and the benchmark, so all three exercise the same
code path. The messages themselves come from :mod:`shared.wechat.samples`.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from xml.sax.saxutils import escape

from defusedxml.ElementTree import fromstring

from shared.wechat.crypto import MessageCrypto, signature, signature_matches


@dataclass(frozen=True, slots=True)
class Account:
    """What WeChat knows of an account: enough to sign and encrypt for it."""

    tenant_id: str
    appid: str
    token: str
    encoding_aes_key: str
    encrypt_mode: str  # plain | compatible | safe


@dataclass(frozen=True, slots=True)
class SignedRequest:
    query: dict[str, str]
    body: bytes
    encrypted: bool


def sign_request(
    account: Account,
    xml: bytes,
    *,
    openid: str,
    timestamp: int | None = None,
    nonce: str | None = None,
) -> SignedRequest:
    ts = str(int(time.time()) if timestamp is None else timestamp)
    nonce = nonce or os.urandom(6).hex()
    query = {
        "signature": signature(account.token, ts, nonce),
        "timestamp": ts,
        "nonce": nonce,
        "openid": openid,
    }
    if account.encrypt_mode == "plain":
        return SignedRequest(query=query, body=xml, encrypted=False)
    encrypted = MessageCrypto(account.encoding_aes_key, account.appid).encrypt(xml)
    query.update(encrypt_type="aes", msg_signature=signature(account.token, ts, nonce, encrypted))
    to_user = fromstring(xml).findtext("ToUserName") or ""
    inner = xml.decode().removeprefix("<xml>").removesuffix("</xml>")
    # Compatible mode carries the plaintext beside the ciphertext; safe mode only the latter.
    extra = (
        inner
        if account.encrypt_mode == "compatible"
        else f"<ToUserName><![CDATA[{escape(to_user)}]]></ToUserName>"
    )
    body = f"<xml>{extra}<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>".encode()
    return SignedRequest(query=query, body=body, encrypted=True)


class ReplyCheckError(ValueError):
    """The gateway's answer is not what WeChat would accept."""


def open_reply(account: Account, body: bytes, *, encrypted: bool) -> bytes:
    """The plaintext XML of a passive reply (``b"success"`` and ``b""`` pass through)."""
    if body in (b"success", b"") or not encrypted:
        return body
    outer = fromstring(body)
    fields = {
        name: outer.findtext(name) or ""
        for name in ("Encrypt", "MsgSignature", "TimeStamp", "Nonce")
    }
    if not signature_matches(
        fields["MsgSignature"],
        account.token,
        fields["TimeStamp"],
        fields["Nonce"],
        fields["Encrypt"],
    ):
        raise ReplyCheckError("reply MsgSignature does not verify")
    return MessageCrypto(account.encoding_aes_key, account.appid).decrypt(fields["Encrypt"])
