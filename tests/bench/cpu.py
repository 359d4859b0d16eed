"""CPU time of the processes under test, from /proc/<pid>/stat (utime + stime)."""

from __future__ import annotations

import os
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
