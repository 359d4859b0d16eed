"""WeChat message signing and encryption: published vectors, wechatpy, error reasons."""

from __future__ import annotations

import base64
import struct

import pytest
import wechatpy.crypto
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidSignatureException

from services.gateway.messages import parse_xml
from shared.wechat.crypto import (
    BLOCK,
    CryptoError,
    MessageCrypto,
    decode_aes_key,
    encrypted_envelope,
    pkcs7_pad,
    pkcs7_unpad,
    signature,
    signature_matches,
    timestamp_fresh,
)

# --- Published test vectors (facts copied, no code) ---------------------------------------

# WeChat's official Python sample for Official Accounts (WXBizMsgCrypt demo, Sample.py), as
# reproduced in charlesXu86/Chatbot_CN at Chatbot_Web/impl/weixin/Sample.py: a compatible-mode
# body (plaintext fields next to <Encrypt>) with its msg_signature.
PY_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
PY_TOKEN = "spamtest"
PY_APPID = "wx2c2769f8efd9abc2"
PY_TIMESTAMP = "1409735669"
PY_NONCE = "1320562132"
PY_MSG_SIGNATURE = "5d197aaffba7e9b25a30732f161a50dee96bd5fa"
PY_ENCRYPT = (
    "hyzAe4OzmOMbd6TvGdIOO6uBmdJoD0Fk53REIHvxYtJlE2B655HuD0m8KUePWB3+LrPXo87wzQ1QLvbeUgmBM4x6"
    "F8PGHQHFVAFmOD2LdJF9FrXpbUAh0B5GIItb52sn896wVsMSHGuPE328HnRGBcrS7C41IzDWyWNlZkyyXwon8T33"
    "2jisa+h6tEDYsVticbSnyU8dKOIbgU6ux5VTjg3yt+WGzjlpKn6NPhRjpA912xMezR4kw6KWwMrCVKSVCZciVGCg"
    "avjIQ6X8tCOp3yZbGpy0VxpAe+77TszTfRd5RJSVO/HTnifJpXgCSUdUue1v6h0EIBYYI1BD1DlD+C0CR8e6Oewp"
    "usjZ4uBl9FyJvnhvQl+q5rv1ixrcpCumEPo5MJSgM9ehVsNPfUM669WuMyVWQLCzpu9GhglF2PE="
)
# The plaintext fields the same published compatible-mode body carries outside <Encrypt>.
PY_PLAIN_FIELDS = {
    "ToUserName": "gh_10f6c3c3ac5a",
    "FromUserName": "oyORnuP8q7ou2gfYjqLzSIWZf0rs",
    "CreateTime": "1409735668",
    "MsgType": "text",
    "Content": "abcdteT",
    "MsgId": "6054768590064713728",
}

