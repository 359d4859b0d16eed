"""Onboarding validation and secrets at rest (and their layout in a tenant document):
pure, no servers."""

from __future__ import annotations

import base64
import os
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.gateway.tenants import InvalidField, validate_new
from shared.platform.secretbox import SecretBox, SecretError
from shared.platform.tenant_records import (
    open_aes_keys,
    open_secret,
    reseal_secrets,
    seal_secrets,
)

VALID = {
    "name": "Acme",
    "appid": "wx0123456789abcdef",
    "app_secret": "s",
    "account_type": "service",
    "encrypt_mode": "safe",
}
KEYS = ({"encoding_aes_key": "k" * 43}, {"encoding_aes_key": "n" * 43})


def test_defaults_are_generated_with_the_given_randomness() -> None:
    tenant = validate_new(dict(VALID), choice=lambda alphabet: alphabet[1])
    assert tenant.id == "tbbbbbbbbb"
    assert tenant.token == "b" * 32
    assert tenant.encoding_aes_key == "b" * 43
    assert tenant.timezone == "Asia/Shanghai"


def test_the_first_bad_field_is_named() -> None:
    with pytest.raises(InvalidField) as caught:
        validate_new({**VALID, "appid": "wx1", "encrypt_mode": "x"})
    assert caught.value.field == "appid"


def test_sealed_values_open_only_with_their_key_and_context() -> None:
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


def test_master_key_setting() -> None:
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


def test_tenant_secrets_are_sealed_in_the_layout_stored_data_has() -> None:
    box = SecretBox(os.urandom(32))
    tenant = validate_new(dict(VALID, id="acme"))
    doc = {"_id": "acme", **seal_secrets(box, "acme", tenant.secrets)}
    assert set(doc["secrets"]) == {"token", "encoding_aes_key", "app_secret"}
    assert box.open(doc["secrets"]["app_secret"], "tenant:acme:app_secret") == "s"
    written_before = {  # as the gateway wrote tenants before this module owned the layout
        "_id": "old",
        "secrets": {f: box.seal(f"{f}-v", f"tenant:old:{f}") for f in doc["secrets"]},
    }
    for field in doc["secrets"]:
        assert open_secret(box, doc, field) == getattr(tenant, field)
        assert open_secret(box, written_before, field) == f"{field}-v"
    with pytest.raises(SecretError):  # a sealed value copied to another tenant does not open
        open_secret(box, {**doc, "_id": "other"}, "app_secret")


def test_a_replaced_aes_key_opens_until_its_grace_ends() -> None:
    box = SecretBox(os.urandom(32))
    now = datetime(2025, 1, 1, tzinfo=UTC)
    doc: dict[str, Any] = {"_id": "acme", **seal_secrets(box, "acme", {"token": "t", **KEYS[0]})}
    assert open_aes_keys(box, doc, now=now) == ("k" * 43,)
    doc.update(reseal_secrets(box, doc, KEYS[1], previous_until=now + timedelta(hours=1)))
    assert open_aes_keys(box, doc, now=now) == ("n" * 43, "k" * 43)
    assert open_aes_keys(box, doc, now=now + timedelta(hours=2)) == ("n" * 43,)
    assert open_secret(box, doc, "token") == "t"
    changed = reseal_secrets(box, doc, {"token": "u"}, previous_until=now)
    assert "previous_aes_key_until" not in changed  # the grace of the last rotation stays
    assert open_secret(box, {**doc, **changed}, "token") == "u"
