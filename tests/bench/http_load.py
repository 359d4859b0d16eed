"""Driving HTTP load with wrk (Debian's package; deploy/local/install-bench.sh installs it).

One thread and a fixed number of connections for a fixed time, as the issue measured;
``cycle.lua`` feeds wrk the pre-built requests and reports the latency percentiles,
the answers that were passive replies, and how many requests went out.

With a ``rate``, requests are sent at that rate on the whole (``PACE``): arrival times at
random, as from independent readers (exponential gaps), each taken by the next connection
to be free, which waits for it (wrk's ``delay()``, timed with the monotonic clock through
LuaJIT's FFI). The load is then what was asked, as long as 32 connections can carry it,
below what the server could take; so the latencies are those of a server at that rate, not
of one kept saturated (where, by Little's law, latency is simply connections ÷
throughput). wrk times each request from when it is sent, not from when it was due.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(__file__).with_name("cycle.lua")
MARK = "WXP_RESULT "
# Paced sending: the next arrival is GAP_MS on average after the last one (exponential
# gaps: a fixed pause per connection kept them in step, and a pause after each answer sent
# fewer requests than asked, the slower the answers the fewer). A connection free after an
# answer waits for the next arrival not yet taken. Arrivals more than a second overdue
# (every connection was busy) are given up, not sent in a burst.
PACE = """
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } wxp_timespec;
int clock_gettime(int clk_id, wxp_timespec *tp);
]]
local clock = ffi.new("wxp_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, clock)  -- CLOCK_MONOTONIC
  return tonumber(clock.tv_sec) * 1000 + tonumber(clock.tv_nsec) / 1e6
end
local next_at = nil
math.randomseed(os.time())
function delay()
  local now = now_ms()
  if next_at == nil or next_at < now - 1000 then
    next_at = now
  end
  local wait = next_at - now
  next_at = next_at - GAP_MS * math.log(1 - math.random())
  if wait <= 0 then
    return 0
  end
  return math.floor(wait)
end
"""


@dataclass(frozen=True, slots=True)
class Load:
    """How wrk drives a scenario."""

    seconds: float = 8.0
    connections: int = 32
    threads: int = 1
    timeout: float = 10.0  # a request unanswered this long is a socket error
    rate: float = 0.0  # requests a second, paced (PACE); 0: each connection sends on its answer

    @classmethod
    def paced(cls, rate: float, seconds: float, connections: int = 32) -> Load:
        """``rate`` requests a second, as long as ``connections`` can carry them."""
        return cls(seconds=seconds, connections=connections, rate=rate)


@dataclass(frozen=True, slots=True)
class Result:
    """What wrk saw over one run."""

    seconds: float
    requests: int  # completed
    sent: int  # begun; more than ``pool`` means requests were sent twice
    pool: int
    replied: int  # status 200 with a body other than ``success``
    non_2xx: int
    socket_errors: int  # connect, read, write and timeouts
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float

    @property
    def rps(self) -> float:
        return self.requests / self.seconds

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors

    @property
    def wrapped(self) -> bool:
        return self.sent > self.pool


def parse(output: str) -> Result:
    for line in output.splitlines():
        if line.startswith(MARK):
            raw = json.loads(line.removeprefix(MARK))
            return Result(
                seconds=raw["duration_us"] / 1e6,
                requests=raw["requests"],
                sent=raw["sent"],
                pool=raw["pool"],
                replied=raw["replied"],
                non_2xx=raw["status"],
                socket_errors=raw["connect"] + raw["read"] + raw["write"] + raw["timeout"],
                p50_ms=raw["p50_us"] / 1000,
                p90_ms=raw["p90_us"] / 1000,
                p99_ms=raw["p99_us"] / 1000,
                max_ms=raw["max_us"] / 1000,
                mean_ms=raw["mean_us"] / 1000,
            )
    raise RuntimeError(f"wrk printed no result line:\n{output}")


async def run_wrk(base: str, pool: Path, load: Load) -> Result:
    """Runs wrk against ``base`` over the requests in ``pool``; waits for it to finish."""
    script = SCRIPT
    if load.rate > 0:  # cycle.lua with a delay(); without one, wrk sets no timer at all
        script = pool.with_suffix(".paced.lua")
        script.write_text(SCRIPT.read_text() + PACE.replace("GAP_MS", f"{1000 / load.rate:.4f}"))
    argv = [
        "wrk",
        f"--threads={load.threads}",
        f"--connections={load.connections}",
        f"--duration={load.seconds:g}s",
        f"--timeout={load.timeout:g}s",
        f"--script={script}",
        base + "/",
        "--",
        str(pool),
    ]
    process = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT
    )
    out, _ = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"wrk exited {process.returncode}:\n{out.decode(errors='replace')}")
    return parse(out.decode(errors="replace"))