# WeChat's official Java sample (package com.qq.weixin.mp.aes), as reproduced in
# bys-ray-zhang/wechat at src/com/qq/weixin/mp/aes/WXBizMsgCryptTest.java: AES output for a
# fixed 16-byte random prefix, plus a URL-verification signature (testVerifyUrl).
JAVA_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
JAVA_APPID = "wxb11529c136998cb6"
JAVA_RANDOM = b"aaaabbbbccccdddd"
JAVA_MSG_1 = "我是中文abcd123"
JAVA_ENCRYPTED_1 = (
    "jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg=="
)
JAVA_MSG_2 = (
    "<xml><ToUserName><![CDATA[oia2Tj我是中文jewbmiOUlr6X-1crbLOvLw]]></ToUserName>"
    "<FromUserName><![CDATA[gh_7f083739789a]]></FromUserName>"
    "<CreateTime>1407743423</CreateTime><MsgType><![CDATA[video]]></MsgType>"
    "<Video><MediaId><![CDATA[eYJ1MbwPRJtOvIEabaxHs7TX2D-HV71s79GUxqdUkjm6Gs2Ed1KF3ulAOA9H1xG0]]>"
    "</MediaId><Title><![CDATA[testCallBackReplyVideo]]></Title>"
    "<Description><![CDATA[testCallBackReplyVideo]]></Description></Video></xml>"
)
JAVA_ENCRYPTED_2 = (
    "jn1L23DB+6ELqJ+6bruv23M2GmYfkv0xBh2h+XTBOKVKcgDFHle6gqcZ1cZrk3e1qjPQ1F4RsLWzQRG9udbKWesx"
    "lkupqcEcW7ZQweImX9+wLMa0GaUzpkycA8+IamDBxn5loLgZpnS7fVAbExOkK5DYHBmv5tptA9tklE/fTIILHR8H"
    "LXa5nQvFb3tYPKAlHF3rtTeayNf0QuM+UW/wM9enGIDIJHF7CLHiDNAYxr+r+OrJCmPQyTy8cVWlu9iSvOHPT/77"
    "bZqJucQHQ04sq7KZI27OcqpQNSto2OdHCoTccjggX5Z9Mma0nMJBU+jLKJ38YB1fBIz+vBzsYjrTmFQ44YfeEuZ+"
    "xRTQwr92vhA9OxchWVINGC50qE/6lmkwWTwGX9wtQpsJKhP+oS7rvTY8+VdzETdfakjkwQ5/Xka042OlUb1/slTw"
    "o4RscuQ+RdxSGvDahxAJ6+EAjLt9d8igHngxIbf6YyqqROxuxqIeIch3CssH/LqRs+iAcILvApYZckqmA7FNERsp"
    "KA5f8GoJ9sv8xmGvZ9Yrf57cExWtnX8aCMMaBropU/1k+hKP5LVdzbWCG0hGwx/dQudYR/eXp3P0XxjlFiy+9DMl"
    "aFExWUZQDajPkdPrEeOwofJb"
)
JAVA_VERIFY_TOKEN = "QDG6eK"
JAVA_VERIFY_KEY = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C"
JAVA_VERIFY_ID = "wx5823bf96d3bd56c7"
JAVA_VERIFY_TIMESTAMP = "1409659589"
JAVA_VERIFY_NONCE = "263014780"
JAVA_VERIFY_ECHOSTR = (
    "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="
)
JAVA_VERIFY_SIGNATURE = "5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3"

# wechatpy's own suite, wechatpy/wechatpy at tests/test_crypto.py (test_encrypt_message,
# test_decrypt_message): the same envelope scheme with the id at the end being a corp id.
# Complete: plaintext, random prefix, nonce, timestamp, Encrypt and MsgSignature.
PY2_TOKEN = "123456"
PY2_KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"
PY2_ID = "wx49f0ab532d5d035a"
PY2_TIMESTAMP = "1411525903"
PY2_NONCE = "461056294"
PY2_RANDOM = b"1234567890123456"
PY2_REPLY = (
    "<xml>\n<MsgType><![CDATA[text]]></MsgType>\n<Content><![CDATA[test]]></Content>\n"
    "<FromUserName><![CDATA[wx49f0ab532d5d035a]]></FromUserName>\n"
    "<ToUserName><![CDATA[messense]]></ToUserName>\n<AgentID>1</AgentID>\n"
    "<CreateTime>1411525903</CreateTime>\n</xml>"
)
PY2_REPLY_ENCRYPT = (
    "9s4gMv99m88kKTh/H8IdkOiMg6bisoy3ypwy9H4hvSPe9nsGaqyw5hhSjdYbcrKk+j3nba4HMOTzHrluLBYqxgNc"
    "BqGsL8GqxlhZgURnAtObvesEl5nZ+uBE8bviY0LWke8Zy9V/QYKxNV2FqllNXcfmstttyIkMKCCmVbCFM2JTF5wY"
    "0nFhHZSjPUL2Q1qvSUCUld+/WIXrx0oyKQmpB6o8NRrrNrsDf03oxI1p9FxUgMnwKKZeOA/uu+2IEvEBtb7muXsV"
    "bwbgX05UPPJvFurDXafG0RQyPR+mf1nDnAtQmmNOuiR5MIkdQ39xn1vWwi1O5oazPoQJz0nTYjxxEE8kv3kFxtAG"
    "VRe3ypD3WeK2XeFYFMNMpatF9XiKzHo3"
)
PY2_REPLY_SIGNATURE = "407518b7649e86ef23978113f92d27afa9296533"
PY2_INBOUND_ENCRYPT = (
    "RgqEoJj5A4EMYlLvWO1F86ioRjZfaex/gePD0gOXTxpsq5Yj4GNglrBb8I2BAJVODGajiFnXBu7mCPatfjsu6IHC"
    "rsTyeDXzF6Bv283dGymzxh6ydJRvZsryDyZbLTE7rhnus50qGPMfp2wASFlzEgMW9z1ef/RD8XzaFYgm7iTdaXpX"
    "aG4+BiYyolBug/gYNx410cvkKR2/nPwBiT+P4hIiOAQqGp/TywZBtDh1yCF2KOd0gpiMZ5jSw3e29mTvmUHzkVQi"
    "MS6td7vXUaWOMZnYZlF3So2SjHnwh4jYFxdgpkHHqIrH/54SNdshoQgWYEvccTKe7FS709/5t6NMxuGhcUGAPOQi"
    "pvWTT4dShyqio7mlsl5noTrb++x6En749zCpQVhDpbV6GDnTbcX2e8K9QaNWHp91eBdCRxthuL0="
)
PY2_INBOUND_SIGNATURE = "74d92dfeb87ba7c714f89d98870ae5eb62dff26d"

