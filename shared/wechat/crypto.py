"""WeChat's message signing and encryption for Official Accounts, as pure functions.

Signatures are SHA-1 over the sorted, concatenated strings (token, timestamp, nonce,
and in safe mode the ciphertext). Encryption is AES-256-CBC with the key decoded from
the 43-character EncodingAESKey, the IV its first 16 bytes, PKCS#7 padding to 32-byte
blocks, over ``random(16) + len(msg) (4 bytes, big-endian) + msg + appid``.
Used by the gateway (verify, decrypt, encrypt replies) and by ``wxp simulate``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import struct
from xml.sax.saxutils import escape

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

BLOCK = 32


class CryptoError(ValueError):
    """A body that does not decrypt; ``reason`` is a short label for metrics."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def signature(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()  # noqa: S324 - WeChat's scheme


def signature_matches(given: str | None, *parts: str) -> bool:
    if not given:
        return False
    return hmac.compare_digest(given.lower().encode(), signature(*parts).encode())


def timestamp_fresh(timestamp: str | None, *, now: float, tolerance: float) -> bool:
    if not timestamp or not (timestamp.isascii() and timestamp.isdigit()) or len(timestamp) > 12:
        return False
    return abs(int(timestamp) - now) <= tolerance


def decode_aes_key(encoding_aes_key: str) -> bytes:
    if len(encoding_aes_key) != 43:
        raise CryptoError("bad_key", "EncodingAESKey must be 43 characters")
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except (binascii.Error, ValueError):
        raise CryptoError("bad_key", "EncodingAESKey is not base64") from None
    if len(key) != 32:
        raise CryptoError("bad_key", "EncodingAESKey must decode to 32 bytes")
    return key


def pkcs7_pad(data: bytes) -> bytes:
    n = BLOCK - len(data) % BLOCK
    return data + bytes([n]) * n


def pkcs7_unpad(data: bytes) -> bytes:
    n = _padding_length(data)
    if n is None:
        raise CryptoError("bad_padding", "PKCS#7 padding is wrong")
    return data[:-n]


def _padding_length(data: bytes) -> int | None:
    n = data[-1] if data else 0
    if not 1 <= n <= BLOCK or len(data) < n:
        return None
    return n if hmac.compare_digest(data[-n:], bytes([n]) * n) else None


class MessageCrypto:
    """Encrypts and decrypts one account's messages under one EncodingAESKey."""

    def __init__(self, encoding_aes_key: str, appid: str) -> None:
        self._key = decode_aes_key(encoding_aes_key)
        self._appid = appid.encode()

    def decrypt(self, encrypted: str) -> bytes:
        """The message; a :class:`CryptoError` naming the first check that failed. The
        padding, length and appid checks all run whichever fails, so that not even their
        timing tells them apart (callers answer every failure alike: no padding oracle)."""
        try:
            raw = base64.b64decode(encrypted, validate=True)
        except (binascii.Error, ValueError):
            raise CryptoError("bad_base64", "Encrypt is not valid base64") from None
        if not raw or len(raw) % 16:
            raise CryptoError("bad_length", "ciphertext is not whole AES blocks")
        decryptor = Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16])).decryptor()
        padded = decryptor.update(raw) + decryptor.finalize()
        pad = _padding_length(padded)
        plain = padded[: -(pad or BLOCK)]
        framed = len(plain) >= 20
        (length,) = struct.unpack(">I", plain[16:20] if framed else bytes(4))
        message, appid = plain[20 : 20 + length], plain[20 + length :]
        appid_matches = hmac.compare_digest(appid, self._appid)
        if pad is None:
            raise CryptoError("bad_padding", "PKCS#7 padding is wrong")
        if not framed:
            raise CryptoError("bad_length", "plaintext too short")
        if len(message) != length:
            raise CryptoError("bad_length", "message length field is wrong")
        if not appid_matches:
            raise CryptoError("appid_mismatch", "message was encrypted for another appid")
        return message

    def encrypt(self, message: bytes, random_prefix: bytes | None = None) -> str:
        prefix = os.urandom(16) if random_prefix is None else random_prefix
        plain = pkcs7_pad(prefix + struct.pack(">I", len(message)) + message + self._appid)
        encryptor = Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16])).encryptor()
        return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()


def encrypted_envelope(token: str, encrypted: str, timestamp: str, nonce: str) -> bytes:
    """The XML WeChat expects around an encrypted reply, signed with msg_signature."""
    sig = signature(token, timestamp, nonce, encrypted)
    return (
        f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt>"
        f"<MsgSignature><![CDATA[{sig}]]></MsgSignature>"
        f"<TimeStamp>{escape(timestamp)}</TimeStamp>"
        f"<Nonce><![CDATA[{nonce}]]></Nonce></xml>"
    ).encode()
