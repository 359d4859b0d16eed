"""Tenancy rules every service shares: what a tenant id looks like, the database that
holds a tenant's data, and the timezone a tenant gets when none is given."""

from __future__ import annotations

import re

# Short lower-case ids: they name databases (``[A-Za-z0-9_-]{1,63}``) and URL segments.
TENANT_ID_PATTERN = "^[a-z0-9][a-z0-9-]{1,40}$"
TENANT_ID_RE = re.compile(TENANT_ID_PATTERN)
TENANT_ID_ROUTE = "{tenant_id:" + TENANT_ID_PATTERN[1:-1] + "}"  # the rule as a route part
TENANT_ID_HINT = "2 to 41 characters of a-z, 0-9 and -, starting with a letter or digit"
DEFAULT_TIMEZONE = "Asia/Shanghai"
CONTROL_DB = "wxp_control"


def tenant_db_name(tenant_id: str) -> str:
    if not TENANT_ID_RE.fullmatch(tenant_id):
        raise ValueError(f"not a tenant id: {tenant_id!r}")
    return f"wxp_t_{tenant_id}"