OTHER_KEY = "kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aR"


def raw_encrypt(encoding_aes_key: str, plain: bytes) -> str:
    """AES-256-CBC without any padding or framing: lets a test build any plaintext."""
    key = base64.b64decode(encoding_aes_key + "=")
    encryptor = Cipher(algorithms.AES(key), modes.CBC(key[:16])).encryptor()
    return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


def reason_of(exc_info: pytest.ExceptionInfo[CryptoError]) -> str:
    return exc_info.value.reason


# --- Conformance with the published vectors -----------------------------------------------


def test_official_python_sample_signature_matches() -> None:
    assert signature(PY_TOKEN, PY_TIMESTAMP, PY_NONCE, PY_ENCRYPT) == PY_MSG_SIGNATURE
    assert signature_matches(PY_MSG_SIGNATURE, PY_TOKEN, PY_TIMESTAMP, PY_NONCE, PY_ENCRYPT)


def test_official_python_sample_decrypts_to_the_published_plaintext() -> None:
    plain = MessageCrypto(PY_KEY, PY_APPID).decrypt(PY_ENCRYPT)
    assert parse_xml(plain) == PY_PLAIN_FIELDS


@pytest.mark.parametrize(
    ("message", "encrypted"),
    [(JAVA_MSG_1, JAVA_ENCRYPTED_1), (JAVA_MSG_2, JAVA_ENCRYPTED_2)],
    ids=["short-text", "video-xml"],
)
def test_official_java_sample_is_byte_exact(message: str, encrypted: str) -> None:
    crypto = MessageCrypto(JAVA_KEY, JAVA_APPID)
    assert crypto.encrypt(message.encode(), random_prefix=JAVA_RANDOM) == encrypted
    assert crypto.decrypt(encrypted) == message.encode()


def test_official_java_sample_url_verification_vector() -> None:
    parts = (JAVA_VERIFY_TOKEN, JAVA_VERIFY_TIMESTAMP, JAVA_VERIFY_NONCE, JAVA_VERIFY_ECHOSTR)
    assert signature(*parts) == JAVA_VERIFY_SIGNATURE
    # The echostr is encrypted for that id: it decrypts with it and with no other.
    assert MessageCrypto(JAVA_VERIFY_KEY, JAVA_VERIFY_ID).decrypt(JAVA_VERIFY_ECHOSTR)
    with pytest.raises(CryptoError) as exc_info:
        MessageCrypto(JAVA_VERIFY_KEY, JAVA_APPID).decrypt(JAVA_VERIFY_ECHOSTR)
    assert reason_of(exc_info) == "appid_mismatch"


def test_wechatpy_published_reply_envelope_is_byte_exact() -> None:
    crypto = MessageCrypto(PY2_KEY, PY2_ID)
    encrypted = crypto.encrypt(PY2_REPLY.encode(), random_prefix=PY2_RANDOM)
    assert encrypted == PY2_REPLY_ENCRYPT
    fields = parse_xml(encrypted_envelope(PY2_TOKEN, encrypted, PY2_TIMESTAMP, PY2_NONCE))
    assert fields == {
        "Encrypt": PY2_REPLY_ENCRYPT,
        "MsgSignature": PY2_REPLY_SIGNATURE,
        "TimeStamp": PY2_TIMESTAMP,
        "Nonce": PY2_NONCE,
    }


