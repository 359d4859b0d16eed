"""Growth and retention by channel (the ``qrscene_`` value of a subscriber's latest
subscribe, ``other`` without one). Pure: the facts and the readers' follow states in,
one row per channel out."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from services.analytics.facts import FOLLOW, UNFOLLOW, Fact
from services.analytics.figures import channel_of

RETENTION = timedelta(days=7)


@dataclass(frozen=True, slots=True)
class Reader:
    """A reader's latest follow event: whether they follow, and their channel."""

    following: bool
    channel: str


def channel_rows(
    facts: Sequence[Fact],
    active: Collection[str],
    readers: Mapping[str, Reader],
    *,
    first: date,
    last: date,
    today: date,
) -> list[dict[str, Any]]:
    """``[{channel, new, lost, retained_7d_rate, active_30d_rate}]`` for subscribes and
    unsubscribes from ``first`` to ``last`` (``facts``: those to 7 days after ``last``;
    facts of other kinds are left out): retained = subscribed on D and not unsubscribed
    by D+7 (only subscribes at least 7 days old count); active = following readers of the
    channel in ``active`` (those with an interaction in the 30 days to ``today``)."""
    lo, hi = first.isoformat(), last.isoformat()
    unfollows: dict[str, list[Fact]] = defaultdict(list)
    for fact in facts:
        if fact.kind == UNFOLLOW:
            unfollows[fact.openid].append(fact)
    new: dict[str, int] = defaultdict(int)
    lost: dict[str, int] = defaultdict(int)
    cohort: dict[str, list[bool]] = defaultdict(list)
    for fact in facts:
        if not lo <= fact.day <= hi:
            continue
        if fact.kind == FOLLOW:
            channel = channel_of(fact.key)
            new[channel] += 1
            if date.fromisoformat(fact.day) + RETENTION <= today:
                left = any(fact.at < u.at <= fact.at + RETENTION for u in unfollows[fact.openid])
                cohort[channel].append(not left)
        elif fact.kind == UNFOLLOW:
            reader = readers.get(fact.openid)
            lost[reader.channel if reader else "other"] += 1
    following: dict[str, list[bool]] = defaultdict(list)
    for openid, reader in readers.items():
        if reader.following:
            following[reader.channel].append(openid in active)
    channels = sorted(set(new) | set(lost) | set(following))
    return [
        {
            "channel": channel,
            "new": new[channel],
            "lost": lost[channel],
            "retained_7d_rate": _share(cohort[channel]),
            "active_30d_rate": _share(following[channel]),
        }
        for channel in channels
    ]


def _share(flags: Sequence[bool]) -> float | None:
    return round(sum(flags) / len(flags), 4) if flags else None


def readers_of(docs: Sequence[Mapping[str, Any]]) -> dict[str, Reader]:
    """Reader states as ``analytics_readers`` keeps them."""
    return {
        str(doc["_id"]): Reader(doc.get("follow") == FOLLOW, channel_of(doc.get("channel")))
        for doc in docs
    }
