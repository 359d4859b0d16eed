"""Onboarding validation and secrets at rest: pure, no servers."""

from __future__ import annotations

import base64
import os

import pytest

from services.gateway.tenants import InvalidField, validate_new
from shared.secretbox import SecretBox, SecretError

VALID = {
    "name": "Acme",
    "appid": "wx0123456789abcdef",
    "app_secret": "s",
    "account_type": "service",
    "encrypt_mode": "safe",
}


def test_defaults_are_generated_with_the_given_randomness():
    tenant = validate_new(dict(VALID), choice=lambda alphabet: alphabet[1])
    assert tenant.id == "tbbbbbbbbb"
    assert tenant.token == "b" * 32
    assert tenant.encoding_aes_key == "b" * 43
    assert tenant.timezone == "Asia/Shanghai"


def test_the_first_bad_field_is_named():
    with pytest.raises(InvalidField) as caught:
        validate_new({**VALID, "appid": "wx1", "encrypt_mode": "x"})
    assert caught.value.field == "appid"


def test_sealed_values_open_only_with_their_key_and_context():
    box = SecretBox(os.urandom(32))
    sealed = box.seal("app-secret-value", "tenant:a:app_secret")
    assert "app-secret-value" not in sealed
    assert box.open(sealed, "tenant:a:app_secret") == "app-secret-value"
    assert box.seal("app-secret-value", "tenant:a:app_secret") != sealed  # fresh nonce
    with pytest.raises(SecretError):
        box.open(sealed, "tenant:b:app_secret")  # copied to another tenant
    with pytest.raises(SecretError):
        SecretBox(os.urandom(32)).open(sealed, "tenant:a:app_secret")
    with pytest.raises(SecretError):
        box.open(sealed[:-4] + "AAAA", "tenant:a:app_secret")


def test_master_key_setting():
    key = os.urandom(32)
    box = SecretBox.from_setting(base64.b64encode(key).decode())
    check = box.check_value()
    SecretBox.from_setting(base64.urlsafe_b64encode(key).decode()).verify_check_value(check)
    with pytest.raises(SecretError, match="not set"):
        SecretBox.from_setting("")
    with pytest.raises(SecretError, match="32 bytes"):
        SecretBox.from_setting(base64.b64encode(b"short").decode())
    with pytest.raises(SecretError, match="not the key"):
        SecretBox(os.urandom(32)).verify_check_value(check)