def test_wechatpy_published_inbound_message_verifies_and_decrypts() -> None:
    parts = (PY2_TOKEN, PY2_TIMESTAMP, PY2_NONCE, PY2_INBOUND_ENCRYPT)
    assert signature(*parts) == PY2_INBOUND_SIGNATURE
    fields = parse_xml(MessageCrypto(PY2_KEY, PY2_ID).decrypt(PY2_INBOUND_ENCRYPT))
    assert fields["Content"] == "test"
    assert fields["FromUserName"] == "messense"
    assert fields["ToUserName"] == PY2_ID


# --- Cross-check with wechatpy's independent implementation -------------------------------

TOKEN = "crossCheckToken42"
APPID = "wx0123456789abcdef"
NONCE = "830572916"
TIMESTAMP = "1700000000"

MESSAGES = [
    "",
    "a",
    "<xml><Content><![CDATA[hi]]></Content></xml>",
    "<xml><ToUserName><![CDATA[gh_abc]]></ToUserName><Content><![CDATA[你好，世界 🎉]]>"
    "</Content></xml>",
    "x" * 27,  # 16 + 4 + 27 + 18 = 65 bytes: padding across a block boundary
    "y" * 42,  # 16 + 4 + 42 + 18 = 80 bytes: padding fills a 32-byte block minus 16
    "z" * 58,  # 16 + 4 + 58 + 18 = 96 bytes: a whole extra 32-byte block of padding
    "<xml>" + "长" * 700 + "</xml>",
]


@pytest.mark.parametrize("message", MESSAGES)
def test_wechatpy_decrypts_and_verifies_our_envelope(message: str) -> None:
    encrypted = MessageCrypto(PY_KEY, APPID).encrypt(message.encode())
    envelope = encrypted_envelope(TOKEN, encrypted, TIMESTAMP, NONCE)
    msg_signature = parse_xml(envelope)["MsgSignature"]
    theirs = WeChatCrypto(TOKEN, PY_KEY, APPID)
    assert theirs.decrypt_message(envelope, msg_signature, TIMESTAMP, NONCE) == message
    with pytest.raises(InvalidSignatureException):
        theirs.decrypt_message(envelope, "0" * 40, TIMESTAMP, NONCE)


@pytest.mark.parametrize("message", MESSAGES)
def test_we_decrypt_and_verify_wechatpy_envelope(message: str) -> None:
    envelope = WeChatCrypto(TOKEN, PY_KEY, APPID).encrypt_message(message, NONCE, TIMESTAMP)
    fields = parse_xml(envelope.encode())
    assert (fields["TimeStamp"], fields["Nonce"]) == (TIMESTAMP, NONCE)
    assert signature_matches(fields["MsgSignature"], TOKEN, TIMESTAMP, NONCE, fields["Encrypt"])
    assert MessageCrypto(PY_KEY, APPID).decrypt(fields["Encrypt"]) == message.encode()


def test_same_random_prefix_gives_the_same_ciphertext_as_wechatpy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    prefix = "0123456789abcdef"
    monkeypatch.setattr(wechatpy.crypto.PrpCrypto, "get_random_string", lambda self: prefix)
    message = MESSAGES[3]
    theirs = WeChatCrypto(TOKEN, PY_KEY, APPID).encrypt_message(message, NONCE, TIMESTAMP)
    ours = MessageCrypto(PY_KEY, APPID).encrypt(message.encode(), random_prefix=prefix.encode())
    assert parse_xml(theirs.encode()) == parse_xml(
        encrypted_envelope(TOKEN, ours, TIMESTAMP, NONCE)
    )


# --- signature ----------------------------------------------------------------------------


def test_signature_does_not_depend_on_argument_order() -> None:
    assert signature("b", "a", "c") == signature("c", "b", "a") == signature("a", "b", "c")
    # WeChat's scheme joins without a delimiter, so these collide by design: both are "abc".
    assert signature("ab", "c") == signature("a", "bc")
    assert signature("a", "b", "c") != signature("a", "b", "d")


def test_signature_is_lowercase_sha1_hex() -> None:
    value = signature(PY_TOKEN, PY_TIMESTAMP, PY_NONCE)
    assert len(value) == 40
    assert value == value.lower()
    assert int(value, 16) >= 0


