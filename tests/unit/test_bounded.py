"""The webhook path's bound on a database answer: a coroutine (a pymongo call) waits in a
task of its own, an answer another task works out (the dedup's group commit) is awaited
as it is; either way a slow or unreachable database is DatabaseSlow."""

from __future__ import annotations

import asyncio
import time

import pytest
from pymongo.errors import AutoReconnect

from services.gateway.bounded import Bounded, DatabaseSlow


async def test_an_answer_in_time_is_returned() -> None:
    answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
    asyncio.get_running_loop().call_later(0.01, answer.set_result, True)
    assert await Bounded(1.0)(answer) is True


async def test_an_answer_too_late_is_given_up_at_the_bound_and_dropped() -> None:
    answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
    started = time.monotonic()
    with pytest.raises(DatabaseSlow, match=r"no answer in 0\.05s"):
        await Bounded(0.05)(answer)
    assert 0.04 <= time.monotonic() - started < 0.5
    assert answer.cancelled()  # the group commit skips an answer nobody waits for


async def test_an_unreachable_database_in_an_answer_is_database_slow() -> None:
    answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
    answer.set_exception(AutoReconnect("connection refused"))
    with pytest.raises(DatabaseSlow, match="connection refused"):
        await Bounded(1.0)(answer)


async def test_a_coroutine_too_slow_is_given_up_at_the_bound() -> None:
    with pytest.raises(DatabaseSlow):
        await Bounded(0.05)(asyncio.sleep(5))


async def test_a_bound_that_ends_spares_an_outer_deadline() -> None:
    """The bound's own timeout is told apart from a caller's: the caller's still ends
    its wait with its own TimeoutError."""
    answer: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.02):
            await Bounded(1.0)(answer)
