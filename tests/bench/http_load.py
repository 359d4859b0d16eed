"""Driving HTTP load with wrk (Debian's package; deploy/local/install-bench.sh installs it).

One thread and a fixed number of connections for a fixed time, as the issue measured;
``cycle.lua`` feeds wrk the pre-built requests and reports the latency percentiles,
the answers that were passive replies, and how many requests went out.

With ``think_ms``, each connection waits about that long (``PAUSE``) after an answer before
its next request (wrk's ``delay()``): the load is then about ``connections / think`` requests
per second, below what the server could take, so the latencies are those of a server at that
rate, not of one kept saturated (where, by Little's law, latency is simply connections
÷ throughput).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from pathlib import Path

SCRIPT = Path(__file__).with_name("cycle.lua")
MARK = "WXP_RESULT "
# A paced connection's pause, in whole ms, drawn from an exponential distribution of mean
# THINK_MS: a fixed pause would keep the connections in step, all 32 arriving together
# after each pause, and measure bursts; random pauses spread them as independent readers.
PAUSE = """
math.randomseed(os.time())
function delay()
  return math.floor(-THINK_MS * math.log(1 - math.random()))
end
"""


@dataclass(frozen=True, slots=True)
class Load:
    """How wrk drives a scenario."""

    seconds: float = 8.0
    connections: int = 32
    threads: int = 1
    timeout: float = 10.0  # a request unanswered this long is a socket error
    think_ms: float = 0.0  # a connection's pause between an answer and its next request

    @classmethod
    def paced(cls, rate: float, seconds: float, connections: int = 32) -> Load:
        """About ``rate`` requests per second (less the time each takes to answer)."""
        return cls(seconds=seconds, connections=connections, think_ms=1000 * connections / rate)


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
            )
    raise RuntimeError(f"wrk printed no result line:\n{output}")


async def run_wrk(base: str, pool: Path, load: Load) -> Result:
    """Runs wrk against ``base`` over the requests in ``pool``; waits for it to finish."""
    script = SCRIPT
    if load.think_ms > 0:  # cycle.lua with a delay(); without one, wrk sets no timer at all
        script = pool.with_suffix(".paced.lua")
        script.write_text(SCRIPT.read_text() + PAUSE.replace("THINK_MS", f"{load.think_ms:.3f}"))
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
