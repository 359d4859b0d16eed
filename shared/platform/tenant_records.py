"""The sealed secrets of a tenant document in ``wxp_control.tenants``: their one layout.

Each secret is sealed under ``tenant:{id}:{field}`` in the document's ``secrets``. A
replaced EncodingAESKey is kept there as ``previous_encoding_aes_key`` (sealed as the
key it was) until ``previous_aes_key_until``. The gateway writes tenants through these
functions; a service that calls WeChat opens the app secret of an appid here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.platform.secretbox import SecretBox
from shared.platform.storage import CONTROL_DB, Client

SECRETS = "secrets"  # the sub-document of sealed values; a listing leaves it out
AES_KEY = "encoding_aes_key"
PREVIOUS_AES_KEY = "previous_encoding_aes_key"
PREVIOUS_AES_KEY_UNTIL = "previous_aes_key_until"


def secret_context(tenant_id: str, field: str) -> str:
    return f"tenant:{tenant_id}:{field}"


def seal_secrets(box: SecretBox, tenant_id: str, values: Mapping[str, str]) -> dict[str, Any]:
    """The fields of a new tenant document that hold ``values`` sealed."""
    return {SECRETS: _sealed(box, tenant_id, values)}


def reseal_secrets(
    box: SecretBox, doc: Mapping[str, Any], values: Mapping[str, str], *, previous_until: datetime
) -> dict[str, Any]:
    """The fields to replace in ``doc`` to change some of its secrets; a replaced
    EncodingAESKey still opens (see :func:`open_aes_keys`) until ``previous_until``."""
    sealed = dict(doc[SECRETS])
    changed: dict[str, Any] = {}
    if AES_KEY in values:
        sealed[PREVIOUS_AES_KEY] = sealed[AES_KEY]
        changed[PREVIOUS_AES_KEY_UNTIL] = previous_until
    sealed.update(_sealed(box, doc["_id"], values))
    return {**changed, SECRETS: sealed}


def open_secret(box: SecretBox, doc: Mapping[str, Any], field: str) -> str:
    return box.open(doc[SECRETS][field], secret_context(doc["_id"], field))


def open_aes_keys(box: SecretBox, doc: Mapping[str, Any], *, now: datetime) -> tuple[str, ...]:
    """The EncodingAESKey, then the one it replaced while that one's grace lasts."""
    keys = [open_secret(box, doc, AES_KEY)]
    previous = doc[SECRETS].get(PREVIOUS_AES_KEY)
    until = doc.get(PREVIOUS_AES_KEY_UNTIL)
    if previous is not None and isinstance(until, datetime) and until > now:
        keys.append(box.open(previous, secret_context(doc["_id"], AES_KEY)))
    return tuple(keys)


def _sealed(box: SecretBox, tenant_id: str, values: Mapping[str, str]) -> dict[str, str]:
    return {
        field: box.seal(value, secret_context(tenant_id, field)) for field, value in values.items()
    }


@dataclass(frozen=True, slots=True)
class TenantAccount:
    tenant_id: str
    appid: str


class TenantSecrets:
    def __init__(self, client: Client, box: SecretBox) -> None:
        self._tenants = client[CONTROL_DB].tenants
        self._box = box

    async def app_secret(self, appid: str) -> str:
        doc = await self._tenants.find_one({"appid": appid})
        if doc is None:
            raise LookupError(f"no tenant with appid {appid}")
        return open_secret(self._box, doc, "app_secret")

    async def account(self, tenant_id: str) -> TenantAccount:
        doc = await self._tenants.find_one({"_id": tenant_id}, {"appid": 1})
        if doc is None:
            raise LookupError(f"no tenant {tenant_id}")
        return TenantAccount(tenant_id=tenant_id, appid=str(doc["appid"]))
