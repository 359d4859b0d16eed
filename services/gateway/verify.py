"""Is this webhook request really from WeChat, for this account? Pure functions.

``verify_echo`` checks a GET (URL verification): echostr is plaintext for Official
Accounts and checked with ``signature`` in every mode. ``verify_post`` checks a POST
in plain, compatible or safe mode and returns the plaintext XML. Every refusal is a
:class:`Rejected` with the HTTP status, a short reason and, for metrics and logs only,
its cause. Every decryption failure is refused alike (``undecryptable``): telling bad
padding from a foreign appid would be a padding oracle (the IV is static).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from services.gateway.messages import MessageError, parse_xml
from shared.wechat.crypto import CryptoError, MessageCrypto, signature_matches, timestamp_fresh

UNDECRYPTABLE = "the message could not be decrypted"


class Rejected(Exception):
    """A refusal: ``status``, ``reason`` and the message are answered; ``cause`` (the
    reason unless told) goes only to a metric label and a log line."""

    def __init__(self, status: int, reason: str, message: str, *, cause: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.cause = cause or reason


@dataclass(frozen=True, slots=True)
class Credentials:
    token: str
    appid: str
    encrypt_mode: str  # plain | compatible | safe
    aes_keys: tuple[str, ...] = ()  # the current EncodingAESKey first, then older ones in grace


@dataclass(frozen=True, slots=True)
class Verified:
    xml: bytes
    encrypted: bool
    aes_key: str | None = None  # the key the message came with: replies use it too


def _check_time(query: Mapping[str, str], now: float, tolerance: float) -> None:
    if not query.get("timestamp") or not query.get("nonce"):
        raise Rejected(400, "missing_param", "timestamp and nonce are required")
    if not timestamp_fresh(query.get("timestamp"), now=now, tolerance=tolerance):
        raise Rejected(403, "stale_timestamp", "timestamp outside the accepted window")


def verify_echo(
    creds: Credentials, query: Mapping[str, str], *, now: float, tolerance: float
) -> str:
    _check_time(query, now, tolerance)
    echostr = query.get("echostr")
    if not echostr:
        raise Rejected(400, "missing_echostr", "echostr is required for URL verification")
    if not signature_matches(
        query.get("signature"), creds.token, query["timestamp"], query["nonce"]
    ):
        raise Rejected(403, "bad_signature", "signature does not match")
    return echostr


def verify_post(
    creds: Credentials, query: Mapping[str, str], body: bytes, *, now: float, tolerance: float
) -> Verified:
    _check_time(query, now, tolerance)
    timestamp, nonce = query["timestamp"], query["nonce"]
    if query.get("encrypt_type", "raw").lower() != "aes":
        if creds.encrypt_mode == "safe":
            raise Rejected(400, "plaintext_refused", "this account accepts encrypted messages only")
        if not signature_matches(query.get("signature"), creds.token, timestamp, nonce):
            raise Rejected(403, "bad_signature", "signature does not match")
        return Verified(xml=body, encrypted=False)
    if not creds.aes_keys:
        raise Rejected(400, "no_aes_key", "this account has no EncodingAESKey")
    try:
        encrypted = parse_xml(body).get("Encrypt")
    except MessageError as exc:
        raise Rejected(400, exc.reason, str(exc)) from None
    if not isinstance(encrypted, str) or not encrypted:
        raise Rejected(400, "missing_encrypt", "encrypted body without <Encrypt>")
    if not signature_matches(query.get("msg_signature"), creds.token, timestamp, nonce, encrypted):
        raise Rejected(403, "bad_signature", "msg_signature does not match")
    error: CryptoError | None = None
    for key in creds.aes_keys:
        try:
            plain = MessageCrypto(key, creds.appid).decrypt(encrypted)
        except CryptoError as exc:
            error = exc
            continue
        return Verified(xml=plain, encrypted=True, aes_key=key)
    assert error is not None
    raise Rejected(400, "undecryptable", UNDECRYPTABLE, cause=error.reason)