@pytest.mark.parametrize(
    "given",
    [None, "", PY_MSG_SIGNATURE[:-1], PY_MSG_SIGNATURE + "0", "0" * 40, " " + PY_MSG_SIGNATURE],
)
def test_signature_matches_rejects(given: str | None) -> None:
    assert not signature_matches(given, PY_TOKEN, PY_TIMESTAMP, PY_NONCE, PY_ENCRYPT)


def test_signature_matches_accepts_uppercase_hex() -> None:
    upper = PY_MSG_SIGNATURE.upper()
    assert signature_matches(upper, PY_TOKEN, PY_TIMESTAMP, PY_NONCE, PY_ENCRYPT)


def test_signature_matches_depends_on_every_part() -> None:
    assert not signature_matches(PY_MSG_SIGNATURE, "other", PY_TIMESTAMP, PY_NONCE, PY_ENCRYPT)
    assert not signature_matches(PY_MSG_SIGNATURE, PY_TOKEN, "1409735670", PY_NONCE, PY_ENCRYPT)
    assert not signature_matches(PY_MSG_SIGNATURE, PY_TOKEN, PY_TIMESTAMP, "1", PY_ENCRYPT)
    assert not signature_matches(PY_MSG_SIGNATURE, PY_TOKEN, PY_TIMESTAMP, PY_NONCE)


# --- timestamp_fresh ----------------------------------------------------------------------

NOW = 1_700_000_000.0


@pytest.mark.parametrize(
    ("timestamp", "fresh"),
    [
        ("1700000000", True),
        ("1699999700", True),  # exactly tolerance in the past
        ("1700000300", True),  # exactly tolerance in the future
        ("1699999699", False),
        ("1700000301", False),
        ("0", False),
        ("9999999999", False),
    ],
)
def test_timestamp_fresh_window(timestamp: str, fresh: bool) -> None:
    assert timestamp_fresh(timestamp, now=NOW, tolerance=300) is fresh


def test_timestamp_fresh_with_fractional_now() -> None:
    assert timestamp_fresh("1700000000", now=NOW + 299.5, tolerance=300)
    assert not timestamp_fresh("1700000000", now=NOW + 300.5, tolerance=300)


@pytest.mark.parametrize(
    "timestamp",
    [
        None,
        "",
        " ",
        "-1700000000",
        "+1700000000",
        "1700000000.0",
        "1.7e9",
        "17000000OO",
        " 1700000000",
        "1700000000\n",
        "0x6553f100",
        "0001700000000",  # 13 characters: over the length cap even though the value is fresh
        "9" * 13,
        "1" * 4000,
    ],
)
def test_timestamp_fresh_refuses_malformed(timestamp: str | None) -> None:
    assert timestamp_fresh(timestamp, now=NOW, tolerance=300) is False


def test_timestamp_fresh_accepts_twelve_digit_leading_zeros() -> None:
    assert timestamp_fresh("001700000000", now=NOW, tolerance=300)


def test_timestamp_fresh_refuses_unicode_superscript_digits() -> None:
    assert timestamp_fresh("¹⁷⁰⁰⁰⁰⁰⁰⁰⁰", now=NOW, tolerance=300) is False


# --- decode_aes_key -----------------------------------------------------------------------


def test_decode_aes_key_gives_32_bytes() -> None:
    key = decode_aes_key(PY_KEY)
    assert len(key) == 32
    # 43 characters carry 258 bits: the last 2 are dropped (the sample's "G" re-encodes as "E").
    assert base64.b64encode(key).decode()[:42] == PY_KEY[:42]
    assert decode_aes_key(PY_KEY[:42] + "E") == key


@pytest.mark.parametrize(
    "encoding_aes_key",
    ["", PY_KEY[:42], PY_KEY + "H", PY_KEY + "=", "!" * 43, PY_KEY[:42] + "-", PY_KEY[:42] + " "],
    ids=["empty", "42-chars", "44-chars", "with-pad", "punctuation", "urlsafe-char", "space"],
)
def test_decode_aes_key_refuses_bad_keys(encoding_aes_key: str) -> None:
    with pytest.raises(CryptoError) as exc_info:
        decode_aes_key(encoding_aes_key)
    assert reason_of(exc_info) == "bad_key"
    with pytest.raises(CryptoError) as exc_info:
        MessageCrypto(encoding_aes_key, APPID)
    assert reason_of(exc_info) == "bad_key"


