"""A broadcast's runs, from due to finished, on the real database and broker against the
fake WeChat API, with the clock in the test's hands."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from services.scheduler.broadcasts import Conflict, QuotaFull
from services.scheduler.handlers import SchedulerHandlers
from services.scheduler.runs import CANCELLED, FAILED, FINISHED, SENDING, SUBMITTED
from services.scheduler.store import BroadcastStore
from shared.contracts.broadcast_events import SendTimeAdvice
from shared.contracts.envelope import Envelope
from shared.contracts.messages import WeChatMessage
from shared.platform.delivery import Delivery
from tests.scheduler.conftest import Harness
from tests.support.bus import wait_until
from tests.support.fake_wechat import Fault

TEXT = {"type": "text", "content": "今晚八点, 新品上线"}
ALL = {"kind": "all"}
SENDALL = "/cgi-bin/message/mass/sendall"


def finish_report(h: Harness, msg_id: str, status: str = "send success") -> Delivery[WeChatMessage]:
    fields = {
        "event": "MASSSENDJOBFINISH",
        "msg_id": msg_id,
        "status": status,
        "total_count": "120",
        "filter_count": "100",
        "sent_count": "98",
        "error_count": "2",
    }
    stamp = h.clock.now.isoformat()
    payload = WeChatMessage(account="gh_test", fields=fields)
    envelope = Envelope(
        f"finish-{msg_id}",
        h.account.tenant_id,
        "event.masssendjobfinish",
        stamp,
        stamp,
        "mphelper",
        payload,
    )
    return Delivery(envelope)


class Unclean(BroadcastStore):
    """A replica's store whose process is about to be killed: no cleanup will run."""

    def __init__(self, store: BroadcastStore) -> None:
        self.__dict__.update(store.__dict__)

    async def release_claim(self, key: str, attempt: int, *, now: datetime) -> None:
        return None


def handlers_of(h: Harness) -> SchedulerHandlers:
    return SchedulerHandlers(
        store=h.store, metrics=h.worker.metrics, look_soon=lambda *_: None, now=h.clock
    )


async def test_a_broadcast_goes_out_once_when_due_and_is_reported(sched: Harness):
    tap = sched.tap
    created = await sched.create(
        name="新品", message=TEXT, audience=ALL, schedule={"at": "2026-12-01T20:00"}
    )
    assert created["next_run_at"] == "2026-12-01T12:00:00Z"  # 20:00 in Shanghai
    assert created["status"] == "scheduled"

    sched.clock.advance(hours=9, minutes=59)
    assert await sched.fire_due() == 0
    assert sched.fake.accepted(sched.account.appid) == []

    sched.clock.advance(minutes=1, seconds=0.4)
    assert await sched.fire_due() == 1
    run = await sched.run_of(created["id"])
    [job] = sched.fake.accepted(sched.account.appid)
    assert run.status == SUBMITTED
    assert run.msg_ids == [str(job.msg_id)]
    assert job.clientmsgid == run.batches[0].clientmsgid
    assert job.target == "all"
    assert sched.sample("wxp_scheduler_due_lag_seconds_count") == 1
    assert sched.sample("wxp_scheduler_due_lag_seconds_sum") == pytest.approx(0.4)
    await wait_until(lambda: len(tap.of_type("broadcast.submitted")) == 1)
    submitted = tap.of_type("broadcast.submitted")[0].payload
    assert (submitted.broadcast_id, submitted.msg_id, submitted.audience) == (
        created["id"],
        str(job.msg_id),
        "all",
    )

    await handlers_of(sched).job_finished(finish_report(sched, str(job.msg_id)))
    await sched.fire_due()
    run = await sched.run_of(created["id"])
    assert run.status == FINISHED
    assert run.result() == {"status": "sent", "total": 120, "filter": 100, "sent": 98, "error": 2}
    await wait_until(lambda: len(tap.of_type("broadcast.finished")) == 1)
    finished = tap.of_type("broadcast.finished")[0].payload
    assert (finished.status, finished.sent, finished.total) == ("sent", 98, 120)
    broadcast = await sched.store.broadcast(sched.account.tenant_id, created["id"])
    assert broadcast is not None
    assert broadcast["status"] == FINISHED
    assert await sched.due_keys() == {}
    assert len(sched.fake.accepted(sched.account.appid)) == 1
    ours = [m for m in sched.registry.collect() if m.name.startswith("wxp_scheduler")]
    assert {k for m in ours for s in m.samples for k in s.labels} <= {"outcome", "status", "le"}


