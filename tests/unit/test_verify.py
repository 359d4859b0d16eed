"""Webhook request verification: URL echo and POST in plain, compatible and safe mode."""

from __future__ import annotations

import base64
import struct

import pytest
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from wechatpy.crypto import WeChatCrypto

from services.gateway.messages import parse_xml
from services.gateway.verify import Credentials, Rejected, Verified, verify_echo, verify_post
from shared.wechat.crypto import MessageCrypto, decode_aes_key, signature

TOKEN = "verifyToken123"
APPID = "wx1234567890abcdef"
KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
OLD_KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"
STRANGER_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
PREFIX = b"0123456789abcdef"
NOW = 1_700_000_000.0
TOLERANCE = 300.0
TIMESTAMP = "1700000000"
NONCE = "417392610"
ECHOSTR = "6120463285190184617"
INNER = (
    b"<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName>"
    b"<FromUserName><![CDATA[oAbCdEfGhIjKlMnOpQrStUvWxYz0]]></FromUserName>"
    b"<CreateTime>1700000000</CreateTime><MsgType><![CDATA[text]]></MsgType>"
    b"<Content><![CDATA[\xe4\xbd\xa0\xe5\xa5\xbd]]></Content><MsgId>24000000000000001</MsgId></xml>"
)
BILLION_LAUGHS = (
    b'<?xml version="1.0"?>'
    b'<!DOCTYPE xml [<!ENTITY lol "lol">'
    b'<!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    b'<!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">'
    b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    b"<xml><Encrypt>&lol3;</Encrypt></xml>"
)


def creds(mode: str = "safe", keys: tuple[str, ...] = (KEY,)) -> Credentials:
    return Credentials(token=TOKEN, appid=APPID, encrypt_mode=mode, aes_keys=keys)


def echo_query(**overrides: str | None) -> dict[str, str]:
    query: dict[str, str | None] = {
        "signature": signature(TOKEN, TIMESTAMP, NONCE),
        "timestamp": TIMESTAMP,
        "nonce": NONCE,
        "echostr": ECHOSTR,
        **overrides,
    }
    return {k: v for k, v in query.items() if v is not None}


def plain_query(**overrides: str | None) -> dict[str, str]:
    return echo_query(echostr=None, **overrides)


def encrypted_body(encrypted: str) -> bytes:
    return (
        f"<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName>"
        f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    ).encode()


def sealed(
    key: str = KEY, appid: str = APPID, message: bytes = INNER, timestamp: str = TIMESTAMP
) -> tuple[dict[str, str], bytes]:
    """A query and body as WeChat sends them in safe mode, signed with our token."""
    encrypted = MessageCrypto(key, appid).encrypt(message, random_prefix=PREFIX)
    query = {
        "signature": signature(TOKEN, timestamp, NONCE),
        "timestamp": timestamp,
        "nonce": NONCE,
        "openid": "oAbCdEfGhIjKlMnOpQrStUvWxYz0",
        "encrypt_type": "aes",
        "msg_signature": signature(TOKEN, timestamp, NONCE, encrypted),
    }
    return query, encrypted_body(encrypted)


def rejected_echo(query: dict[str, str], mode: str = "plain") -> Rejected:
    with pytest.raises(Rejected) as exc_info:
        verify_echo(creds(mode), query, now=NOW, tolerance=TOLERANCE)
    return exc_info.value


def rejected_post(query: dict[str, str], body: bytes, credentials: Credentials) -> Rejected:
    with pytest.raises(Rejected) as exc_info:
        verify_post(credentials, query, body, now=NOW, tolerance=TOLERANCE)
    return exc_info.value


# --- verify_echo --------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["plain", "compatible", "safe"])
def test_echo_returns_echostr_for_a_correct_signature(mode: str) -> None:
    assert verify_echo(creds(mode), echo_query(), now=NOW, tolerance=TOLERANCE) == ECHOSTR


def test_echo_accepts_a_timestamp_at_the_edge_of_the_window() -> None:
    old = "1699999700"
    query = echo_query(timestamp=old, signature=signature(TOKEN, old, NONCE))
    assert verify_echo(creds(), query, now=NOW, tolerance=TOLERANCE) == ECHOSTR


@pytest.mark.parametrize(
    "given",
    [
        None,
        "",
        "0" * 40,
        signature("anotherToken", TIMESTAMP, NONCE),
        signature(TOKEN, TIMESTAMP, NONCE, ECHOSTR),  # the msg_signature shape
        signature(TOKEN, TIMESTAMP, "417392611"),
    ],
    ids=["missing", "empty", "zeros", "other-token", "with-echostr", "other-nonce"],
)
def test_echo_refuses_a_wrong_or_missing_signature(given: str | None) -> None:
    exc = rejected_echo(echo_query(signature=given))
    assert (exc.status, exc.reason) == (403, "bad_signature")


