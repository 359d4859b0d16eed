"""Where tenant secrets are sealed, and reading them back for other services.

The gateway seals each secret under ``tenant:{id}:{field}`` in ``wxp_control.tenants``;
a service that calls WeChat opens the app secret of an appid here, for the token service.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.secretbox import SecretBox
from shared.storage import CONTROL_DB, Client


def secret_context(tenant_id: str, field: str) -> str:
    return f"tenant:{tenant_id}:{field}"


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
        sealed = doc["secrets"]["app_secret"]
        return self._box.open(sealed, secret_context(doc["_id"], "app_secret"))

    async def account(self, tenant_id: str) -> TenantAccount:
        doc = await self._tenants.find_one({"_id": tenant_id}, {"appid": 1})
        if doc is None:
            raise LookupError(f"no tenant {tenant_id}")
        return TenantAccount(tenant_id=tenant_id, appid=str(doc["appid"]))