async def test_a_send_whose_answer_was_lost_is_resent_under_its_clientmsgid(sched: Harness):
    """WeChat took the send but the answer never came (the client gave up): the retry
    carries the same clientmsgid, WeChat answers 45065 with the first msg_id, and the run
    is submitted with it. One mass send in all."""
    sched.fake.add_fault(Fault(path=SENDALL, delay=6.0, after=True, times=1))
    created = await sched.create(
        name="lost answer", message=TEXT, audience=ALL, schedule={"at": "2026-12-01T11:00"}
    )
    sched.clock.advance(hours=1)
    await sched.fire_due()
    run = await sched.run_of(created["id"])
    [job] = sched.fake.accepted(sched.account.appid)
    assert run.status == SUBMITTED
    assert run.msg_ids == [str(job.msg_id)]
    answers = [c.errcode for c in sched.fake.calls(SENDALL, sched.account.appid)]
    assert answers[-1] == 45065
    assert sched.sample("wxp_scheduler_sends_total", outcome="already_submitted") == 1


async def test_a_replica_killed_mid_send_is_taken_over_after_its_claim(make_sched):
    sched = await make_sched()
    sched.fake.add_fault(Fault(path=SENDALL, delay=3.0, after=True, times=1))
    created = await sched.create(
        name="crash", message=TEXT, audience=ALL, schedule={"at": "2026-12-01T11:00"}
    )
    sched.clock.advance(hours=1)
    [key] = await sched.due_keys()
    dying = asyncio.create_task(replace(sched.worker, store=Unclean(sched.store)).look_at(key))
    await wait_until(lambda: len(sched.fake.accepted(sched.account.appid)) == 1)
    dying.cancel()  # as a kill -9 leaves it: claimed, sending, no answer recorded, no cleanup
    with pytest.raises(asyncio.CancelledError):
        await dying
    run = await sched.run_of(created["id"])
    assert run.status == SENDING
    assert run.msg_ids == []

    await sched.worker.look_at(key)  # another replica, while the claim still holds
    assert (await sched.run_of(created["id"])).claims == run.claims

    [job] = sched.fake.accepted(sched.account.appid)
    await handlers_of(sched).job_finished(finish_report(sched, str(job.msg_id)))  # parked
    sched.clock.advance(seconds=61)
    await sched.fire_due()
    run = await sched.run_of(created["id"])
    assert len(sched.fake.accepted(sched.account.appid)) == 1
    assert run.msg_ids == [str(job.msg_id)]
    assert run.status == FINISHED  # the parked report was picked up with the msg_id
    assert run.result() == {"status": "sent", "total": 120, "filter": 100, "sent": 98, "error": 2}


async def test_a_minute_limit_waits_and_tries_again(sched: Harness):
    sched.fake.add_fault(Fault(path=SENDALL, errcode=45011, times=1))
    created = await sched.create(
        name="busy", message=TEXT, audience=ALL, schedule={"at": "2026-12-01T11:00"}
    )
    sched.clock.advance(hours=1)
    await sched.fire_due()
    run = await sched.run_of(created["id"])
    assert (run.status, run.reason, run.tries) == (SENDING, "minute_limit", 1)
    assert await sched.fire_due() == 0  # not before the minute is over
    sched.clock.advance(seconds=60)
    await sched.fire_due()
    run = await sched.run_of(created["id"])
    assert (run.status, run.reason) == (SUBMITTED, None)
    assert len(sched.fake.accepted(sched.account.appid)) == 1


