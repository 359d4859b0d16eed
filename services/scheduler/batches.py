"""Cutting an openid list into mass-send batches, and each batch's ``clientmsgid`` (WeChat's
idempotency key: the same id within 24 h is answered 45065 with the earlier msg_id). Pure."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

MAX_BATCH = 10_000  # openids per mass-send call
MAX_CLIENT_MSG_ID = 64  # bytes, WeChat's limit


def client_msg_id(tenant_id: str, broadcast_id: str, run_id: str, batch: int) -> str:
    """``wxp`` and 60 hex digits: deterministic, and different for any different input
    (a hash of the unambiguous JSON of all four, since tenant ids alone reach 41 chars)."""
    key = json.dumps([tenant_id, broadcast_id, run_id, batch]).encode()
    return "wxp" + hashlib.blake2b(key, digest_size=30).hexdigest()


def split(openids: Sequence[str], size: int = MAX_BATCH) -> list[tuple[str, ...]]:
    """Batches of at most ``size`` in order, none of a single openid (WeChat refuses
    those: 40130): full batches, and a lone last openid takes a partner from the one
    before it."""
    if len(openids) < 2:
        raise ValueError("a list send needs at least 2 openids")
    if size < 3:
        raise ValueError("batches must allow at least 3 openids")
    batches = [tuple(openids[i : i + size]) for i in range(0, len(openids), size)]
    if len(batches[-1]) == 1:
        *before, partner = batches[-2]
        batches[-2:] = [tuple(before), (partner, *batches[-1])]
    return batches
