"""API keys: who is calling, and what they may see. The pure part.

A key reads ``wxp_<key id>_<secret>``. Only the SHA-256 of the whole key is stored
(keys are 192-bit random, so a slow hash adds nothing), and it is compared in
constant time. Three kinds of caller exist: the bootstrap admin key from
``WXP_ADMIN_KEY``, agency keys (every tenant, agency-wide routes) and tenant keys
(one tenant's resources only).
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from typing import Literal

Scope = Literal["admin", "agency", "tenant"]
KEY_RE = re.compile(r"^wxp_([0-9a-f]{12})_([A-Za-z0-9_-]{32})$")


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: str
    scope: Scope
    tenant_id: str | None = None
    name: str = ""  # the key's label, for records of who did what (an inbox answer)

    @property
    def agency_wide(self) -> bool:
        return self.scope in ("admin", "agency")

    def sees_tenant(self, tenant_id: str) -> bool:
        return self.agency_wide or self.tenant_id == tenant_id


@dataclass(frozen=True, slots=True)
class NewKey:
    key_id: str
    plaintext: str
    digest: str


def new_key() -> NewKey:
    key_id = secrets.token_hex(6)
    plaintext = f"wxp_{key_id}_{secrets.token_urlsafe(24)}"
    return NewKey(key_id=key_id, plaintext=plaintext, digest=digest_of(plaintext))


def digest_of(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def key_id_of(plaintext: str) -> str | None:
    match = KEY_RE.fullmatch(plaintext)
    return match.group(1) if match else None


def matches(plaintext: str, digest: str) -> bool:
    return hmac.compare_digest(digest_of(plaintext).encode(), digest.encode())


def is_admin_key(plaintext: str, admin_key: str) -> bool:
    return bool(admin_key) and hmac.compare_digest(plaintext.encode(), admin_key.encode())
