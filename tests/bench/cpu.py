"""CPU time of the processes under test, from /proc/<pid>/stat (utime + stime), and what the
machine itself did meanwhile: its idle and stolen CPU time (/proc/stat) and the time every
running task waited on I/O at once (/proc/pressure/io, "full"), which tell a slow run on a
busy host from a slow stack."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.infra import ROOT

INFRA_PID_FILES = {  # the local stack's (deploy/local); left out when not running
    "RabbitMQ": ROOT / "var" / "rabbitmq" / "rabbit.pid",  # beam.smp
    "FerretDB": ROOT / "var" / "run" / "ferretdb-test.pid",  # the tests' one, on 27018
}


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time so far (fields 14 and 15 of /proc/<pid>/stat)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()  # after "pid (comm)": fields[0] is field 3
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def infra_pids() -> dict[str, int]:
    """RabbitMQ's and FerretDB's pids, when deploy/local runs them."""
    pids = {}
    for name, path in INFRA_PID_FILES.items():
        try:
            pid = int(path.read_text().strip())
        except (OSError, ValueError):
            continue
        if Path(f"/proc/{pid}").exists():
            pids[name] = pid
    return pids


@dataclass(frozen=True, slots=True)
class CpuWatch:
    """CPU seconds a few processes spend between ``start`` and ``spent``."""

    pids: dict[str, int]
    started: dict[str, float]

    @classmethod
    def start(cls, pids: dict[str, int]) -> CpuWatch:
        return cls(pids=pids, started={name: cpu_seconds(pid) for name, pid in pids.items()})

    def spent(self) -> dict[str, float]:
        return {name: cpu_seconds(pid) - self.started[name] for name, pid in self.pids.items()}


def _machine_now() -> tuple[list[int], int | None]:
    """/proc/stat's CPU times (user nice system idle iowait irq softirq steal), and the
    microseconds of full I/O stall so far (None where the kernel has no pressure files)."""
    times = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    try:
        full = Path("/proc/pressure/io").read_text().splitlines()[1]
    except (OSError, IndexError):
        return times, None
    return times, int(full.rsplit("total=", 1)[1])


@dataclass(frozen=True, slots=True)
class MachineWatch:
    """The machine's idle, stolen and I/O-stalled shares of the time between ``start`` and
    ``note``."""

    times: list[int]
    stalled_us: int | None
    at: float

    @classmethod
    def start(cls) -> MachineWatch:
        times, stalled = _machine_now()
        return cls(times, stalled, time.monotonic())

    def note(self) -> str:
        times, stalled = _machine_now()
        full = None if stalled is None or self.stalled_us is None else stalled - self.stalled_us
        return machine_note(self.times, times, full, time.monotonic() - self.at)


def machine_note(
    before: list[int], after: list[int], stalled_us: int | None, elapsed: float
) -> str:
    """The note of a timed run: /proc/stat's CPU times ``before`` and ``after`` it (idle
    counts the time waiting on I/O too), and the microseconds of full I/O stall in its
    ``elapsed`` seconds (None: unknown)."""
    spent = [later - earlier for earlier, later in zip(before, after, strict=True)]
    total = max(sum(spent), 1)
    idle, steal = (spent[3] + spent[4]) / total, spent[7] / total
    line = f"machine: idle {idle:.0%}, stolen {steal:.0%}"
    if stalled_us is not None:
        line += f", every task stalled on I/O {stalled_us / 1e6 / max(elapsed, 1e-9):.0%}"
    return line
