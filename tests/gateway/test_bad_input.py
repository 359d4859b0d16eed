"""Every bad webhook request gets a clear status, is counted by reason, and publishes nothing."""

from __future__ import annotations

import asyncio
import base64
import logging
import secrets
import time
import urllib.parse

from aiohttp import ClientSession
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from shared.wechat.crypto import MessageCrypto, decode_aes_key, pkcs7_pad, signature
from shared.wechat.samples import build_xml
from shared.wechat.simulator import Account, SignedRequest, sign_request
from tests.support.bus import stays_true, wait_until
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
    """A plain signature of its own (a signature carries one body: see the replay test)."""
    ts, nonce = str(int(time.time())), secrets.token_hex(4)
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


async def raw_post(base: str, path: str, query: dict[str, str], body: bytes) -> bytes:
    """The whole HTTP response, as bytes on the wire, but its Date header (it ticks)."""
    url = urllib.parse.urlsplit(base)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    head = (
        f"POST {path}?{urllib.parse.urlencode(query)} HTTP/1.1\r\nHost: {url.netloc}\r\n"
        f"Content-Type: text/xml\r\nContent-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    writer.write(head.encode() + body)
    await writer.drain()
    response = await reader.read()
    writer.close()
    await writer.wait_closed()
    return b"".join(
        line for line in response.splitlines(keepends=True) if not line.startswith(b"Date:")
    )


async def test_every_decryption_failure_gets_the_same_answer_byte_for_byte(
    gateway, http, new_account
):
    # No padding oracle: bad padding, another appid, a wrong key, a bad length field and
    # broken base64 all look the same from outside; only the metric says which it was.
    safe = await new_account("safe")
    key = decode_aes_key(safe.encoding_aes_key)
    too_long = b"0" * 16 + b"\x00\x00\x01\x00hello" + safe.appid.encode()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    length_lie = base64.b64encode(
        encryptor.update(pkcs7_pad(too_long)) + encryptor.finalize()
    ).decode()
    kinds = {
        "bad_padding": badly_padded(safe),
        "appid_mismatch": MessageCrypto(safe.encoding_aes_key, "wx0000000000000000").encrypt(
            text_xml()
        ),
        "wrong_key": MessageCrypto("B" * 42 + "E", safe.appid).encrypt(text_xml()),
        "bad_length": length_lie,
        "bad_base64": "not*base64!",
    }
    before = await rejected_total(http, gateway)
    answers = {}
    for kind, encrypted in kinds.items():
        signed = signed_encrypted(safe, encrypted)
        answers[kind] = await raw_post(gateway, f"/wx/{safe.tenant_id}", signed.query, signed.body)
    first = answers["bad_padding"]
    assert first.startswith(b"HTTP/1.1 400 "), first
    for kind, answer in answers.items():
        assert answer == first, (kind, answer, first)
    after = await rejected_total(http, gateway)
    for cause in ("bad_padding", "appid_mismatch", "bad_length", "bad_base64"):
        assert after.get(cause, 0) - before.get(cause, 0) >= 1, cause


def deep_xml(depth: int = 2_000) -> bytes:
    """Deeper than Python's recursion limit, inside the test gateway's 16 KB body limit."""
    return b"<xml>" + b"<a>" * depth + b"</a>" * depth + b"</xml>"


def message_at(create_time: str) -> bytes:
    return (
        "<xml><ToUserName>gh_test</ToUserName><FromUserName>o_t</FromUserName>"
        f"<CreateTime>{create_time}</CreateTime><MsgType>event</MsgType>"
        "<Event>VIEW</Event><EventKey>k</EventKey></xml>"
    ).encode()


def longest_log_line(caplog) -> int:
    """The longest line the gateway logged (the test server's access log aside: the
    service runs without one)."""
    return max(
        (
            len(caplog.handler.format(record))
            for record in caplog.records
            if record.name != "aiohttp.access"
        ),
        default=0,
    )


async def test_hostile_xml_is_a_400_and_the_log_lines_stay_short(
    gateway, http, new_account, tap_factory, caplog
):
    caplog.set_level(logging.INFO)
    safe = await new_account("safe")
    plain = await new_account("plain")
    tap = await tap_factory([f"{plain.tenant_id}.#", f"{safe.tenant_id}.#"])
    before = await rejected_total(http, gateway)
    caplog.clear()
    unsigned = {"timestamp": str(int(time.time())), "nonce": "n", "encrypt_type": "aes"}
    cases: list[tuple[str, Account, SignedRequest, dict[str, str] | None, str]] = [
        # Parsed for <Encrypt> before any signature is checked: no key or token needed.
        ("deep, unsigned", safe, SignedRequest(unsigned, deep_xml(), True), None, "too_deep"),
        ("deep, signed", plain, signed_plain(plain, deep_xml()), None, "too_deep"),
        (
            "wide, unsigned",
            safe,
            SignedRequest(unsigned, b"<xml>" + b"<a/>" * 2_000 + b"</xml>", True),
            None,
            "too_many_elements",
        ),
        (
            "unknown encoding",
            plain,
            signed_plain(plain, b'<?xml version="1.0" encoding="nope"?><xml/>'),
            None,
            "bad_xml",
        ),
    ]
    cases += [
        (f"CreateTime {value}", plain, signed_plain(plain, message_at(value)), None, "bad_field")
        for value in ("999999999999", str(10**12), str(10**20), "-1")
    ]
    for label, account, signed, query, _ in cases:
        answer = await post_signed(http, gateway, account, signed, query=query)
        assert answer.status == 400, (label, answer.status, answer.body[:300])
        assert len(answer.body) < 200, label
    long_path = f"/wx/{'x' * 7_000}?timestamp=1&nonce=1"
    async with http.post(f"{gateway}{long_path}", data=b"<xml/>") as response:
        assert response.status == 404
    assert longest_log_line(caplog) < 1_000

    after = await rejected_total(http, gateway)
    expected: dict[str, int] = {}
    for *_, reason in cases:
        expected[reason] = expected.get(reason, 0) + 1
    for reason, count in expected.items():
        assert after.get(reason, 0) - before.get(reason, 0) == count, reason
    await stays_true(lambda: not tap.events, 1.0, what="nothing published")
