"""The bench's requests: unique, signed and safe-mode encrypted webhook posts, built
before any timing and written to a file that ``cycle.lua`` feeds to wrk.

Each request gets a serial of its own, which makes its MsgId (for messages) or its
sender (for events) unique, so the gateway's dedup accepts every one.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from shared.contracts.envelope import event_event_id, message_event_id
from shared.wechat.samples import SAMPLES, build_xml
from shared.wechat.simulator import Account, sign_request

ACCOUNT = "gh_bench"
KEYWORD = "bench"  # text messages say it; the bench's rule answers it
ALPHANUMERIC = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


@dataclass(frozen=True, slots=True)
class Probe:
    """One pre-built webhook request, and the envelope id the gateway should publish."""

    target: str  # path and query
    body: bytes
    event_id: str


def new_account(tenant_id: str) -> Account:
    """Keys for an account no gateway knows (the bare server and the peer are given them)."""
    return Account(
        tenant_id=tenant_id,
        appid="wx" + secrets.token_hex(8),
        token=secrets.token_hex(16),
        encoding_aes_key="".join(secrets.choice(ALPHANUMERIC) for _ in range(43)),
        encrypt_mode="safe",
    )


def account_from(created: dict[str, Any]) -> Account:
    """The account the gateway's onboarding answered with."""
    return Account(
        tenant_id=created["id"],
        appid=created["appid"],
        token=created["token"],
        encoding_aes_key=created["encoding_aes_key"],
        encrypt_mode=created["encrypt_mode"],
    )


def build_probe(account: Account, sample: str, serial: int, now: int) -> Probe:
    openid = f"o_bench_{serial}"
    overrides: dict[str, Any] = {}
    if sample.startswith("event:"):
        msg_id = None
        key = str(SAMPLES[sample].get("EventKey", ""))
        event = sample.removeprefix("event:")
        event_id = event_event_id(account.tenant_id, openid, str(now), event, key)
    else:
        msg_id = str(serial)
        event_id = message_event_id(account.tenant_id, msg_id)
        overrides = {"Content": f"{KEYWORD} {serial}"} if sample == "text" else {}
    xml = build_xml(
        sample, openid=openid, account=ACCOUNT, create_time=now, msg_id=msg_id, overrides=overrides
    )
    signed = sign_request(account, xml, openid=openid, timestamp=now)
    target = f"/wx/{account.tenant_id}?{urlencode(signed.query)}"
    return Probe(target=target, body=signed.body, event_id=event_id)


def build_probes(
    accounts: list[Account], sample: str, count: int, serials: Iterator[int]
) -> list[Probe]:
    """``count`` requests spread over ``accounts`` in turn."""
    now = int(time.time())
    return [
        build_probe(accounts[i % len(accounts)], sample, next(serials), now) for i in range(count)
    ]


def write_pool(path: Path, probes: list[Probe]) -> Path:
    """The file cycle.lua reads: per request, ``<target> <body length>\\n<body>``."""
    with path.open("wb") as out:
        for probe in probes:
            out.write(f"{probe.target} {len(probe.body)}\n".encode())
            out.write(probe.body)
    return path
