"""Every bad webhook request gets a clear status, is counted by reason, and publishes nothing."""

from __future__ import annotations

import base64
import time
import urllib.parse

from aiohttp import ClientSession
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from shared.wechat.crypto import MessageCrypto, decode_aes_key, signature
from shared.wechat.samples import build_xml
from shared.wechat.simulator import Account, SignedRequest, sign_request
from tests.support.bus import wait_until
from tests.support.gateway import post_signed, send

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<xml><ToUserName>gh</ToUserName><FromUserName>o</FromUserName><CreateTime>1</CreateTime>
<MsgType>text</MsgType><Content>&lol3;</Content><MsgId>1</MsgId></xml>"""


async def rejected_total(http: ClientSession, base: str) -> dict[str, float]:
    async with http.get(f"{base}/metrics") as response:
        text = await response.text()
    counts: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("wxp_gateway_rejected_total{"):
            reason = line.split('reason="', 1)[1].split('"', 1)[0]
            counts[reason] = float(line.rsplit(" ", 1)[1])
    return counts


def text_xml(openid: str = "o_x") -> bytes:
    return build_xml("text", openid=openid, account="gh_test", create_time=int(time.time()))


def signed_plain(account: Account, body: bytes, **query: str) -> SignedRequest:
    ts, nonce = str(int(time.time())), "n0nce"
    params = {"signature": signature(account.token, ts, nonce), "timestamp": ts, "nonce": nonce}
    params.update(query)
    return SignedRequest(query=params, body=body, encrypted=False)


def signed_encrypted(account: Account, encrypted: str) -> SignedRequest:
    """A correctly signed safe-mode request around any ``Encrypt`` value."""
    ts, nonce = str(int(time.time())), "n0nce"
    body = f"<xml><ToUserName>gh_test</ToUserName><Encrypt>{encrypted}</Encrypt></xml>".encode()
    query = {
        "signature": signature(account.token, ts, nonce),
        "timestamp": ts,
        "nonce": nonce,
        "encrypt_type": "aes",
        "msg_signature": signature(account.token, ts, nonce, encrypted),
    }
    return SignedRequest(query=query, body=body, encrypted=True)


def badly_padded(account: Account) -> str:
    key = decode_aes_key(account.encoding_aes_key)
    plain = b"0" * 16 + b"\x00\x00\x00\x05hello" + account.appid.encode()
    plain += b"\x00" * (64 - len(plain))  # a zero pad byte is never valid PKCS#7
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


async def test_bad_requests_are_refused_counted_and_publish_nothing(
    gateway, http, new_account, tap_factory
):
    safe = await new_account("safe")
    plain = await new_account("plain")
    other = await new_account("safe")
    tap = await tap_factory([f"{safe.tenant_id}.#", f"{plain.tenant_id}.#"])
    before = await rejected_total(http, gateway)
    good = sign_request(safe, text_xml(), openid="o_x")
    stale = sign_request(safe, text_xml(), openid="o_x", timestamp=int(time.time()) - 3600)
    foreign = MessageCrypto(safe.encoding_aes_key, "wx0000000000000000").encrypt(text_xml())

    cases: list[tuple[str, Account, SignedRequest, dict[str, str] | None, int, str]] = [
        (
            "wrong signature",
            plain,
            signed_plain(plain, text_xml(), signature="0" * 40),
            None,
            403,
            "bad_signature",
        ),
        (
            "missing signature",
            plain,
            signed_plain(plain, text_xml()),
            {"timestamp": str(int(time.time())), "nonce": "n"},
            403,
            "bad_signature",
        ),
        (
            "wrong msg_signature",
            safe,
            good,
            {**good.query, "msg_signature": "f" * 40},
            403,
            "bad_signature",
        ),
        ("stale timestamp", safe, stale, None, 403, "stale_timestamp"),
        (
            "another tenant's token",
            other,
            sign_request(safe, text_xml(), openid="o"),
            None,
            403,
            "bad_signature",
        ),
        ("broken base64", safe, signed_encrypted(safe, "not*base64!"), None, 400, "bad_base64"),
        (
            "broken padding",
            safe,
            signed_encrypted(safe, badly_padded(safe)),
            None,
            400,
            "bad_padding",
        ),
        ("another appid", safe, signed_encrypted(safe, foreign), None, 400, "appid_mismatch"),
        (
            "malformed xml",
            plain,
            signed_plain(plain, b"<xml><MsgType>text</xml"),
            None,
            400,
            "bad_xml",
        ),
        ("entity expansion", plain, signed_plain(plain, BILLION_LAUGHS), None, 400, "xml_entities"),
        (
            "missing fields",
            plain,
            signed_plain(plain, b"<xml><Content>x</Content></xml>"),
            None,
            400,
            "missing_field",
        ),
        (
            "plaintext to a safe account",
            safe,
            signed_plain(safe, text_xml()),
            None,
            400,
            "plaintext_refused",
        ),
        (
            "oversized body",
            plain,
            signed_plain(plain, b"<xml>" + b"x" * 20_000 + b"</xml>"),
            None,
            413,
            "too_large",
        ),
    ]
    for label, account, signed, query, status, _ in cases:
        answer = await post_signed(http, gateway, account, signed, query=query)
        assert answer.status == status, (label, answer.body)
        assert answer.body != b"success", label

    async with http.post(f"{gateway}/wx/tnosuchtenant?timestamp=1&nonce=1", data=b"<xml/>") as r:
        assert r.status == 404
    query = urllib.parse.urlencode(
        {"signature": "x", "timestamp": str(int(time.time())), "nonce": "n"}
    )
    async with http.get(f"{gateway}/wx/{plain.tenant_id}?{query}") as response:
        assert response.status == 400
        assert "echostr" in await response.text()

    # Nothing above was published: a good message afterwards is the only event.
    assert (await send(http, gateway, plain, "event:VIEW", openid="o_sentinel")).status == 200
    await wait_until(lambda: len(tap.events) >= 1)
    assert [e.openid for e in tap.events] == ["o_sentinel"]

    after = await rejected_total(http, gateway)
    expected: dict[str, int] = {}
    for *_, reason in cases:
        expected[reason] = expected.get(reason, 0) + 1
    expected["unknown_tenant"] = 1
    expected["missing_echostr"] = 1
    for reason, count in expected.items():
        assert after.get(reason, 0) - before.get(reason, 0) == count, reason


async def test_url_verification_echoes_in_every_mode(gateway, http, new_account):
    for mode in ("plain", "compatible", "safe"):
        account = await new_account(mode)
        ts = str(int(time.time()))
        query = urllib.parse.urlencode(
            {
                "signature": signature(account.token, ts, "abc"),
                "timestamp": ts,
                "nonce": "abc",
                "echostr": "e12345",
            }
        )
        async with http.get(f"{gateway}/wx/{account.tenant_id}?{query}") as response:
            assert response.status == 200
            assert await response.text() == "e12345"
        wrong = query.replace(signature(account.token, ts, "abc"), "0" * 40)
        async with http.get(f"{gateway}/wx/{account.tenant_id}?{wrong}") as response:
            assert response.status == 403