@pytest.mark.parametrize("echostr", [None, ""])
def test_echo_requires_echostr(echostr: str | None) -> None:
    exc = rejected_echo(echo_query(echostr=echostr))
    assert (exc.status, exc.reason) == (400, "missing_echostr")


@pytest.mark.parametrize("timestamp", ["1699999699", "1700000301", "1409735669", "0"])
def test_echo_refuses_a_stale_timestamp_even_when_signed(timestamp: str) -> None:
    query = echo_query(timestamp=timestamp, signature=signature(TOKEN, timestamp, NONCE))
    exc = rejected_echo(query)
    assert (exc.status, exc.reason) == (403, "stale_timestamp")


@pytest.mark.parametrize("timestamp", ["abc", "-1", "1700000000.5", "1" * 40])
def test_echo_refuses_a_malformed_timestamp(timestamp: str) -> None:
    query = echo_query(timestamp=timestamp, signature=signature(TOKEN, timestamp, NONCE))
    exc = rejected_echo(query)
    assert (exc.status, exc.reason) == (403, "stale_timestamp")


@pytest.mark.parametrize(
    "overrides",
    [{"nonce": None}, {"nonce": ""}, {"timestamp": None}, {"timestamp": ""}],
    ids=["no-nonce", "empty-nonce", "no-timestamp", "empty-timestamp"],
)
def test_echo_requires_timestamp_and_nonce(overrides: dict[str, str | None]) -> None:
    exc = rejected_echo(echo_query(**overrides))
    assert (exc.status, exc.reason) == (400, "missing_param")


def test_echo_refuses_unicode_digit_timestamp_with_rejected() -> None:
    exc = rejected_echo(echo_query(timestamp="²", signature=signature(TOKEN, "²", NONCE)))
    assert (exc.status, exc.reason) == (403, "stale_timestamp")


# --- verify_post: plaintext ---------------------------------------------------------------


@pytest.mark.parametrize("mode", ["plain", "compatible"])
@pytest.mark.parametrize("encrypt_type", [None, "raw"])
def test_post_plaintext_with_a_good_signature(mode: str, encrypt_type: str | None) -> None:
    query = plain_query(encrypt_type=encrypt_type)
    verified = verify_post(creds(mode), query, INNER, now=NOW, tolerance=TOLERANCE)
    assert verified == Verified(xml=INNER, encrypted=False, aes_key=None)


@pytest.mark.parametrize("given", [None, "0" * 40, signature("anotherToken", TIMESTAMP, NONCE)])
def test_post_plaintext_with_a_bad_signature(given: str | None) -> None:
    exc = rejected_post(plain_query(signature=given), INNER, creds("plain"))
    assert (exc.status, exc.reason) == (403, "bad_signature")


def test_post_plaintext_stale_timestamp() -> None:
    old = "1699990000"
    query = plain_query(timestamp=old, signature=signature(TOKEN, old, NONCE))
    exc = rejected_post(query, INNER, creds("plain"))
    assert (exc.status, exc.reason) == (403, "stale_timestamp")


@pytest.mark.parametrize("overrides", [{"nonce": None}, {"timestamp": None}])
def test_post_requires_timestamp_and_nonce(overrides: dict[str, str | None]) -> None:
    exc = rejected_post(plain_query(**overrides), INNER, creds("plain"))
    assert (exc.status, exc.reason) == (400, "missing_param")


@pytest.mark.parametrize("encrypt_type", [None, "raw"])
def test_safe_mode_refuses_plaintext_even_when_signed(encrypt_type: str | None) -> None:
    exc = rejected_post(plain_query(encrypt_type=encrypt_type), INNER, creds("safe"))
    assert (exc.status, exc.reason) == (400, "plaintext_refused")


# --- verify_post: encrypted ---------------------------------------------------------------


@pytest.mark.parametrize("mode", ["compatible", "safe"])
@pytest.mark.parametrize("encrypt_type", ["aes", "AES"])
def test_post_encrypted_decrypts_to_the_inner_xml(mode: str, encrypt_type: str) -> None:
    query, body = sealed()
    query["encrypt_type"] = encrypt_type
    verified = verify_post(creds(mode), query, body, now=NOW, tolerance=TOLERANCE)
    assert verified == Verified(xml=INNER, encrypted=True, aes_key=KEY)


