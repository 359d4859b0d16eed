"""Secrets at rest: AES-256-GCM under ``WXP_MASTER_KEY``, bound to where they are used.

Each sealed value carries its own random nonce; the *context* (for example
``tenant:acme:app_secret``) is authenticated, so a value copied to another tenant or
field does not open. A check value kept in the control database tells a wrong master
key apart from a right one before any secret is used.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "v1:"
CHECK_CONTEXT = "wxp:master-key-check"
CHECK_PLAINTEXT = "wxp master key check"


class SecretError(ValueError):
    """A master key or a sealed value that cannot be used; the message says why."""


class SecretBox:
    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise SecretError("WXP_MASTER_KEY must decode to 32 bytes")
        self._aead = AESGCM(key)

    @classmethod
    def from_setting(cls, value: str) -> SecretBox:
        if not value:
            raise SecretError(
                "WXP_MASTER_KEY is not set: it encrypts tenant secrets at rest. Generate one with "
                "`python -c 'import os,base64;print(base64.b64encode(os.urandom(32)).decode())'`"
            )
        try:
            key = base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError):
            try:
                key = base64.urlsafe_b64decode(value.strip())
            except (binascii.Error, ValueError):
                raise SecretError("WXP_MASTER_KEY must be base64 of 32 random bytes") from None
        return cls(key)

    def seal(self, plaintext: str, context: str) -> str:
        nonce = os.urandom(12)
        sealed = self._aead.encrypt(nonce, plaintext.encode(), context.encode())
        return PREFIX + base64.b64encode(nonce + sealed).decode()

    def open(self, token: str, context: str) -> str:
        if not token.startswith(PREFIX):
            raise SecretError("not a sealed value")
        try:
            raw = base64.b64decode(token[len(PREFIX) :], validate=True)
            return self._aead.decrypt(raw[:12], raw[12:], context.encode()).decode()
        except (binascii.Error, ValueError, InvalidTag):
            raise SecretError(
                f"sealed value for {context.split(':', 2)[-1]} does not open"
            ) from None

    def check_value(self) -> str:
        return self.seal(CHECK_PLAINTEXT, CHECK_CONTEXT)

    def verify_check_value(self, token: str) -> None:
        try:
            ok = self.open(token, CHECK_CONTEXT) == CHECK_PLAINTEXT
        except SecretError:
            ok = False
        if not ok:
            raise SecretError(
                "WXP_MASTER_KEY is not the key this installation's secrets were sealed with"
            )
