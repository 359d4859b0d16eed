"""Backoff with full jitter and what may be retried (pure)."""

from __future__ import annotations

import random

import pytest

from shared.wechat.errors import InvalidToken, OutOfWindow, Transient
from shared.wechat.retry import RetryPolicy, delays, is_transient, may_retry


def test_the_ceiling_doubles_from_base_up_to_cap() -> None:
    assert delays(5, 0.1, 0.5, lambda: 1.0) == pytest.approx([0.1, 0.2, 0.4, 0.5])


def test_each_wait_is_the_random_fraction_of_its_ceiling() -> None:
    draws = iter([0.5, 0.25, 0.0])
    assert delays(4, 1.0, 10.0, lambda: next(draws)) == pytest.approx([0.5, 0.5, 0.0])


def test_one_attempt_never_waits() -> None:
    assert delays(1, 1.0, 1.0, random.random) == []
    assert delays(0, 1.0, 1.0, random.random) == []


def test_jittered_waits_stay_within_their_ceilings() -> None:
    rng = random.Random(7)
    for _ in range(200):
        waits = delays(6, 0.2, 1.0, rng.random)
        ceilings = [min(1.0, 0.2 * 2**n) for n in range(5)]
        assert len(waits) == 5
        assert all(0 <= w < c for w, c in zip(waits, ceilings, strict=True))


def test_only_transient_failures_are_transient() -> None:
    assert is_transient(Transient(-1, "system busy"))
    assert not is_transient(InvalidToken(40001, "invalid credential"))
    assert not is_transient(OutOfWindow(45015, "out of time limit"))
    assert not is_transient(TimeoutError())


def test_a_possibly_delivered_request_is_retried_only_when_idempotent() -> None:
    refused = Transient(-1, "system busy")
    timed_out = Transient(-2, "timeout", maybe_delivered=True)
    assert may_retry(refused, idempotent=False)
    assert may_retry(timed_out, idempotent=True)
    assert not may_retry(timed_out, idempotent=False)
    assert not may_retry(OutOfWindow(45015, "x"), idempotent=True)


def test_policy_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(attempts=0)
    with pytest.raises(ValueError, match="attempts"):
        RetryPolicy(base=-1.0)