def test_post_encrypted_by_wechatpy_is_accepted() -> None:
    envelope = WeChatCrypto(TOKEN, KEY, APPID).encrypt_message(INNER.decode(), NONCE, TIMESTAMP)
    query = {"timestamp": TIMESTAMP, "nonce": NONCE, "encrypt_type": "aes"}
    query["msg_signature"] = parse_xml(envelope.encode())["MsgSignature"]
    verified = verify_post(creds(), query, envelope.encode(), now=NOW, tolerance=TOLERANCE)
    assert verified == Verified(xml=INNER, encrypted=True, aes_key=KEY)


@pytest.mark.parametrize(
    "msg_signature",
    [
        None,
        "",
        "0" * 40,
        signature(TOKEN, TIMESTAMP, NONCE),  # the plain signature, without the ciphertext
        signature("anotherToken", TIMESTAMP, NONCE, "whatever"),
    ],
    ids=["missing", "empty", "zeros", "plain-signature", "other-token"],
)
def test_post_encrypted_with_a_wrong_msg_signature(msg_signature: str | None) -> None:
    query, body = sealed()
    del query["msg_signature"]
    if msg_signature is not None:
        query["msg_signature"] = msg_signature
    exc = rejected_post(query, body, creds())
    assert (exc.status, exc.reason) == (403, "bad_signature")


def test_post_encrypted_with_tampered_ciphertext_fails_the_signature() -> None:
    query, body = sealed()
    encrypted = parse_xml(body)["Encrypt"]
    tampered = encrypted[:10] + ("B" if encrypted[10] != "B" else "C") + encrypted[11:]
    exc = rejected_post(query, encrypted_body(tampered), creds())
    assert (exc.status, exc.reason) == (403, "bad_signature")


def test_post_encrypted_signature_checked_before_decrypting() -> None:
    # Garbage ciphertext with a wrong signature is a 403, never a crypto reason.
    query = {"timestamp": TIMESTAMP, "nonce": NONCE, "encrypt_type": "aes"}
    query["msg_signature"] = "0" * 40
    exc = rejected_post(query, encrypted_body("not base64!"), creds())
    assert (exc.status, exc.reason) == (403, "bad_signature")


def test_post_encrypted_for_another_appid() -> None:
    query, body = sealed(appid="wxfedcba9876543210")
    exc = rejected_post(query, body, creds())
    assert (exc.status, exc.reason, exc.cause) == (400, "undecryptable", "appid_mismatch")


@pytest.mark.parametrize(
    ("encrypted", "reason"),
    [("not base64!", "bad_base64"), ("QUJDREVG", "bad_length")],
)
def test_post_signed_but_undecryptable_ciphertext(encrypted: str, reason: str) -> None:
    query = {"timestamp": TIMESTAMP, "nonce": NONCE, "encrypt_type": "aes"}
    query["msg_signature"] = signature(TOKEN, TIMESTAMP, NONCE, encrypted)
    exc = rejected_post(query, encrypted_body(encrypted), creds())
    assert (exc.status, exc.reason, exc.cause) == (400, "undecryptable", reason)


def test_post_encrypted_under_the_previous_key_during_rotation() -> None:
    rotating = creds(keys=(KEY, OLD_KEY))
    query, body = sealed(key=OLD_KEY)
    verified = verify_post(rotating, query, body, now=NOW, tolerance=TOLERANCE)
    assert verified == Verified(xml=INNER, encrypted=True, aes_key=OLD_KEY)
    query, body = sealed(key=KEY)
    verified = verify_post(rotating, query, body, now=NOW, tolerance=TOLERANCE)
    assert verified == Verified(xml=INNER, encrypted=True, aes_key=KEY)


def test_post_encrypted_under_the_previous_key_after_rotation_ended() -> None:
    query, body = sealed(key=OLD_KEY)
    exc = rejected_post(query, body, creds(keys=(KEY,)))
    assert (exc.status, exc.reason) == (400, "undecryptable")
    # Deterministic for these fixed inputs: the wrong key garbles the padding block.
    assert exc.cause == "bad_padding"


def test_post_encrypted_under_an_unknown_key() -> None:
    query, body = sealed(key=STRANGER_KEY)
    exc = rejected_post(query, body, creds(keys=(KEY, OLD_KEY)))
    # Deterministic for these fixed inputs: both wrong keys garble the padding block.
    assert (exc.status, exc.reason, exc.cause) == (400, "undecryptable", "bad_padding")


def test_post_under_the_previous_key_for_another_appid_counts_the_appid() -> None:
    # The current key fails on padding, the previous one decrypts and finds the wrong appid:
    # the cause counted is the last key's; the answer is the one every decryption failure gets.
    query, body = sealed(key=OLD_KEY, appid="wxfedcba9876543210")
    exc = rejected_post(query, body, creds(keys=(KEY, OLD_KEY)))
    assert (exc.status, exc.reason, exc.cause) == (400, "undecryptable", "appid_mismatch")


