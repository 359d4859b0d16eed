"""Whether the database just failed a step of the webhook path.

Once one step's bounded wait runs out (or the database refuses), the steps that can do
without it (credentials from the cache, the replay check) stop asking it for ``pause``
seconds: an outage costs a webhook one bounded wait, not one per step. After the pause,
the next webhook asks again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(slots=True)
class Breaker:
    pause: float = 5.0
    clock: Callable[[], float] = time.monotonic
    _open_until: float = field(default=0.0, init=False)

    def tripped(self) -> bool:
        return self.clock() < self._open_until

    def trip(self) -> None:
        self._open_until = self.clock() + self.pause
