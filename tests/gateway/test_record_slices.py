"""The gateway's dedup records and published notes in time slices, on the real database:
a retry meets its first record whichever replica or moment it reaches, a purge drops whole
slices past the window (and keeps the live ones), offboarding reaches every slice; and the
plaintext webhooks' signatures, by their timestamp."""

from __future__ import annotations

import secrets
import time
from datetime import UTC, datetime, timedelta

import pytest

from services.gateway.dedup import SEEN, DedupStore
from services.gateway.marks import NOTES, NOTES_DB, PublishedMarks
from services.gateway.replays import SIGNATURES, Check, ReplayGuard
from services.gateway.verify import Rejected
from shared.contracts.envelope import Envelope
from shared.contracts.messages import WeChatMessage
from shared.contracts.reply import PassiveAnswer
from shared.platform.storage import CONTROL_DB, Client
from tests.support.fakes import message

WINDOW = timedelta(seconds=900)


def event(seconds_ago: float, tenant: str = "t-slices") -> Envelope[WeChatMessage]:
    occurred = datetime.now(UTC) - timedelta(seconds=seconds_ago)
    return message(f"slices-{secrets.token_hex(6)}", tenant=tenant, occurred=occurred)


async def holds(mongo: Client, db: str, name: str, event_id: str) -> bool:
    return await mongo[db][name].find_one({"_id": event_id}) is not None


async def test_a_retry_meets_its_first_record_at_any_replica_and_any_later_moment(
    mongo: Client,
) -> None:
    first = message(f"slices-{secrets.token_hex(6)}", occurred=datetime.now(UTC))
    here = DedupStore(mongo)
    later = DedupStore(mongo, clock=lambda: time.time() + 600)  # two slices later
    assert await here.first_sight(first) is True
    assert await here.first_sight(first) is False
    assert await later.first_sight(first) is False
    slice_name = SEEN.name(datetime.now(UTC).timestamp())
    assert await holds(mongo, CONTROL_DB, slice_name, first.id)
    assert await later.seen_at(first) is not None


async def test_the_purge_drops_the_slices_past_the_window_and_keeps_the_live_ones(
    mongo: Client,
) -> None:
    store = DedupStore(mongo)
    old, live, wild = event(2_000), event(10), event(-3 * 86_400)  # wild: 3 days ahead
    for each in (old, live, wild):
        assert await store.first_sight(each) is True
    await mongo[CONTROL_DB][str(SEEN.legacy)].insert_one({"_id": "before-slices"})
    names = {
        e.id: SEEN.name(datetime.fromisoformat(e.occurred_at).timestamp())
        for e in (old, live, wild)
    }

    assert await store.purge(WINDOW) >= 2

    existing = set(await SEEN.existing(mongo[CONTROL_DB]))
    assert names[old.id] not in existing
    assert names[wild.id] not in existing
    assert SEEN.legacy not in await mongo[CONTROL_DB].list_collection_names()
    assert names[live.id] in existing
    assert await store.first_sight(live) is False  # still a retry: its record stayed
    assert await store.seen_at(old) is None  # forgotten with its slice


async def test_notes_are_found_in_any_live_slice_and_go_with_their_slice(mongo: Client) -> None:
    now = time.time()
    at = {"recent": now - 400, "old": now - 2_000}  # the recent one a slice or two back
    for label, when in at.items():
        writer = PublishedMarks(mongo, window=WINDOW, clock=lambda when=when: when)
        writer.add(f"note-{label}-{now}", "t-slices", PassiveAnswer())
        await writer.flush()
        assert await holds(mongo, NOTES_DB, NOTES.name(when), f"note-{label}-{now}")

    reader = PublishedMarks(mongo, window=WINDOW)  # another replica: nothing in its memory
    assert await reader.lookup(f"note-recent-{now}") is not None
    await reader.purge(WINDOW)
    assert NOTES.name(at["old"]) not in await NOTES.existing(mongo[NOTES_DB])
    assert NOTES.name(at["recent"]) in await NOTES.existing(mongo[NOTES_DB])
    assert await reader.lookup(f"note-recent-{now}") is not None
    assert await reader.lookup(f"note-old-{now}") is None


async def test_offboarding_forgets_a_tenants_records_in_every_slice(mongo: Client) -> None:
    store = DedupStore(mongo)
    tenant, other = f"t-gone-{secrets.token_hex(3)}", f"t-stays-{secrets.token_hex(3)}"
    gone = [event(ago, tenant) for ago in (0, 400, 800)]  # two or three slices
    stays = event(400, other)
    for each in (*gone, stays):
        assert await store.first_sight(each) is True

    await store.forget_tenant(tenant)

    for each in gone:
        assert await store.seen_at(each) is None
    assert await store.seen_at(stays) is not None


async def test_a_signature_is_remembered_in_its_timestamps_slice_until_no_longer_accepted(
    mongo: Client,
) -> None:
    guard = ReplayGuard(mongo, tolerance=300.0)
    tenant, now = f"t-sig-{secrets.token_hex(3)}", int(time.time())
    fresh, stale = (str(now), secrets.token_hex(4)), (str(now - 1_000), secrets.token_hex(4))
    assert await guard.check(tenant, *fresh, b"<xml>a</xml>") is Check.FIRST
    assert await guard.check(tenant, *fresh, b"<xml>a</xml>") is Check.RETRY
    with pytest.raises(Rejected):
        await guard.check(tenant, *fresh, b"<xml>forged</xml>")
    assert await guard.check(tenant, *stale, b"<xml>old</xml>") is Check.FIRST
    await mongo[CONTROL_DB][str(SIGNATURES.legacy)].insert_one({"_id": "before-slices"})

    assert await guard.purge() >= 1

    existing = await SIGNATURES.existing(mongo[CONTROL_DB])
    assert SIGNATURES.name(now - 1_000) not in existing
    assert SIGNATURES.name(now) in existing
    assert SIGNATURES.legacy not in await mongo[CONTROL_DB].list_collection_names()
    with pytest.raises(Rejected):  # still remembered: its timestamp is still accepted
        await guard.check(tenant, *fresh, b"<xml>forged</xml>")
