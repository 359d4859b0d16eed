"""A day's digest and tally, the cache that keeps them while the day's leaves stay the
same, and the window made of digests, each checked against values counted by hand or
against the figures of the day made from all the facts at once."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

from services.analytics.digests import DayCache, DayDigest, digest, tally
from services.analytics.figures import day_figures
from services.analytics.reports import Window
from tests.unit.analytics.test_figures import ANSWERED, FACTS, reply, utc, wechat


def test_a_days_digest() -> None:
    made = digest("2026-12-02", FACTS)
    assert made.interactions == 7  # 3 messages, 3 clicks, 1 view; not the LOCATION
    assert made.readers == {"o1", "o4", "o5", "o6"}
    assert (made.follows, made.unfollows, made.net) == (2, 1, 1)
    assert made.last_interaction == utc(2, 8)  # the view; m4 at 16:10Z is the 3rd's
    # Wednesday (2): m1 at 09:00 local, m2 and m3 at 10:00, the clicks and the view after
    assert made.by_hour == ((2, 9, 1), (2, 10, 2), (2, 13, 1), (2, 14, 1), (2, 15, 1), (2, 16, 1))


def test_a_day_without_interactions() -> None:
    made = digest("2026-12-01", FACTS)  # o2's subscribe at 23:59 local
    assert (made.interactions, made.readers, made.by_hour) == (0, frozenset(), ())
    assert (made.last_interaction, made.follows) == (None, 1)


def test_the_cache_gives_a_day_back_only_for_the_same_leaves() -> None:
    cache = DayCache(DayDigest.size, 1 << 20)
    made = digest("2026-12-02", FACTS)
    cache.put("acme", "2026-12-02", frozenset({"f1/2026-12-02/a"}), made)
    assert cache.get("acme", "2026-12-02", frozenset({"f1/2026-12-02/a"})) is made
    assert cache.get("acme", "2026-12-02", frozenset({"f1/2026-12-02/a", "f2/x"})) is None
    assert cache.get("other", "2026-12-02", frozenset({"f1/2026-12-02/a"})) is None
    cache.put("acme", "2026-12-02", frozenset({"f1/2026-12-02/a", "f2/x"}), made)  # replaces
    assert len(cache) == 1
    assert cache.get("acme", "2026-12-02", frozenset({"f1/2026-12-02/a"})) is None


def test_the_cache_lets_the_days_used_longest_ago_go_past_its_budget() -> None:
    second, third = digest("2026-12-02", FACTS), digest("2026-12-03", FACTS)
    cache = DayCache(DayDigest.size, 2 * second.size() + third.size() - 1)
    cache.put("a", "2026-12-02", frozenset({"1"}), second)
    cache.put("b", "2026-12-03", frozenset({"1"}), third)
    assert cache.get("a", "2026-12-02", frozenset({"1"})) is second  # now the latest used
    cache.put("c", "2026-12-02", frozenset({"1"}), digest("2026-12-02", FACTS))  # b goes
    assert cache.get("b", "2026-12-03", frozenset({"1"})) is None
    assert cache.get("a", "2026-12-02", frozenset({"1"})) is second
    assert len(cache) == 2


def test_a_days_tally_gives_the_days_figures_once_later_replies_are_known() -> None:
    days = sorted({f.day for f in FACTS})
    tallies = {day: tally(day, FACTS) for day in days}
    late = frozenset[str]().union(*(t.late for t in tallies.values()))
    assert late == {"m2"}  # answered on the 3rd; m1 was answered on its own day
    for day in days:
        assert tallies[day].figures(late) == day_figures(day, FACTS, ANSWERED)
    assert tallies["2026-12-02"].counted.unanswered == 2  # m2, m3, until the 3rd is known
    assert tallies["2026-12-02"].figures(late).unanswered == 1  # m3
    # A reply days later, to m3, on a day of its own
    later = [*FACTS, reply("m3", "o4", "customer_service", utc(6, 2))]
    sixth = tally("2026-12-06", later)
    assert (sixth.late, len(sixth.open)) == (frozenset({"m3"}), 0)
    assert tallies["2026-12-02"].figures(late | sixth.late).unanswered == 0


def test_a_window_counts_readers_once_across_its_days() -> None:
    facts = [
        *FACTS,
        wechat("msg.text", utc(8, 2), "o1", id="m9"),  # the 8th: o1 again
        wechat("event.unsubscribe", utc(8, 3), "o2"),
    ]
    days = {day: digest(day, facts) for day in sorted({f.day for f in facts})}
    window = Window(date(2026, 12, 8), ZoneInfo("Asia/Shanghai"), days)
    assert window.readers(7) == 4  # o1, o4, o5, o6 on the 2nd; o5 on the 3rd, o1 on the 8th again
    assert window.readers(1) == 1
    assert window.interactions(6, 0) == 9  # the 2nd, 3rd and 8th: 7 + 1 + 1
    assert window.interactions(0, 0) == 1
    assert window.net_after("2026-12-01") == 0  # +2 -1 on the 2nd, -1 on the 8th
    assert window.last_interaction() == utc(8, 2)
    assert [d.day for d in window.since(6)] == ["2026-12-03", "2026-12-08"]
    assert all(isinstance(d, DayDigest) for d in window.days.values())
