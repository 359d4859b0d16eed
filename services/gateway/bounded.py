"""Database calls on the webhook path, bounded so that WeChat never waits past 5 s."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar

from shared.platform.storage import UNAVAILABLE

T = TypeVar("T")
DATABASE_BOUND = 1.0  # seconds: what one database call on the webhook path may take


class DatabaseSlow(Exception):
    """The database did not answer within the time the webhook can spare."""


@dataclass(frozen=True, slots=True)
class Bounded:
    seconds: float = DATABASE_BOUND

    async def __call__(self, work: Awaitable[T]) -> T:
        try:
            if isinstance(work, asyncio.Future):  # an answer another task works out
                answer: asyncio.Future[T] = work
                async with asyncio.timeout(self.seconds):
                    return await answer
            # wait_for, not asyncio.timeout: pymongo turns a cancelled read into a
            # connection error, which wait_for's own task keeps from the caller.
            return await asyncio.wait_for(work, self.seconds)
        except TimeoutError:
            raise DatabaseSlow(f"no answer in {self.seconds}s") from None
        except UNAVAILABLE as exc:
            raise DatabaseSlow(str(exc)) from None
