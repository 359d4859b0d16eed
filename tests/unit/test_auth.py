"""Who an API key is, with the key store replaced by a dict; how a key is shown."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from shared.platform.auth import Authenticator
from shared.platform.key_store import public_key
from shared.platform.keys import Principal, new_key
from shared.platform.web import ApiError, error_code, error_response

ADMIN = "wxpadm_bootstrap"


class Keys:
    """A key store in memory: what ``Authenticator`` looks keys up in."""

    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        self.lookups = 0

    def add(self, scope: str, tenant_id: str | None = None) -> str:
        key = new_key()
        self.docs[key.key_id] = {
            "_id": key.key_id,
            "digest": key.digest,
            "scope": scope,
            "tenant_id": tenant_id,
        }
        return key.plaintext

    async def get(self, key_id: str) -> dict[str, Any] | None:
        self.lookups += 1
        return self.docs.get(key_id)


async def test_the_admin_key_is_the_admin_without_a_lookup() -> None:
    keys = Keys()
    principal = await Authenticator(keys, admin_key=ADMIN).principal(ADMIN)
    assert principal == Principal(key_id="admin", scope="admin")
    assert keys.lookups == 0


async def test_a_stored_key_is_its_scope_and_tenant() -> None:
    keys = Keys()
    plaintext = keys.add("tenant", "acme")
    principal = await Authenticator(keys, admin_key=ADMIN).principal(plaintext)
    assert (principal.scope, principal.tenant_id) == ("tenant", "acme")
    assert principal.sees_tenant("acme")
    assert not principal.sees_tenant("other")


@pytest.mark.parametrize("plaintext", ["nonsense", "", ADMIN + "x"])
async def test_malformed_keys_are_refused_without_a_lookup(plaintext: str) -> None:
    keys = Keys()
    with pytest.raises(ApiError) as caught:
        await Authenticator(keys, admin_key=ADMIN).principal(plaintext)
    assert (caught.value.status, caught.value.code) == (401, "unauthorized")
    assert keys.lookups == 0


async def test_an_unknown_or_forged_key_is_refused() -> None:
    keys = Keys()
    real = keys.add("agency")
    key_id = real.split("_")[1]
    forged = f"wxp_{key_id}_{'A' * 32}"
    unknown = new_key().plaintext
    auth = Authenticator(keys, admin_key=ADMIN)
    for plaintext in (forged, unknown):
        with pytest.raises(ApiError, match="invalid API key"):
            await auth.principal(plaintext)


async def test_a_revoked_key_works_until_the_cache_forgets_it() -> None:
    keys = Keys()
    plaintext = keys.add("agency")
    auth = Authenticator(keys, admin_key=ADMIN, cache_seconds=60)
    principal = await auth.principal(plaintext)
    del keys.docs[principal.key_id]
    assert await auth.principal(plaintext) == principal  # cached
    auth.forget(principal.key_id)  # what the key.revoked control message does
    with pytest.raises(ApiError):
        await auth.principal(plaintext)


def test_a_key_is_shown_without_its_digest() -> None:
    created = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    doc = {
        "_id": "abc",
        "digest": "d",
        "scope": "tenant",
        "tenant_id": "acme",
        "created_at": created,
    }
    assert public_key(doc) == {
        "id": "abc",
        "scope": "tenant",
        "tenant_id": "acme",
        "name": "",
        "created_at": "2026-01-02T03:04:05+00:00",
    }


def test_statuses_raised_without_a_code_get_one() -> None:
    assert error_code(404) == "not_found"
    assert error_code(413) == "too_large"
    assert error_code(418) == "error"


def test_the_error_shape_names_the_field_only_when_there_is_one() -> None:
    plain = error_response(404, "not_found", "no tenant acme")
    assert plain.status == 404
    assert json.loads(plain.text or "") == {
        "error": {"code": "not_found", "message": "no tenant acme"}
    }
    with_field = error_response(422, "invalid", "bad", field="appid", headers={"X-A": "1"})
    assert json.loads(with_field.text or "")["error"]["field"] == "appid"
    assert with_field.headers["X-A"] == "1"


async def test_a_flood_of_unknown_keys_does_not_flush_a_known_one() -> None:
    # Random key ids are all misses: they may evict each other, never a key that exists.
    keys = Keys()
    plaintext = keys.add("agency")
    auth = Authenticator(keys, admin_key=ADMIN, cache_seconds=60)
    known = await auth.principal(plaintext)
    for _ in range(12_000):
        with pytest.raises(ApiError):
            await auth.principal(new_key().plaintext)
    lookups = keys.lookups
    assert await auth.principal(plaintext) == known
    assert keys.lookups == lookups  # answered from the cache