def test_decode_aes_key_refuses_keys_that_decode_short() -> None:
    with pytest.raises(CryptoError) as exc_info:
        decode_aes_key("A" * 42 + "=")
    assert reason_of(exc_info) == "bad_key"


# --- PKCS#7 over 32-byte blocks -----------------------------------------------------------


@pytest.mark.parametrize("length", range(71))
def test_pkcs7_round_trip_and_block_size(length: int) -> None:
    data = bytes(range(length))
    padded = pkcs7_pad(data)
    n = BLOCK - length % BLOCK
    assert len(padded) % 32 == 0
    assert len(padded) == length + n
    assert padded[:length] == data
    assert padded[length:] == bytes([n]) * n
    assert pkcs7_unpad(padded) == data


def test_pkcs7_pads_a_full_block_when_already_aligned() -> None:
    assert pkcs7_pad(b"x" * 32) == b"x" * 32 + bytes([32]) * 32
    assert pkcs7_pad(b"") == bytes([32]) * 32


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"x" * 31 + b"\x00",
        b"x" * 31 + b"\x21",  # 33: more than one 32-byte block of padding
        b"x" * 29 + b"\x02\x03\x03",
        b"\x05" * 3,  # claims five bytes of padding in a three-byte input
    ],
    ids=["empty", "zero", "over-block", "inconsistent", "longer-than-data"],
)
def test_pkcs7_unpad_refuses_bad_padding(data: bytes) -> None:
    with pytest.raises(CryptoError) as exc_info:
        pkcs7_unpad(data)
    assert reason_of(exc_info) == "bad_padding"


# --- MessageCrypto round trips ------------------------------------------------------------


@pytest.mark.parametrize("message", [m.encode() for m in MESSAGES] + [bytes(range(256))])
def test_encrypt_decrypt_round_trip(message: bytes) -> None:
    crypto = MessageCrypto(PY_KEY, APPID)
    encrypted = crypto.encrypt(message)
    assert len(base64.b64decode(encrypted)) % 32 == 0
    assert crypto.decrypt(encrypted) == message


def test_encrypt_uses_a_fresh_random_prefix() -> None:
    crypto = MessageCrypto(PY_KEY, APPID)
    first, second = crypto.encrypt(b"same"), crypto.encrypt(b"same")
    assert first != second
    assert crypto.decrypt(first) == crypto.decrypt(second) == b"same"


# --- MessageCrypto.decrypt errors ---------------------------------------------------------


@pytest.mark.parametrize(
    "encrypted",
    ["not base64!", "abc", "QQ=", "QUJD\nREVG", "QUJ=REVG", "=QUJD", "-_-_"],
    ids=["punctuation", "short", "bad-padding", "newline", "mid-pad", "lead-pad", "urlsafe"],
)
def test_decrypt_bad_base64(encrypted: str) -> None:
    with pytest.raises(CryptoError) as exc_info:
        MessageCrypto(PY_KEY, APPID).decrypt(encrypted)
    assert reason_of(exc_info) == "bad_base64"


@pytest.mark.parametrize("size", [0, 1, 15, 17, 31, 33, 63])
def test_decrypt_not_whole_aes_blocks(size: int) -> None:
    with pytest.raises(CryptoError) as exc_info:
        MessageCrypto(PY_KEY, APPID).decrypt(base64.b64encode(b"\x00" * size).decode())
    assert reason_of(exc_info) == "bad_length"


@pytest.mark.parametrize(
    "plain",
    [
        b"\x00" * 32,  # last byte 0
        b"\x00" * 31 + b"\x21",  # 33 > block
        b"\x00" * 28 + b"\x01\x04\x04\x04",  # claims 4, only 3 agree
        b"\x00" * 16,  # 16-byte plaintext whose last byte is 0
    ],
    ids=["zero", "over-block", "inconsistent", "one-aes-block"],
)
def test_decrypt_bad_padding(plain: bytes) -> None:
    with pytest.raises(CryptoError) as exc_info:
        MessageCrypto(PY_KEY, APPID).decrypt(raw_encrypt(PY_KEY, plain))
    assert reason_of(exc_info) == "bad_padding"


def test_decrypt_with_another_key_is_bad_padding() -> None:
    with pytest.raises(CryptoError) as exc_info:
        MessageCrypto(OTHER_KEY, JAVA_APPID).decrypt(JAVA_ENCRYPTED_1)
    assert reason_of(exc_info) == "bad_padding"


