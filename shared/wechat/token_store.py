"""Where access tokens and refresh leases are kept: the one module that writes them.

``wechat_tokens`` holds the current token of each appid (sealed), ``wechat_token_leases``
who may refresh it. A lease is a unique-key insert (atomic on FerretDB and MongoDB alike);
a lease older than the policy's ``lease_seconds`` is taken to be abandoned and retaken.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from shared.platform.secretbox import SecretBox
from shared.platform.storage import DuplicateKeyError, PyMongoError, aware
from shared.wechat.token_policy import TokenPolicy, TokenRecord, lease_is_stale

logger = logging.getLogger(__name__)

Database = AsyncDatabase[dict[str, Any]]
TOKENS = "wechat_tokens"
LEASES = "wechat_token_leases"


class TokenStore:
    """Tokens and leases of every appid, as seen by one process (``owner``)."""

    def __init__(self, db: Database, box: SecretBox, *, owner: str, policy: TokenPolicy) -> None:
        self._tokens = db[TOKENS]
        self._leases = db[LEASES]
        self._box = box
        self._owner = owner
        self._policy = policy

    async def load(self, appid: str) -> TokenRecord | None:
        doc = await self._tokens.find_one({"_id": appid})
        if doc is None:
            return None
        return TokenRecord(
            token=self._box.open(doc["token"], f"token:{appid}"),
            fetched_at=aware(doc["fetched_at"]),
            expires_at=aware(doc["expires_at"]),
            generation=int(doc["generation"]),
        )

    async def save(self, appid: str, record: TokenRecord) -> None:
        """Only the lease holder calls this."""
        doc = {
            "_id": appid,
            "token": self._box.seal(record.token, f"token:{appid}"),
            "fetched_at": record.fetched_at,
            "expires_at": record.expires_at,
            "generation": record.generation,
            "fetched_by": self._owner,
        }
        await self._tokens.replace_one({"_id": appid}, doc, upsert=True)

    async def take_lease(self, appid: str, now: datetime) -> bool:
        """True when this process may now refresh the token of ``appid``."""
        lease = {"_id": appid, "owner": self._owner, "at": now}
        try:
            await self._leases.insert_one(lease)
            return True
        except DuplicateKeyError:
            held = await self._leases.find_one({"_id": appid})
        if held is None or not lease_is_stale(aware(held["at"]), now, self._policy):
            return False
        logger.warning(
            "wechat token lease of appid=%s abandoned by %s: retaking", appid, held["owner"]
        )
        await self._leases.delete_one({"_id": appid, "owner": held["owner"], "at": held["at"]})
        try:
            await self._leases.insert_one(lease)
            return True
        except DuplicateKeyError:
            return False

    async def release_lease(self, appid: str) -> None:
        try:
            await self._leases.delete_one({"_id": appid, "owner": self._owner})
        except PyMongoError as exc:  # it goes stale after lease_seconds; keep the token
            logger.warning("wechat token lease of appid=%s not released: %r", appid, exc)
