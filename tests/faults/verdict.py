"""What a run proves, from what WeChat was answered, what reached the bus, and what the
replies service recorded and sent. Pure: the run gathers the facts, this judges them.

* Every webhook WeChat got a 2xx for (on any attempt) is on the bus; one whose every
  attempt failed is WeChat's loss, not ours, and is not required.
* No envelope id is on the bus twice, unless a kill excuses it: the webhooks in flight on
  a killed gateway (and the outbox entries claimed when it died), and those with an
  attempt while FerretDB was down; or a gateway published it without its dedup check, the
  database not answering in time (it logs each). A ``-fb`` or ``-sent`` id shares its
  event's excuse.
* At most one customer-service message per reader event, never on top of a passive
  reply; every send has its record in the sent log; every record ends in a final state
  (none stays ``sending``); every fallback a rule answers has its record.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from tests.faults.wechat import Attempt, Chain

FINAL = frozenset({"sent", "unknown", "outside_window", "quota_exhausted", "gave_up"})
SUFFIXES = ("-fb", "-sent")
SHOWN = 8  # ids listed per failure


def base_id(envelope_id: str) -> str:
    for suffix in SUFFIXES:
        if envelope_id.endswith(suffix):
            return envelope_id.removesuffix(suffix)
    return envelope_id


def final(status: str) -> bool:
    return status in FINAL or status.startswith("refused_")


@dataclass(frozen=True, slots=True)
class Excuse:
    """Event ids a fault may have published twice, and why."""

    cause: str
    ids: frozenset[str]


@dataclass(frozen=True, slots=True)
class Facts:
    chains: list[Chain]
    bus: Mapping[str, int]  # envelope id -> copies on the bus
    excuses: list[Excuse]
    sent_log: Mapping[str, str]  # event id -> status (replies_sent of every tenant)
    cs_sends: Mapping[str, int]  # openid -> customer-service messages WeChat took
    faults: int
    seed: int
    size: str = ""  # what, with the seed, replays the run: WXP_FAULTS_RATE=… and so on


@dataclass
class Verdict:
    seed: int
    size: str
    requests: int
    webhooks: int
    faults: int
    required: int
    published: int
    given_up: list[str]  # every attempt failed: WeChat gave up, so no event is owed
    lost: list[str]
    duplicates: dict[str, int]
    bound: int
    unexcused: dict[str, int]
    double_sends: list[str]
    double_replies: list[str]
    unrecorded_sends: list[str]
    stuck: list[str]
    odd_statuses: dict[str, str]
    unanswered_fallbacks: list[str]
    sends: int = 0
    statuses: Counter[str] = field(default_factory=Counter)
    excuses: dict[str, int] = field(default_factory=dict)  # cause -> ids it excuses
    excused: Counter[str] = field(default_factory=Counter)  # cause -> duplicates it explains

    @property
    def failures(self) -> list[str]:
        checks = [
            ("lost: answered 2xx, never on the bus", self.lost),
            ("duplicates no kill explains", list(self.unexcused)),
            ("more than one customer-service message for one event", self.double_sends),
            ("a passive reply and a customer-service message", self.double_replies),
            ("customer-service messages without a sent-log record", self.unrecorded_sends),
            ("sent-log records stuck in 'sending'", self.stuck),
            ("sent-log records in no final state", list(self.odd_statuses)),
            ("fallbacks a rule answers, never recorded", self.unanswered_fallbacks),
        ]
        return [f"{what} ({len(ids)}): {', '.join(ids[:SHOWN])}" for what, ids in checks if ids]

    def summary(self) -> str:
        bound = ", ".join(f"{n} {cause}" for cause, n in self.excuses.items()) or "no kill"
        explained = ", ".join(f"{n} {cause}" for cause, n in self.excused.items()) or "none"
        return (
            f"faults: seed={self.seed} {self.size} requests={self.requests} "
            f"webhooks={self.webhooks} "
            f"faults={self.faults} published={self.published}/{self.required} "
            f"duplicates={len(self.duplicates)}(bound {self.bound}: {bound}; "
            f"explained: {explained}; unexcused {len(self.unexcused)}) lost={len(self.lost)} "
            f"given_up={len(self.given_up)} cs_sends={self.sends} "
            f"stuck_sending={len(self.stuck)} double_replies={len(self.double_replies)}"
        )


def judge(facts: Facts) -> Verdict:
    chains = facts.chains
    required = {c.event_id for c in chains if c.answered}
    lost = sorted(required - set(facts.bus))
    duplicates = {i: n for i, n in facts.bus.items() if n > 1}
    excused_ids: set[str] = set().union(*(e.ids for e in facts.excuses))
    unexcused = {i: n for i, n in duplicates.items() if base_id(i) not in excused_ids}

    by_openid = {c.hook.openid: c for c in chains}
    by_id = {c.event_id: c for c in chains}
    double_sends = sorted(o for o, n in facts.cs_sends.items() if n > 1)
    double_replies = sorted(
        by_openid[o].event_id
        for o, n in facts.cs_sends.items()
        if n
        and o in by_openid
        and by_openid[o].replied
        and by_openid[o].event_id not in excused_ids
    )
    recorded_openids = {by_id[i].hook.openid for i in facts.sent_log if i in by_id}
    unrecorded = sorted(o for o, n in facts.cs_sends.items() if n and o not in recorded_openids)
    stuck = sorted(i for i, s in facts.sent_log.items() if s == "sending")
    odd = {i: s for i, s in facts.sent_log.items() if s != "sending" and not final(s)}
    fallbacks = {base_id(i) for i in facts.bus if i.endswith("-fb")}
    unanswered = sorted(
        i for i in fallbacks if i in by_id and by_id[i].hook.rule and i not in facts.sent_log
    )
    return Verdict(
        seed=facts.seed,
        size=facts.size,
        requests=sum(len(c.attempts) for c in chains),
        webhooks=len(chains),
        faults=facts.faults,
        required=len(required),
        published=len(required) - len(lost),
        given_up=sorted(c.event_id for c in chains if not c.answered),
        lost=lost,
        duplicates=duplicates,
        bound=len(excused_ids),
        unexcused=unexcused,
        double_sends=double_sends,
        double_replies=double_replies,
        unrecorded_sends=unrecorded,
        stuck=stuck,
        odd_statuses=odd,
        unanswered_fallbacks=unanswered,
        sends=sum(facts.cs_sends.values()),
        statuses=Counter(facts.sent_log.values()),
        excuses={e.cause: len(e.ids) for e in facts.excuses},
        excused=Counter(
            next(e.cause for e in facts.excuses if base_id(i) in e.ids)
            for i in duplicates
            if i not in unexcused
        ),
    )


def overlapping(chains: Iterable[Chain], start: float, end: float) -> frozenset[str]:
    """Ids of the webhooks with an attempt open at some moment of ``[start, end]``."""
    return frozenset(
        c.event_id for c in chains if any(_open_during(a, start, end) for a in c.attempts)
    )


def refused_on(chains: Iterable[Chain], replica: str, start: float, end: float) -> frozenset[str]:
    """Ids of the webhooks ``replica`` answered 503 to, with the attempt open at some
    moment of ``[start, end]``."""
    return frozenset(
        c.event_id
        for c in chains
        if any(
            a.replica == replica and a.status == 503 and _open_during(a, start, end)
            for a in c.attempts
        )
    )


def _open_during(attempt: Attempt, start: float, end: float) -> bool:
    """Was ``attempt`` open at some moment of ``[start, end]`` (one still open: ``ended``
    0.0)?"""
    return attempt.started <= end and (attempt.ended or end) >= start