def test_decrypt_plaintext_too_short_for_the_length_field() -> None:
    with pytest.raises(CryptoError, match="too short") as exc_info:
        MessageCrypto(PY_KEY, APPID).decrypt(raw_encrypt(PY_KEY, pkcs7_pad(b"r" * 19)))
    assert reason_of(exc_info) == "bad_length"


def test_decrypt_length_field_larger_than_the_message() -> None:
    plain = pkcs7_pad(b"r" * 16 + struct.pack(">I", 1000) + b"hello" + APPID.encode())
    with pytest.raises(CryptoError, match="length field") as exc_info:
        MessageCrypto(PY_KEY, APPID).decrypt(raw_encrypt(PY_KEY, plain))
    assert reason_of(exc_info) == "bad_length"


def test_decrypt_length_field_smaller_than_the_message_is_appid_mismatch() -> None:
    # The extra message bytes end up in front of the appid, which then does not match.
    plain = pkcs7_pad(b"r" * 16 + struct.pack(">I", 3) + b"hello" + APPID.encode())
    with pytest.raises(CryptoError) as exc_info:
        MessageCrypto(PY_KEY, APPID).decrypt(raw_encrypt(PY_KEY, plain))
    assert reason_of(exc_info) == "appid_mismatch"


@pytest.mark.parametrize(
    "other_appid", ["wxfedcba9876543210", APPID + "0", APPID[:-1], "", APPID.upper()]
)
def test_decrypt_for_another_appid(other_appid: str) -> None:
    encrypted = MessageCrypto(PY_KEY, other_appid).encrypt(b"<xml/>")
    with pytest.raises(CryptoError) as exc_info:
        MessageCrypto(PY_KEY, APPID).decrypt(encrypted)
    assert reason_of(exc_info) == "appid_mismatch"


def test_flipped_ciphertext_bits_are_detected_where_the_framing_allows() -> None:
    # CBC: flipping a bit of ciphertext block i garbles plaintext block i and flips the same
    # bit of plaintext block i + 1. 64 bytes = 16 prefix + 4 length + 19 message + 18 appid
    # + 7 padding (JAVA_MSG_1 is 19 UTF-8 bytes).
    raw = base64.b64decode(JAVA_ENCRYPTED_1)
    assert len(raw) == 64

    def reason_after_flipping(index: int) -> str:
        tampered = bytearray(raw)
        tampered[index] ^= 0x01
        with pytest.raises(CryptoError) as exc_info:
            MessageCrypto(JAVA_KEY, JAVA_APPID).decrypt(base64.b64encode(tampered).decode())
        return exc_info.value.reason

    assert reason_after_flipping(0) == "bad_length"  # flips the length field's high byte
    assert reason_after_flipping(40) == "appid_mismatch"  # flips an appid byte
    assert reason_after_flipping(63) == "bad_padding"  # garbles the padding block
    assert reason_after_flipping(47) == "bad_padding"  # flips the last (padding) byte

    # Flipping byte 4 only garbles the random prefix and flips message byte 0 (plaintext byte
    # 20): decrypt cannot notice. Integrity comes from msg_signature over the ciphertext.
    tampered = bytearray(raw)
    tampered[4] ^= 0x01
    encrypted = base64.b64encode(tampered).decode()
    message = MessageCrypto(JAVA_KEY, JAVA_APPID).decrypt(encrypted)
    assert message == bytes([JAVA_MSG_1.encode()[0] ^ 0x01]) + JAVA_MSG_1.encode()[1:]


# --- encrypted_envelope -------------------------------------------------------------------


def test_encrypted_envelope_fields_and_signature() -> None:
    encrypted = MessageCrypto(PY_KEY, APPID).encrypt(b"<xml/>")
    fields = parse_xml(encrypted_envelope(TOKEN, encrypted, TIMESTAMP, NONCE))
    assert fields == {
        "Encrypt": encrypted,
        "MsgSignature": signature(TOKEN, TIMESTAMP, NONCE, encrypted),
        "TimeStamp": TIMESTAMP,
        "Nonce": NONCE,
    }
    assert signature_matches(fields["MsgSignature"], TOKEN, TIMESTAMP, NONCE, encrypted)
