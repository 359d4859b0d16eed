"""Analytics' background work on the real database and broker, with the clock in the
test's hands: the send hour published when it changes, a broadcast's impact 24 hours
after it, and days finalized before the raw log drops them."""

from __future__ import annotations

import itertools
import logging
import secrets
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from prometheus_client import CollectorRegistry

from services.analytics import refresh as refresh_module
from services.analytics import store as store_module
from services.analytics.facts import BROADCAST, Fact, to_row
from services.analytics.figures import HealthPolicy
from services.analytics.handlers import Intake
from services.analytics.metrics import AnalyticsMetrics
from services.analytics.refresh import Refresh
from services.analytics.reports import Reports
from services.analytics.store import AnalyticsStore
from shared.contracts.broadcast_events import BroadcastSubmitted
from shared.contracts.envelope import Envelope, iso
from shared.contracts.messages import WeChatMessage
from shared.contracts.reply_events import reply_sent
from shared.platform.delivery import Delivery, Reject
from shared.platform.directory import TenantDirectory
from shared.platform.publisher import EventPublisher
from shared.platform.storage import CONTROL_DB, Client, tenant_db_name
from tests.conftest import tenant_record
from tests.support.bus import Tap, wait_until

START = datetime(2026, 12, 10, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai


@dataclass
class Clock:
    now: datetime = START

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Harness:
    tenant_id: str
    intake: Intake
    refresh: Refresh
    reports: Reports
    store: AnalyticsStore
    clock: Clock
    tap: Tap
    serial: int = 0

    async def take(self, kind: str, at: datetime, openid: str, payload: Any = None) -> None:
        self.serial += 1
        stamp = iso(at)
        body = payload or WeChatMessage("gh_refresh", {"msg_id": str(self.serial)})
        envelope = Envelope(
            f"{self.tenant_id}-{self.serial}", self.tenant_id, kind, stamp, stamp, openid, body
        )
        await self.intake.take(Delivery(envelope))
        await self.store.fold(settle=-60.0)  # every inbox, the current one too


@pytest.fixture
async def harness(mongo: Client, amqp, tap_factory) -> AsyncIterator[Harness]:
    tenant_id = f"anr-{secrets.token_hex(5)}"
    await mongo[CONTROL_DB].tenants.insert_one(
        tenant_record(tenant_id, "Refresh harness", created_at=START)
    )
    tap = await tap_factory([f"{tenant_id}.analytics.*"], answer=None)
    clock = Clock()
    store = AnalyticsStore(mongo)
    metrics = AnalyticsMetrics.create(CollectorRegistry())
    intake = Intake(store=store, directory=TenantDirectory(mongo), metrics=metrics, now=clock)
    reports = Reports(store=store, raw_days=35, policy=HealthPolicy(), now=clock)
    publisher = EventPublisher(queues=[], confirm_timeout=5.0, direct_replies=False)
    await publisher.setup(amqp)
    refresh = Refresh(store, reports, intake, publisher, metrics, 60.0, 3600.0)
    yield Harness(tenant_id, intake, refresh, reports, store, clock, tap)
    await publisher.close()
    await mongo.drop_database(tenant_db_name(tenant_id))
    await mongo[CONTROL_DB].tenants.delete_one({"_id": tenant_id})
    await mongo[CONTROL_DB].analytics_impacts_due.delete_many({"tenant_id": tenant_id})


async def test_the_send_hour_is_published_when_it_changes_and_only_then(harness: Harness):
    await harness.take("msg.text", START - timedelta(days=1), "o_1")
    await harness.refresh.round(full=False)
    await wait_until(lambda: len(harness.tap.of_type("analytics.send_time")) == 1)
    first = harness.tap.of_type("analytics.send_time")[0].payload
    assert (first.hour, first.basis) == (20, "default")  # fewer than 50 interactions

    for n in range(60):  # 21:00 in Shanghai, on the previous days
        at = datetime(2026, 12, 9 - n % 7, 13, n % 60, tzinfo=UTC)
        await harness.take("event.click", at, f"o_{n}")
    await harness.refresh.round(full=False)
    await harness.refresh.round(full=False)  # nothing new: nothing published
    await wait_until(lambda: len(harness.tap.of_type("analytics.send_time")) == 2)
    second = harness.tap.of_type("analytics.send_time")[1].payload
    assert (second.hour, second.basis, second.interactions) == (21, "interactions", 61)
    summary = await harness.store.state(harness.tenant_id, "summary")
    assert summary is not None
    assert summary["status"] == "active"


async def test_a_round_reads_each_tenants_raw_log_once_and_stores_its_row(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    await harness.take("msg.text", START - timedelta(hours=1), "o_1")
    reads: list[str] = []
    leaf_ids = harness.store.leaf_ids

    async def counted(tenant_id: str, first_day: str, last_day: str) -> dict[str, frozenset[str]]:
        reads.append(tenant_id)
        return await leaf_ids(tenant_id, first_day, last_day)

    monkeypatch.setattr(harness.store, "leaf_ids", counted)
    await harness.refresh.round(full=False)
    assert reads == [harness.tenant_id]  # the window, shared by the row and the send hour
    summary = await harness.store.state(harness.tenant_id, "summary")
    assert summary is not None
    assert (summary["status"], summary["active_rate_30d"]) == ("active", None)


def days_asked(
    store: AnalyticsStore, method: str, monkeypatch: pytest.MonkeyPatch
) -> list[list[str]]:
    """The days ``store.method(tenant_id, days)`` is called with from now on, a list a call."""
    asked: list[list[str]] = []
    called = getattr(store, method)

    async def counted(tenant_id: str, days: list[str]) -> Any:
        asked.append(list(days))
        return await called(tenant_id, days)

    monkeypatch.setattr(store, method, counted)
    return asked


async def test_a_days_digest_is_made_again_only_when_its_leaves_change(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Made once, a past day's digest is read again only once a late fact or a
    redelivery is folded into it; each envelope still counts once."""
    for days_ago, openid in ((2, "o_a"), (1, "o_b"), (0, "o_c")):
        await harness.take("msg.text", START - timedelta(days=days_ago, hours=1), openid)
    await harness.take("msg.text", START - timedelta(days=2), "o_late")
    read = days_asked(harness.store, "days_of_facts", monkeypatch)
    window = await harness.reports.window(harness.tenant_id, "Asia/Shanghai")
    assert read == [["2026-12-08", "2026-12-09", "2026-12-10"]]
    assert (window.readers(30), window.interactions(29, 0)) == (4, 4)

    again = await harness.reports.window(harness.tenant_id, "Asia/Shanghai")
    assert len(read) == 1  # no leaf changed: nothing read but their ids
    assert again.days == window.days

    late = await harness.store.facts(harness.tenant_id, first_day="2026-12-08")
    redelivered = [to_row(fact) for fact in late if fact.openid == "o_late"]
    await harness.store.keep(harness.tenant_id, redelivered, fold="a-later-fold")
    await harness.take("msg.text", START - timedelta(days=1, minutes=5), "o_later")
    third = await harness.reports.window(harness.tenant_id, "Asia/Shanghai")
    assert read[1:] == [["2026-12-08", "2026-12-09"]]  # the days given new leaves
    assert (third.readers(30), third.interactions(29, 0)) == (5, 5)  # the redelivery once
    assert third.days["2026-12-08"].interactions == 2


async def test_a_days_figures_are_kept_and_a_later_reply_still_answers_its_message(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``stats/daily``'s days: each made once of its leaves; a reply folded into a later
    day answers a message of an earlier one without that day being read again."""
    for minute in range(2):  # two texts two days ago, unanswered
        await harness.take("msg.text", START - timedelta(days=2, minutes=minute), "o_a")
    first, today = date(2026, 12, 8), date(2026, 12, 10)
    days = await harness.reports.daily(harness.tenant_id, "Asia/Shanghai", first, today)
    assert [(d.date, d.messages, d.unanswered) for d in days] == [
        ("2026-12-08", 2, 2),
        ("2026-12-09", 0, 0),
        ("2026-12-10", 0, 0),
    ]
    read = days_asked(harness.store, "days_of_facts", monkeypatch)
    message = Envelope(
        f"{harness.tenant_id}-1", harness.tenant_id, "msg.text", "", "", "o_a", WeChatMessage("x")
    )
    answer = reply_sent(message, rule_id="r1", via="customer_service", at=START)
    await harness.intake.take(Delivery(answer))
    await harness.store.fold(settle=-60.0)
    days = await harness.reports.daily(harness.tenant_id, "Asia/Shanghai", first, today)
    assert [(d.date, d.unanswered, d.cs_replies) for d in days] == [
        ("2026-12-08", 1, 0),  # the first text, answered today
        ("2026-12-09", 0, 0),
        ("2026-12-10", 0, 1),
    ]
    assert read == [["2026-12-10"]]  # only the day given a leaf


async def test_a_round_merges_the_days_of_more_leaves_than_it_allows_and_counts_the_same(
    harness: Harness, mongo: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(refresh_module, "MERGE_LEAVES", 2)
    for n in range(3):  # a fold each: three leaves yesterday, two today
        await harness.take("msg.text", START - timedelta(days=1, minutes=n), f"o_{n}")
    for n in range(2):
        await harness.take("event.subscribe", START - timedelta(minutes=n), f"o_new{n}")
    events = mongo[tenant_db_name(harness.tenant_id)].analytics_events
    assert await events.count_documents({}) == 5
    await harness.refresh.round(full=False)
    by_day = Counter(doc["day"] for doc in await events.find({}).to_list())
    assert by_day == {"2026-12-09": 1, "2026-12-10": 2}  # only yesterday had more than 2
    first = await harness.store.state(harness.tenant_id, "summary")
    harness.intake.touched.add(harness.tenant_id)
    await harness.refresh.round(full=False)  # from the merged leaf: the same row
    assert await harness.store.state(harness.tenant_id, "summary") == first
    assert first is not None
    assert (first["new_7d"], first["status"]) == (2, "active")
    window = await harness.reports.window(harness.tenant_id, "Asia/Shanghai")
    assert (window.readers(30), window.interactions(1, 1)) == (3, 3)


async def test_a_day_merged_into_more_leaves_than_allowed_is_not_merged_again(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only leaves of a fold count toward ``MERGE_LEAVES``: a day whose facts need more
    merged leaves than that (a very busy account) is merged once, not every round."""
    monkeypatch.setattr(refresh_module, "MERGE_LEAVES", 2)
    monkeypatch.setattr(store_module, "LEAF_FACTS", 1)  # a merged leaf a fact
    for n in range(3):
        await harness.take("msg.text", START - timedelta(days=1, minutes=n), f"o_{n}")
    merges = days_asked(harness.store, "merge_leaves", monkeypatch)
    await harness.refresh.round(full=False)
    harness.intake.touched.add(harness.tenant_id)
    await harness.refresh.round(full=False)
    assert merges == [["2026-12-09"]]  # three merged leaves now, and no fold's among them
    window = await harness.reports.window(harness.tenant_id, "Asia/Shanghai")
    assert (window.unmerged, window.interactions(1, 1)) == ({"2026-12-09": 0}, 3)


async def test_a_rounds_tenants_start_spread_over_its_spread(
    harness: Harness, mongo: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    others = [f"anr-{secrets.token_hex(5)}" for _ in range(2)]
    await mongo[CONTROL_DB].tenants.insert_many([tenant_record(t, "Spread") for t in others])
    try:
        harness.intake.touched.update([harness.tenant_id, *others])
        started: list[float] = []
        tenant = harness.refresh.tenant

        async def timed(tenant_id: str, name: str, timezone: str) -> tuple[dict[str, Any], bool]:
            started.append(time.monotonic())
            return await tenant(tenant_id, name, timezone)

        monkeypatch.setattr(harness.refresh, "tenant", timed)
        await harness.refresh.round(full=False, spread=0.6)
        assert len(started) == 3
        gaps = [later - earlier for earlier, later in itertools.pairwise(started)]
        assert min(gaps) >= 0.15  # 0.6 s over three tenants: 0.2 s apart
        for tenant_id in others:
            assert await harness.store.state(tenant_id, "summary") is not None
    finally:
        await mongo[CONTROL_DB].tenants.delete_many({"_id": {"$in": others}})
        for tenant_id in others:
            await mongo.drop_database(tenant_db_name(tenant_id))


async def test_a_broadcast_impact_is_published_a_day_after_it(harness: Harness):
    submitted = START - timedelta(hours=1)
    await harness.take(
        "broadcast.submitted", submitted, "", BroadcastSubmitted("b1", "r1", "all", msg_id="9")
    )
    for n in range(14):  # one unfollow a day before, two in the 24 h after
        await harness.take("event.unsubscribe", submitted - timedelta(days=n, hours=3), f"old{n}")
    for n in range(2):
        await harness.take("event.unsubscribe", submitted + timedelta(hours=2 + n), f"new{n}")
    await harness.refresh.impacts()
    assert harness.tap.of_type("analytics.broadcast_impact") == []  # not 24 h yet

    harness.clock.now = submitted + timedelta(hours=24, minutes=1)
    await harness.refresh.impacts()
    await harness.refresh.impacts()  # done once
    await wait_until(lambda: len(harness.tap.of_type("analytics.broadcast_impact")) == 1)
    impact = harness.tap.of_type("analytics.broadcast_impact")[0].payload
    assert (impact.broadcast_id, impact.unsubscribes, impact.baseline, impact.lift) == (
        "b1",
        2,
        1.0,
        2.0,
    )
    [kept] = await harness.store.impacts(harness.tenant_id)
    assert kept["unfollows_24h"] == 2


async def test_an_impact_that_fails_waits_for_the_next_round_and_a_gone_tenants_is_dropped(
    harness: Harness, mongo: Client
):
    submitted = START - timedelta(hours=30)
    due = mongo[CONTROL_DB].analytics_impacts_due
    gone = f"gone-{secrets.token_hex(4)}"  # offboarded after its broadcast
    await harness.store.expect_impact(f"{gone}/b0/r0", gone, broadcast(gone, submitted), START)
    broken = f"{harness.tenant_id}/b2/r2"  # written by hand, without its submission time
    await due.insert_one({"_id": broken, "tenant_id": harness.tenant_id, "due_at": START})
    try:
        await harness.take(
            "broadcast.submitted", submitted, "", BroadcastSubmitted("b1", "r1", "all", msg_id="9")
        )
        await harness.refresh.impacts()
        await wait_until(lambda: len(harness.tap.of_type("analytics.broadcast_impact")) == 1)
        [published] = harness.tap.of_type("analytics.broadcast_impact")
        assert published.payload.broadcast_id == "b1"  # the broken one did not stop it
        left = await due.find({"tenant_id": {"$in": [gone, harness.tenant_id]}}).to_list()
        assert [doc["_id"] for doc in left] == [broken]  # due again next round; gone's dropped
    finally:
        await due.delete_many({"_id": {"$in": [broken, f"{gone}/b0/r0"]}})


def broadcast(tenant_id: str, at: datetime) -> Fact:
    return Fact(f"{tenant_id}-b", BROADCAST, "broadcast.submitted", at, "2026-12-09", 0, 2, "")


async def test_days_leaving_the_raw_log_are_finalized_first(harness: Harness):
    old = START - timedelta(days=36)
    await harness.take("event.subscribe", old, "o_old")
    await harness.take("msg.text", old + timedelta(minutes=5), "o_old")
    await harness.refresh.finalize(harness.tenant_id, "Asia/Shanghai")
    day = old.astimezone(ZoneInfo("Asia/Shanghai")).date()
    left = await harness.store.facts(
        harness.tenant_id, first_day="2000-01-01", last_day="2100-01-01"
    )
    assert left == []  # purged
    [figures] = await harness.reports.daily(harness.tenant_id, "Asia/Shanghai", day, day)
    assert (figures.new, figures.messages, figures.active_readers) == (1, 1, 1)


async def test_an_envelope_whose_time_is_not_a_time_is_dead_lettered(harness: Harness):
    payload = WeChatMessage("gh_refresh", {"msg_id": "bad"})
    envelope = Envelope("bad-time", harness.tenant_id, "msg.text", "yesterday", "now", "o", payload)
    with pytest.raises(Reject, match="bad-time"):
        await harness.intake.take(Delivery(envelope))
    gone = Envelope("gone", "no-such-tenant", "msg.text", iso(START), iso(START), "o", payload)
    await harness.intake.take(Delivery(gone))  # an offboarded tenant's: dropped
    assert harness.intake.touched == set()


async def test_with_no_broker_the_figures_are_kept_and_the_advice_waits_for_the_next_round(
    harness: Harness, caplog: pytest.LogCaptureFixture
):
    """At start-up the broker may not be linked yet: a warning line, no error, no advice
    lost; the round after the link is up sends it."""
    await harness.take("msg.text", START - timedelta(days=1), "o_1")
    linked = harness.refresh.events
    harness.refresh.events = EventPublisher(queues=[], confirm_timeout=5.0, direct_replies=False)
    with caplog.at_level(logging.WARNING, logger="services.analytics.refresh"):
        await harness.refresh.round(full=False)  # the tenants touched: this one

    assert not [r for r in caplog.records if r.levelno >= logging.ERROR], caplog.text
    [advice] = [r.getMessage() for r in caplog.records if "send-time advice" in r.getMessage()]
    assert advice.startswith("send-time advice waits for the broker, 1 tenant(s)"), advice
    assert harness.tenant_id in advice
    assert await harness.store.state(harness.tenant_id, "summary") is not None
    assert await harness.store.state(harness.tenant_id, "send_time") is None
    assert harness.tenant_id in harness.intake.touched

    harness.refresh.events = linked
    await harness.refresh.round(full=False)
    await wait_until(lambda: len(harness.tap.of_type("analytics.send_time")) == 1)
    assert await harness.store.state(harness.tenant_id, "send_time") is not None
