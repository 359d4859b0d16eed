"""A token bucket per API key: pure, with the clock passed in."""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass(slots=True)
class TokenBuckets:
    rate: float  # tokens per second
    burst: float
    _state: dict[str, tuple[float, float]] = field(default_factory=dict)  # key: (tokens, at)

    def take(self, key: str, now: float) -> float:
        """0 when the request may go ahead, else the seconds to wait before retrying."""
        tokens, at = self._state.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        if tokens >= 1:
            self._state[key] = (tokens - 1, now)
            return 0.0
        self._state[key] = (tokens, now)
        return (1 - tokens) / self.rate

    @staticmethod
    def retry_after(wait: float) -> str:
        return str(max(1, math.ceil(wait)))
