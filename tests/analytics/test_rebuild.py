"""``POST /api/tenants/{id}/rebuild`` on the real analytics app over FerretDB: a tenant's
raw log seeded with facts (as ``Fact.to_doc`` stores them), its derived state spoiled,
then rebuilt and compared with values worked out by hand; and the requests it refuses,
which change nothing.

The days are counted from D, ten tenant-local days before today (Asia/Shanghai), the
``from`` of the rebuild. What the raw log holds:

- a: subscribes on D-5 by ``qr_a``, unsubscribes on D+2 13:00 (an hour after b1)
- b: subscribes on D+1 by ``qr_b``, writes a text on D+5
- c: unsubscribes on D+3 09:00 (21 h after b1); their subscribe is older than the raw log
- d: subscribes on D-3 by ``qr_d`` (before ``from``: d is not rebuilt from D)
- e: subscribes on D+1 without a scene, unsubscribes on D+2 10:00, subscribes by ``qr_e``
  on D+4
- broadcasts: b0 on D-4 15:00 (before ``from``), b1 on D+2 12:00, b2 an hour ago (its
  24 hours are not over)
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiohttp import ClientSession

from services.analytics.facts import BROADCAST, FOLLOW, INTERACTION, UNFOLLOW, Fact
from services.analytics.figures import DayFigures
from services.analytics.reports import day_doc
from shared.platform.key_store import KeyStore
from shared.platform.storage import CONTROL_DB, Client, tenant_db_name
from tests.conftest import tenant_record
from tests.gateway.conftest import ADMIN_KEY

ZONE = ZoneInfo("Asia/Shanghai")
RAW_DAYS = 35  # the analytics fixture's (the default)
DERIVED = ("analytics_readers", "analytics_days", "analytics_impacts", "analytics_state")


@dataclass
class Seeded:
    tenant_id: str
    key: str  # the tenant's own key
    other_key: str  # another tenant's key
    today: date
    d: date  # the rebuild's from

    def at(self, offset: int, clock: str) -> datetime:
        """``clock`` (HH:MM, local) on D + ``offset``, as UTC."""
        day = self.d + timedelta(days=offset)
        return datetime.combine(day, time.fromisoformat(clock), ZONE).astimezone(UTC)

    def day(self, offset: int) -> str:
        return (self.d + timedelta(days=offset)).isoformat()


def fact(kind: str, type_: str, at: datetime, openid: str, **extra: str | None) -> Fact:
    local = at.astimezone(ZONE)
    return Fact(
        id=f"{type_}-{openid}-{at.timestamp():.0f}-{extra.get('broadcast_id')}",
        kind=kind,
        type=type_,
        at=at,
        day=local.date().isoformat(),
        hour=local.hour,
        weekday=local.weekday(),
        openid=openid,
        **extra,
    )


def stale_day(day: str, new: int) -> dict[str, Any]:
    figures = DayFigures(day, new, 0, new, None, 0, 0, {}, {}, 0, 0, 0, 0)
    return day_doc(figures)


@pytest.fixture
async def seeded(mongo: Client, created_tenants: list[str]) -> AsyncIterator[Seeded]:
    tenant_id, other_id = (f"rb-{secrets.token_hex(5)}" for _ in range(2))
    for tenant in (tenant_id, other_id):
        await mongo[CONTROL_DB].tenants.insert_one(tenant_record(tenant, f"Rebuild {tenant}"))
        created_tenants.append(tenant)
    keys, now = KeyStore(mongo), datetime.now(UTC)
    _, key = await keys.create(scope="tenant", name="own", tenant_id=tenant_id, now=now)
    _, other = await keys.create(scope="tenant", name="other", tenant_id=other_id, now=now)
    today = now.astimezone(ZONE).date()
    s = Seeded(tenant_id, key, other, today, today - timedelta(days=10))

    def follow(offset: int, clock: str, openid: str, scene: str | None) -> Fact:
        return fact(FOLLOW, "event.subscribe", s.at(offset, clock), openid, key=scene)

    def unfollow(offset: int, clock: str, openid: str) -> Fact:
        return fact(UNFOLLOW, "event.unsubscribe", s.at(offset, clock), openid)

    def broadcast(at: datetime, name: str) -> Fact:
        ids = {"broadcast_id": name, "run_id": name.replace("b", "r")}
        return fact(BROADCAST, "broadcast.submitted", at, "", **ids)

    facts = [
        follow(-5, "09:00", "a", "qr_a"),
        unfollow(2, "13:00", "a"),
        follow(1, "08:00", "b", "qr_b"),
        fact(INTERACTION, "msg.text", s.at(5, "09:00"), "b"),
        unfollow(3, "09:00", "c"),
        follow(-3, "10:00", "d", "qr_d"),
        follow(1, "09:00", "e", None),
        unfollow(2, "10:00", "e"),
        follow(4, "08:00", "e", "qr_e"),
        broadcast(s.at(-4, "15:00"), "b0"),
        broadcast(s.at(2, "12:00"), "b1"),
        broadcast(now.replace(microsecond=0) - timedelta(hours=1), "b2"),
    ]
    db = mongo[tenant_db_name(tenant_id)]
    await db.analytics_events.insert_many([f.to_doc() for f in facts])
    # The spoiled derived state.
    await db.analytics_readers.insert_many(
        [
            {"_id": "a", "follow": FOLLOW, "follow_at": s.at(-5, "09:00"), "channel": "wrong"},
            {"_id": "c", "follow": FOLLOW, "follow_at": s.at(4, "09:00"), "channel": "qr_old"},
            {"_id": "d", "follow": UNFOLLOW, "follow_at": s.at(-3, "10:00"), "channel": "x"},
            {"_id": "e", "follow": UNFOLLOW, "follow_at": s.at(2, "10:00"), "channel": None},
        ]
    )
    await db.analytics_days.insert_many(
        [stale_day(s.day(-1), 77), stale_day(s.day(0), 50), stale_day(s.day(1), 99)]
    )
    await db.analytics_impacts.insert_many(
        [
            {**impact_doc("b0", s.at(-4, "15:00")), "unfollows_24h": 5},
            {**impact_doc("b1", s.at(2, "12:00")), "unfollows_24h": 7, "lift": 14.0},
        ]
    )
    await db.analytics_state.insert_many(
        [
            {
                "_id": "summary",
                "id": tenant_id,
                "name": f"Rebuild {tenant_id}",
                "followers_known": 999,
                "new_7d": 9,
                "lost_7d": 9,
                "active_rate_30d": 0.01,
                "status": "dormant",
            },
            {"_id": "send_time", "hour": 3, "basis": "interactions", "sample": 999},
        ]
    )
    yield s
    for tenant in (tenant_id, other_id):
        await mongo.drop_database(tenant_db_name(tenant))


def impact_doc(name: str, submitted: datetime) -> dict[str, Any]:
    run = name.replace("b", "r")
    return {
        "_id": f"{name}/{run}",
        "broadcast_id": name,
        "run_id": run,
        "submitted_at": submitted,
        "unfollows_24h": 0,
        "baseline_24h": 0.5,
        "lift": 0.0,
    }


async def derived(mongo: Client, tenant_id: str) -> dict[str, list[dict[str, Any]]]:
    db = mongo[tenant_db_name(tenant_id)]
    return {name: await db[name].find({}).sort("_id").to_list() for name in DERIVED}


async def post(
    http: ClientSession,
    url: str,
    body: Any = None,
    *,
    key: str | None = ADMIN_KEY,
    raw: bytes | None = None,
    content_type: str = "application/json",
) -> tuple[int, Any]:
    headers = {"Content-Type": content_type}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    data = raw if raw is not None else json.dumps(body)
    async with http.post(url, data=data, headers=headers) as response:
        return response.status, await response.json()


async def get(http: ClientSession, url: str) -> Any:
    async with http.get(url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}) as response:
        assert response.status == 200, await response.text()
        return await response.json()


async def test_a_rebuild_recomputes_readers_days_impacts_and_the_overview_from_the_raw_log(
    analytics: str, http: ClientSession, mongo: Client, seeded: Seeded
) -> None:
    s = seeded
    url = f"{analytics}/api/tenants/{s.tenant_id}/rebuild"
    before = await derived(mongo, s.tenant_id)

    status, answer = await post(http, url, {"from": s.d.isoformat()}, key=s.key)

    assert (status, answer) == (
        200,
        {
            "tenant_id": s.tenant_id,
            "from": s.d.isoformat(),
            "readers": 4,
            "days_dropped": 2,
            "impacts": 1,
        },
    )
    after = await derived(mongo, s.tenant_id)
    assert after["analytics_readers"] == [
        # a's channel: their subscribe on D-5, still in the raw log
        {"_id": "a", "follow": UNFOLLOW, "follow_at": s.at(2, "13:00"), "channel": "qr_a"},
        {"_id": "b", "follow": FOLLOW, "follow_at": s.at(1, "08:00"), "channel": "qr_b"},
        # the raw log's unfollow wins over a later stored state; the channel is kept
        {"_id": "c", "follow": UNFOLLOW, "follow_at": s.at(3, "09:00"), "channel": "qr_old"},
        {"_id": "d", "follow": UNFOLLOW, "follow_at": s.at(-3, "10:00"), "channel": "x"},  # as was
        {"_id": "e", "follow": FOLLOW, "follow_at": s.at(4, "08:00"), "channel": "qr_e"},
    ]
    assert after["analytics_days"] == [stale_day(s.day(-1), 77)]  # before from: kept
    b1 = s.at(2, "12:00")
    # b1's 24 h: a (13:00) and c (next day 09:00) left. Its 14 days before: b0 fell in
    # the 6th, so 13 windows count, with e's unfollow (D+2 10:00) in the first.
    assert after["analytics_impacts"] == [
        {**impact_doc("b0", s.at(-4, "15:00")), "unfollows_24h": 5},  # before from: as was
        {
            **impact_doc("b1", b1),
            "unfollows_24h": 2,
            "baseline_24h": pytest.approx(1 / 13),
            "lift": pytest.approx(26.0),
        },
    ]
    summary, send_time = after["analytics_state"][1], after["analytics_state"][0]
    assert summary == {
        "_id": "summary",
        "id": s.tenant_id,
        "name": f"Rebuild {s.tenant_id}",
        "followers_known": 2,  # b and e follow (d's stored state says unfollow)
        "new_7d": 1,  # e on D+4, six days ago
        "lost_7d": 0,  # c's was seven days ago
        "active_rate_30d": 0.5,  # b wrote
        "status": "active",
    }
    assert send_time == {"_id": "send_time", "hour": 20, "basis": "default", "sample": 1}
    assert after != before

    # What the API shows now, read from the raw log and the rebuilt state.
    base = f"{analytics}/api/tenants/{s.tenant_id}"
    daily = await get(http, f"{base}/stats/daily?from={s.day(-1)}&to={s.day(2)}")
    assert [(d["date"], d["new"], d["lost"]) for d in daily["days"]] == [
        (s.day(-1), 77, 0),  # the finalized day before from, left alone
        (s.day(0), 0, 0),  # its stale finalized figures dropped: the raw log has none
        (s.day(1), 2, 0),  # b and e, not the stale 99
        (s.day(2), 0, 2),  # a and e
    ]
    overview = (await get(http, f"{analytics}/api/overview"))["tenants"]
    [row] = [t for t in overview if t["id"] == s.tenant_id]
    assert (row["followers_known"], row["new_7d"], row["status"]) == (2, 1, "active")
    impacts = (await get(http, f"{base}/stats/broadcasts"))["broadcasts"]
    assert [(i["broadcast_id"], i["unfollows_24h"]) for i in impacts] == [("b0", 5), ("b1", 2)]

    # Again: the same state; nothing left to drop.
    status, again = await post(http, url, {"from": s.d.isoformat()})
    assert (status, again["readers"], again["days_dropped"], again["impacts"]) == (200, 4, 0, 1)
    assert await derived(mongo, s.tenant_id) == after

    # From the raw log's first day: d is rebuilt too, and the finalized day before D goes.
    start = (s.today - timedelta(days=RAW_DAYS - 1)).isoformat()
    status, oldest = await post(http, url, {"from": start})
    assert (status, oldest["readers"], oldest["days_dropped"], oldest["impacts"]) == (200, 5, 1, 2)
    readers = {r["_id"]: r for r in (await derived(mongo, s.tenant_id))["analytics_readers"]}
    assert readers["d"] == {
        "_id": "d",
        "follow": FOLLOW,
        "follow_at": s.at(-3, "10:00"),
        "channel": "qr_d",
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"from": "2026-02-30"}, "from: not a calendar date"),
        ({"from": "yesterday"}, "from: a date, YYYY-MM-DD"),
        ({"from": 20260101}, "from: a date, YYYY-MM-DD"),
        ({"from": None}, "from: a date, YYYY-MM-DD"),
        ({}, "from: required, a date YYYY-MM-DD"),
        ({"from": "TODAY", "to": "TODAY"}, "from only"),
        ({"from": "TOMORROW"}, "from: after today (TODAY in the account's timezone)"),
        ({"from": "BEFORE_RAW"}, "from: the raw log starts at RAW_START (it keeps 35 days)"),
    ],
)
async def test_a_from_the_raw_log_cannot_rebuild_is_422_naming_it_and_changes_nothing(
    body: dict[str, Any],
    message: str,
    analytics: str,
    http: ClientSession,
    mongo: Client,
    seeded: Seeded,
) -> None:
    s = seeded
    start = s.today - timedelta(days=RAW_DAYS - 1)
    words = {
        "TODAY": s.today.isoformat(),
        "TOMORROW": (s.today + timedelta(days=1)).isoformat(),
        "BEFORE_RAW": (start - timedelta(days=1)).isoformat(),
        "RAW_START": start.isoformat(),
    }
    body = {k: words.get(v, v) if isinstance(v, str) else v for k, v in body.items()}
    before = await derived(mongo, s.tenant_id)

    status, answer = await post(http, f"{analytics}/api/tenants/{s.tenant_id}/rebuild", body)

    assert status == 422, answer
    assert answer["error"]["field"] == "from"
    expected = message
    for word, value in words.items():
        expected = expected.replace(word, value)
    assert answer["error"]["message"].startswith(expected), answer
    assert await derived(mongo, s.tenant_id) == before


async def test_keys_tenants_and_bodies_are_checked_first_and_change_nothing(
    analytics: str, http: ClientSession, mongo: Client, seeded: Seeded
) -> None:
    s = seeded
    url = f"{analytics}/api/tenants/{s.tenant_id}/rebuild"
    body = {"from": s.d.isoformat()}
    before = await derived(mongo, s.tenant_id)

    refusals = [
        (await post(http, url, body, key=s.other_key), 404, "not_found"),  # another's key
        (await post(http, url, body, key=None), 401, "unauthorized"),
        (
            await post(http, f"{analytics}/api/tenants/rb-nobody/rebuild", body),
            404,
            "not_found",
        ),
        (await post(http, url, raw=b'{"from": '), 400, "bad_json"),
        (await post(http, url, raw=b'["2026-01-01"]'), 400, "bad_json"),
        (await post(http, url, raw=b"from=x", content_type="text/plain"), 415, None),
        (await post(http, url, raw=b'{"from": "' + b"x" * (1024 * 1024 + 1) + b'"}'), 413, None),
    ]

    for (status, answer), expected_status, code in refusals:
        assert status == expected_status, answer
        assert code is None or answer["error"]["code"] == code, answer
    assert refusals[0][0][1]["error"]["message"] == f"no tenant {s.tenant_id}"  # not leaked
    assert await derived(mongo, s.tenant_id) == before
