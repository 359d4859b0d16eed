"""Backoff with full jitter (pure: the random source is passed in)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from shared.wechat.errors import Transient


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``attempts`` tries in all; waits drawn from ``delays(attempts, base, cap, rand)``."""

    attempts: int = 3
    base: float = 0.2
    cap: float = 2.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.base < 0 or self.cap < 0:
            raise ValueError("attempts must be >= 1, base and cap >= 0")


def delays(attempts: int, base: float, cap: float, rand: Callable[[], float]) -> list[float]:
    """The waits between ``attempts`` tries: the n-th is uniform in [0, min(cap, base*2**n)).

    ``rand`` returns a float in [0, 1), like ``random.random``.
    """
    return [rand() * min(cap, base * 2**n) for n in range(max(attempts - 1, 0))]


def is_transient(exc: BaseException) -> bool:
    """True for failures that may pass when tried again (busy, 5xx, timeouts)."""
    return isinstance(exc, Transient)


def may_retry(exc: BaseException, *, idempotent: bool) -> bool:
    """Transient, and safe to repeat: not delivered, or the request is idempotent."""
    return isinstance(exc, Transient) and (idempotent or not exc.maybe_delivered)