async def test_no_quota_at_wechat_fails_the_run_and_frees_its_slot(sched: Harness):
    sched.fake.add_fault(Fault(path=SENDALL, errcode=45028, times=1))
    created = await sched.create(
        name="no quota", message=TEXT, audience=ALL, schedule={"at": "2026-12-01T11:00"}
    )
    assert (await sched.broadcasts.quota(sched.account, sched.clock.now)).reserved == 1
    sched.clock.advance(hours=1)
    await sched.fire_due()
    run = await sched.run_of(created["id"])
    assert (run.status, run.reason) == (FAILED, "no_quota")
    quota = await sched.broadcasts.quota(sched.account, sched.clock.now)
    assert (quota.used, quota.reserved) == (0, 0)
    assert sched.fake.accepted(sched.account.appid) == []


async def test_a_subscription_account_gets_one_broadcast_a_day(make_sched):
    sched = await make_sched("subscription")
    first = await sched.create(
        name="one", message=TEXT, audience=ALL, schedule={"at": "2026-12-01T20:00"}
    )
    with pytest.raises(QuotaFull) as refused:
        await sched.create(
            name="two", message=TEXT, audience={"kind": "tag", "tag_id": 101},
            schedule={"at": "2026-12-01T21:00"},
        )  # fmt: skip
    assert refused.value.next_allowed_at == datetime(2026, 12, 1, 16, 0, tzinfo=UTC)
    openids = {"kind": "openids", "openids": ["o_a", "o_b"]}
    await sched.create(
        name="list", message=TEXT, audience=openids, schedule={"at": "2026-12-01T21:00"}
    )
    quota = await sched.broadcasts.quota(sched.account, sched.clock.now)
    assert (quota.period, quota.used, quota.reserved, quota.limit) == ("2026-12-01", 0, 1, 1)

    doc = await sched.store.broadcast(sched.account.tenant_id, first["id"])
    assert doc is not None
    await sched.broadcasts.cancel(sched.account, doc)
    await sched.fire_due()  # the runner ends the cancelled run and frees its slot
    assert (await sched.run_of(first["id"])).status == CANCELLED
    await sched.create(name="two", message=TEXT, audience=ALL, schedule={"at": "2026-12-01T21:00"})
    sched.clock.advance(hours=11, minutes=1)
    await sched.fire_due()
    quota = await sched.broadcasts.quota(sched.account, sched.clock.now)
    assert (quota.used, quota.reserved) == (1, 0)
    targets = sorted(job.target for job in sched.fake.accepted(sched.account.appid))
    assert targets == ["all", "openids"]  # the cancelled one never went


async def test_a_sent_broadcast_cannot_be_cancelled_or_deleted(sched: Harness):
    created = await sched.create(
        name="gone", message=TEXT, audience=ALL, schedule={"at": "2026-12-01T11:00"}
    )
    sched.clock.advance(hours=1)
    await sched.fire_due()
    doc = await sched.store.broadcast(sched.account.tenant_id, created["id"])
    assert doc is not None
    with pytest.raises(Conflict, match="submitted"):
        await sched.broadcasts.cancel(sched.account, doc)
    with pytest.raises(Conflict, match="submitted"):
        await sched.broadcasts.delete(sched.account, doc)


async def test_a_cancel_that_loses_the_race_to_the_runner_is_refused(sched: Harness):
    created = await sched.create(
        name="race", message=TEXT, audience=ALL, schedule={"at": "2026-12-01T11:00"}
    )
    run = await sched.run_of(created["id"])
    assert await sched.store.decide(run.key, "send") == "send"  # the runner got there first
    doc = await sched.store.broadcast(sched.account.tenant_id, created["id"])
    assert doc is not None
    with pytest.raises(Conflict, match="sending"):
        await sched.broadcasts.cancel(sched.account, doc)


