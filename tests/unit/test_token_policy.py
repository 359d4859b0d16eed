"""When a stored token is used, refreshed, or waited for (pure)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from shared.wechat.token_policy import (
    Freshness,
    IssuedToken,
    Need,
    TokenPolicy,
    TokenRecord,
    freshness,
    lease_is_stale,
    new_record,
    next_generation,
    poll_delay,
    refresh_at,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def record(lifetime: float = 7200, value: str = "tok", generation: int = 1) -> TokenRecord:
    return new_record(IssuedToken(value, int(lifetime)), requested_at=T0, generation=generation)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_lifetime_counts_from_when_the_request_left() -> None:
    r = record(7200)
    assert (r.fetched_at, r.expires_at, r.generation) == (T0, at(7200), 1)


@pytest.mark.parametrize("issued", [IssuedToken("", 7200), IssuedToken("t", 0)])
def test_a_token_answer_without_token_or_lifetime_is_refused(issued: IssuedToken) -> None:
    with pytest.raises(ValueError, match="access_token"):
        new_record(issued, requested_at=T0, generation=1)


def test_default_policy_refreshes_five_minutes_before_expiry() -> None:
    assert refresh_at(record(7200), TokenPolicy()) == at(7200 - 300)


def test_short_lifetimes_keep_at_least_half_their_life_before_refresh() -> None:
    assert refresh_at(record(3), TokenPolicy()) == at(1.5)
    assert refresh_at(record(3), TokenPolicy(margin_seconds=1)) == at(2)
    assert refresh_at(record(3), TokenPolicy(margin_seconds=0)) == at(3)


def test_freshness_moves_from_fresh_to_due_to_expired() -> None:
    policy = TokenPolicy(margin_seconds=1)
    r = record(3)
    assert freshness(None, T0, policy) is Freshness.EXPIRED
    assert freshness(r, at(0), policy) is Freshness.FRESH
    assert freshness(r, at(1.999), policy) is Freshness.FRESH
    assert freshness(r, at(2), policy) is Freshness.DUE
    assert freshness(r, at(2.999), policy) is Freshness.DUE
    assert freshness(r, at(3), policy) is Freshness.EXPIRED


def test_a_plain_need_uses_fresh_tokens_and_tolerates_due_ones() -> None:
    policy = TokenPolicy(margin_seconds=1)
    need, r = Need(), record(3)

    def verdict(rec: TokenRecord | None, seconds: float) -> tuple[bool, bool]:
        return need.satisfied(rec, at(seconds), policy), need.tolerable(rec, at(seconds), policy)

    assert verdict(r, 1) == (True, True)
    assert verdict(r, 2.5) == (False, True)
    assert verdict(r, 3) == (False, False)
    assert verdict(None, 0) == (False, False)


def test_a_rejected_token_is_never_good_enough_however_fresh() -> None:
    policy = TokenPolicy()
    refused = Need(rejected="tok")
    assert not refused.satisfied(record(value="tok"), T0, policy)
    assert not refused.tolerable(record(value="tok"), T0, policy)
    assert refused.satisfied(record(value="newer"), T0, policy)


def test_generations_count_up_from_one() -> None:
    assert next_generation(None) == 1
    assert next_generation(record(generation=4)) == 5


def test_a_lease_is_stale_only_after_its_time() -> None:
    policy = TokenPolicy(lease_seconds=30)
    assert not lease_is_stale(T0, at(30), policy)
    assert lease_is_stale(T0, at(30.001), policy)


def test_polls_are_jittered_around_the_poll_interval() -> None:
    policy = TokenPolicy(poll_seconds=0.1)
    rng = random.Random(3)
    waits = [poll_delay(policy, rng.random) for _ in range(100)]
    assert all(0.05 <= w < 0.15 for w in waits)
    assert len(set(waits)) > 50


def test_policy_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="fraction"):
        TokenPolicy(max_margin_fraction=1.0)
    with pytest.raises(ValueError, match="negative"):
        TokenPolicy(lease_seconds=-1)
