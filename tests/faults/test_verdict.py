"""The run's judge on made-up facts: it fails what breaks the promises, and only that."""

from __future__ import annotations

from tests.faults.inject import unchecked
from tests.faults.plan import Size, Webhook, make_plan
from tests.faults.verdict import Excuse, Facts, judge, overlapping, refused_on
from tests.faults.wechat import Attempt, Chain


def chain(n: int, *statuses: int | None, rule: bool = False, replied: bool = False) -> Chain:
    hook = Webhook(n, 0.0, 0, "text", {}, f"o_{n}", str(n), True, rule)
    attempts = [
        Attempt("gateway-a", started=float(i), ended=float(i) + 0.1, status=s, replied=replied)
        for i, s in enumerate(statuses)
    ]
    return Chain(hook, "t1", f"e{n}", attempts)


def facts(chains: list[Chain], bus: dict[str, int], **extra) -> Facts:
    values = {"excuses": [], "sent_log": {}, "cs_sends": {}, "faults": 7, "seed": 1}
    return Facts(chains=chains, bus=bus, **{**values, **extra})


def test_an_answered_webhook_missing_from_the_bus_is_lost_even_after_a_503():
    verdict = judge(facts([chain(1, 503, 200), chain(2, 200)], {"e2": 1}))
    assert verdict.lost == ["e1"]
    assert len(verdict.failures) == 1
    assert verdict.failures[0].startswith("lost")


def test_a_webhook_whose_every_attempt_failed_is_not_required():
    verdict = judge(facts([chain(1, 503, None, 503), chain(2, 200)], {"e2": 1}))
    assert verdict.lost == []
    assert verdict.given_up == ["e1"]
    assert verdict.required == 1
    assert verdict.failures == []


def test_a_duplicate_fails_unless_a_kill_excuses_it_and_derived_ids_share_the_excuse():
    chains = [chain(1, 200), chain(2, 200)]
    bus = {"e1": 2, "e1-fb": 2, "e2": 2}
    verdict = judge(facts(chains, bus, excuses=[Excuse("in flight", frozenset({"e1"}))]))
    assert set(verdict.duplicates) == {"e1", "e1-fb", "e2"}
    assert verdict.unexcused == {"e2": 2}
    assert verdict.bound == 1
    assert verdict.excused == {"in flight": 2}
    assert "duplicates=3(bound 1: 1 in flight; explained: 2 in flight; unexcused 1)" in (
        verdict.summary()
    )


def test_reply_effects_once_and_recorded_in_a_final_state():
    chains = [
        chain(1, 200, rule=True),  # sent twice
        chain(2, 200, rule=True, replied=True),  # a passive reply and a message
        chain(3, 200, rule=True),  # a send without a record
        chain(4, 200, rule=True),  # a fallback a rule answers, never recorded
        chain(5, 200, rule=True),  # stuck
        chain(6, 200, rule=True),  # refused: final
    ]
    bus = {f"e{n}": 1 for n in range(1, 7)} | {"e4-fb": 1, "e6-fb": 1}
    verdict = judge(
        facts(
            chains,
            bus,
            sent_log={"e1": "sent", "e2": "sent", "e5": "sending", "e6": "refused_out_of_window"},
            cs_sends={"o_1": 2, "o_2": 1, "o_3": 1},
        )
    )
    assert verdict.double_sends == ["o_1"]
    assert verdict.double_replies == ["e2"]
    assert verdict.unrecorded_sends == ["o_3"]
    assert verdict.unanswered_fallbacks == ["e4"]
    assert verdict.stuck == ["e5"]
    assert verdict.odd_statuses == {}
    assert len(verdict.failures) == 5


def test_overlapping_takes_the_attempts_open_in_the_window():
    chains = [chain(1, 200), chain(2, 503, 200), chain(3, None)]
    chains[2].attempts[0].ended = 0.0  # still open when the run looked
    assert overlapping(chains, 0.95, 1.05) == frozenset({"e2", "e3"})
    assert overlapping(chains, 0.2, 0.5) == frozenset({"e3"})


def test_refused_on_takes_the_503s_of_one_replica_in_the_window():
    chains = [chain(1, 503, 200), chain(2, 200, 503), chain(3, 503)]
    chains[2].attempts[0].replica = "gateway-b"
    assert refused_on(chains, "gateway-a", 0.0, 0.5) == frozenset({"e1"})
    assert refused_on(chains, "gateway-a", 0.0, 1.5) == frozenset({"e1", "e2"})
    assert refused_on(chains, "gateway-b", 0.0, 1.5) == frozenset({"e3"})


def test_the_seed_fixes_the_plan():
    size = Size(rate=5.0, step_seconds=2.0)
    first, again, other = make_plan(7, size), make_plan(7, size), make_plan(8, size)
    assert first == again
    assert first != other
    assert {f.kind for f in first.faults} == {
        "latency",
        "blackhole",
        "cut",
        "broker",
        "ferretdb",
        "kill_gateway",
        "kill_replies",
    }
    assert all(h.at < first.duration for h in first.webhooks)
    assert len({h.openid for h in first.webhooks}) == len(first.webhooks)


def test_unchecked_takes_the_ids_a_gateway_published_without_its_dedup_check():
    logs = [
        '{"msg": "no dedup for 39dfbc860b018764d68c5e1804745dde (no answer in 1.0s); '
        'publishing it anyway"}\n'
        '{"msg": "keeping 5800d480fa633c150fe4ac686276d909 for the relay: no broker link"}',
        '{"msg": "no record of 3a1e95b26a7343e654a807f1b8dd681a for its retry (timed out); '
        'publishing it"}',
    ]
    assert unchecked(logs) == {
        "39dfbc860b018764d68c5e1804745dde",
        "3a1e95b26a7343e654a807f1b8dd681a",
    }
    assert unchecked([]) == frozenset()