async def test_a_recurring_broadcast_plans_its_next_run_and_completes_after_until(sched: Harness):
    created = await sched.create(
        name="daily",
        message=TEXT,
        audience=ALL,
        schedule={"cron": "0 20 * * *", "until": "2026-12-02"},
    )
    assert created["next_run_at"] == "2026-12-01T12:00:00Z"
    sched.clock.advance(hours=10)
    await sched.fire_due()
    runs = await sched.runs_of(created["id"])
    assert [(r.run_id, r.status) for r in runs] == [
        ("r20261201T120000Z", SUBMITTED),
        ("r20261202T120000Z", "scheduled"),
    ]
    doc = await sched.store.broadcast(sched.account.tenant_id, created["id"])
    assert doc is not None
    assert (doc["status"], doc["next_run_at"]) == (
        "scheduled",
        datetime(2026, 12, 2, 12, tzinfo=UTC),
    )

    sched.clock.advance(days=1)
    await sched.fire_due()
    runs = await sched.runs_of(created["id"])
    assert [r.status for r in runs] == [SUBMITTED, SUBMITTED]
    assert len({r.batches[0].clientmsgid for r in runs}) == 2
    doc = await sched.store.broadcast(sched.account.tenant_id, created["id"])
    assert doc is not None
    assert (doc["status"], doc["next_run_at"]) == ("completed", None)


async def test_the_runs_of_a_page_of_broadcasts_come_in_one_query_as_they_would_one_by_one(
    sched: Harness,
):
    daily = await sched.create(
        name="daily", message=TEXT, audience=ALL, schedule={"cron": "0 20 * * *"}
    )
    once = await sched.create(
        name="once", message=TEXT, audience=ALL, schedule={"at": "2026-12-03T09:00"}
    )
    sched.clock.advance(hours=10)
    await sched.fire_due()  # daily's first run goes, its second is planned
    ids = [daily["id"], once["id"], "b00000000000000000000"]  # the last: no such broadcast

    each = await sched.store.runs_of_each(sched.account.tenant_id, ids)

    assert list(each) == ids
    assert each[daily["id"]] == await sched.runs_of(daily["id"])
    assert [r.run_id for r in each[daily["id"]]] == ["r20261201T120000Z", "r20261202T120000Z"]
    assert each[once["id"]] == await sched.runs_of(once["id"])
    assert len(each[once["id"]]) == 1
    assert each["b00000000000000000000"] == []
    assert await sched.store.runs_of_each(sched.account.tenant_id, []) == {}


async def test_a_missing_finish_report_is_asked_for_through_mass_get(make_sched):
    sched = await make_sched(finish_delay=0.0)
    created = await sched.create(
        name="quiet", message=TEXT, audience=ALL, schedule={"at": "2026-12-01T11:00"}
    )
    sched.clock.advance(hours=1)
    await sched.fire_due()
    assert (await sched.run_of(created["id"])).status == SUBMITTED
    sched.clock.advance(minutes=59)
    assert await sched.fire_due() == 0
    sched.clock.advance(minutes=1)
    await sched.fire_due()
    run = await sched.run_of(created["id"])
    assert run.status == FINISHED
    assert run.result() == {
        "status": "sent",
        "total": None,
        "filter": None,
        "sent": None,
        "error": None,
    }
    assert len(sched.fake.calls("/cgi-bin/message/mass/get", sched.account.appid)) == 1


async def test_a_long_openid_list_goes_in_batches_and_readers_get_four_a_month(sched: Harness):
    readers = [f"o_reader_{n:05d}" for n in range(20_001)]
    created = await sched.create(
        name="list",
        message=TEXT,
        audience={"kind": "openids", "openids": readers},
        schedule={"at": "2026-12-01T11:00"},
    )
    sched.clock.advance(hours=1)
    await sched.fire_due()
    run = await sched.run_of(created["id"])
    jobs = sched.fake.accepted(sched.account.appid)
    assert run.status == SUBMITTED
    assert sorted(job.total for job in jobs) == [2, 9_999, 10_000]
    assert len({b.clientmsgid for b in run.batches}) == 3
    assert sorted(run.msg_ids) == sorted(str(job.msg_id) for job in jobs)

    few = {"kind": "openids", "openids": ["o_reader_00000", "o_reader_00001", "o_new_1", "o_new_2"]}
    for n in range(4):
        when = f"2026-12-01T{12 + n}:00"
        created = await sched.create(
            name=f"again {n}", message=TEXT, audience=few, schedule={"at": when}
        )
        sched.clock.advance(hours=1)
        await sched.fire_due()
    run = await sched.run_of(created["id"])
    assert run.status == SUBMITTED
    assert sorted(run.over_limit) == ["o_reader_00000", "o_reader_00001"]  # a 5th this month
    assert sched.fake.accepted(sched.account.appid)[-1].total == 2