def signed_ciphertext(encrypted: str) -> tuple[dict[str, str], bytes]:
    query = {"timestamp": TIMESTAMP, "nonce": NONCE, "encrypt_type": "aes"}
    query["msg_signature"] = signature(TOKEN, TIMESTAMP, NONCE, encrypted)
    return query, encrypted_body(encrypted)


def raw_ciphertext(key: str, plain: bytes) -> str:
    """``plain`` (already a whole number of blocks) encrypted as WeChat does, unpadded."""
    aes = decode_aes_key(key)
    encryptor = Cipher(algorithms.AES(aes), modes.CBC(aes[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


def test_every_decryption_failure_is_one_refusal_and_only_the_cause_differs() -> None:
    # A padding oracle needs two answers to tell apart: there is one, whatever went wrong.
    framed = PREFIX + struct.pack(">I", len(INNER)) + INNER + APPID.encode()
    failures = {
        "bad_base64": "not base64!",
        "bad_length": "QUJDREVG",
        "bad_padding": raw_ciphertext(KEY, framed + b"\x00" * (-len(framed) % 32 or 32)),
        "appid_mismatch": MessageCrypto(KEY, "wxfedcba9876543210").encrypt(INNER, PREFIX),
        "wrong_key": MessageCrypto(STRANGER_KEY, APPID).encrypt(INNER, PREFIX),
    }
    refusals = {}
    for kind, encrypted in failures.items():
        exc = rejected_post(*signed_ciphertext(encrypted), creds())
        refusals[kind] = exc
        assert (exc.status, exc.reason, str(exc)) == (
            400,
            "undecryptable",
            "the message could not be decrypted",
        ), kind
    causes = {kind: exc.cause for kind, exc in refusals.items()}
    assert causes["appid_mismatch"] == "appid_mismatch"
    assert causes["bad_padding"] == "bad_padding"
    assert causes["bad_base64"] == "bad_base64"


def test_post_encrypted_without_aes_keys() -> None:
    query, body = sealed()
    exc = rejected_post(query, body, creds(keys=()))
    assert (exc.status, exc.reason) == (400, "no_aes_key")


def test_post_encrypted_stale_timestamp() -> None:
    query, body = sealed(timestamp="1699999000")
    exc = rejected_post(query, body, creds())
    assert (exc.status, exc.reason) == (403, "stale_timestamp")


def test_post_encrypted_missing_nonce() -> None:
    query, body = sealed()
    del query["nonce"]
    exc = rejected_post(query, body, creds())
    assert (exc.status, exc.reason) == (400, "missing_param")


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"<xml><Encrypt>abc",
        b"not xml at all",
        b"<root><Encrypt>abc</Encrypt></root>",
        b"<xml><Encrypt>a</Encrypt></xml><xml/>",
    ],
    ids=["empty", "unclosed", "text", "wrong-root", "two-roots"],
)
def test_post_encrypted_malformed_outer_xml(body: bytes) -> None:
    query, _ = sealed()
    exc = rejected_post(query, body, creds())
    assert (exc.status, exc.reason) == (400, "bad_xml")


@pytest.mark.parametrize(
    "body",
    [
        BILLION_LAUGHS,
        b'<!DOCTYPE xml [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><Encrypt>&e;</Encrypt></xml>',
        b"<!DOCTYPE xml><xml><Encrypt>abc</Encrypt></xml>",
    ],
    ids=["billion-laughs", "external-entity", "bare-doctype"],
)
def test_post_encrypted_outer_xml_with_dtd_or_entities(body: bytes) -> None:
    query, _ = sealed()
    exc = rejected_post(query, body, creds())
    assert (exc.status, exc.reason) == (400, "xml_entities")


@pytest.mark.parametrize(
    "body",
    [
        b"<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName></xml>",
        b"<xml><Encrypt></Encrypt></xml>",
        b"<xml><Encrypt>   </Encrypt></xml>",
        b"<xml><Encrypt><Inner>x</Inner></Encrypt></xml>",
        b"<xml><Encrypt>a</Encrypt><Encrypt>b</Encrypt></xml>",
    ],
    ids=["absent", "empty", "blank", "nested", "repeated"],
)
def test_post_encrypted_without_encrypt(body: bytes) -> None:
    query, _ = sealed()
    exc = rejected_post(query, body, creds())
    assert (exc.status, exc.reason) == (400, "missing_encrypt")