async def test_best_on_takes_the_hour_analytics_recommends(sched: Harness):
    default = await sched.create(
        name="default", message=TEXT, audience={"kind": "tag", "tag_id": 7},
        schedule={"best_on": "2026-12-03"},
    )  # fmt: skip
    assert default["next_run_at"] == "2026-12-03T12:00:00Z"  # 20:00 local
    handlers = handlers_of(sched)
    stamp = sched.clock.now.isoformat()
    advice = SendTimeAdvice(hour=9, basis="interactions", interactions=480)
    envelope = Envelope("advice-1", sched.account.tenant_id, advice.TYPE, stamp, stamp, "", advice)
    await handlers.send_time(Delivery(envelope))
    advised = await sched.create(
        name="advised", message=TEXT, audience={"kind": "tag", "tag_id": 7},
        schedule={"best_on": "2026-12-04"},
    )  # fmt: skip
    assert advised["next_run_at"] == "2026-12-04T01:00:00Z"  # 09:00 local


async def test_warnings_say_what_the_operators_guide_says(sched: Harness):
    late = await sched.create(
        name="late", message=TEXT, audience=ALL, schedule={"at": "2026-12-01T23:30"}
    )
    assert [w["code"] for w in late["warnings"]] == ["outside_reading_hours"]
    await sched.store.note(sched.account.tenant_id, "impact", {"lift": 2.6})
    for day in (2, 3, 4):
        created = await sched.create(
            name=f"day {day}", message=TEXT, audience=ALL, schedule={"at": f"2026-12-0{day}T20:00"}
        )
    assert sorted(w["code"] for w in created["warnings"]) == ["busy_week", "previous_lost_readers"]

    # A page's warnings, from one query of the runs around them all, are each broadcast's.
    tenant_id = sched.account.tenant_id
    far = await sched.create(
        name="far", message=TEXT, audience=ALL, schedule={"at": "2027-03-01T20:00"}
    )
    docs = await sched.store.broadcasts(tenant_id, status=None, limit=50, after=None)
    notes = await sched.store.notes(tenant_id)
    paged = await sched.broadcasts.warnings_of(sched.account, docs, notes)
    one_by_one = {
        doc["_id"]: await sched.broadcasts.warnings(
            sched.account, doc["next_run_at"], notes, doc["_id"]
        )
        for doc in docs
    }
    assert paged == one_by_one
    assert sorted(w["code"] for w in paged[created["id"]]) == ["busy_week", "previous_lost_readers"]
    assert "busy_week" not in [w["code"] for w in paged[far["id"]]]


async def test_a_run_looked_at_before_its_time_waits_for_it(sched: Harness):
    created = await sched.create(
        name="not yet", message=TEXT, audience=ALL, schedule={"at": "2026-12-01T11:00"}
    )
    [key] = await sched.due_keys()
    await sched.worker.look_at(key)  # an hour early, as a stray wake-up would
    assert sched.fake.accepted(sched.account.appid) == []
    assert (await sched.run_of(created["id"])).status == "scheduled"
    assert await sched.due_keys() == {key: datetime(2026, 12, 1, 3, 0, tzinfo=UTC)}
    sched.clock.advance(hours=1)
    await sched.fire_due()
    assert len(sched.fake.accepted(sched.account.appid)) == 1
