"""The bench's note on what the machine did during a timed run: idle (waiting on I/O
included), stolen by the host, and stalled on I/O as a whole."""

from __future__ import annotations

from tests.bench.cpu import MachineWatch, machine_note

#          user nice system idle iowait irq softirq steal
BEFORE = [1000, 0, 200, 5000, 100, 0, 10, 50]


def test_shares_are_of_the_cpu_time_that_passed() -> None:
    after = [1600, 0, 300, 5150, 150, 0, 10, 150]  # 1,000 ticks: 200 idle or iowait, 100 stolen
    note = machine_note(BEFORE, after, 2_000_000, 8.0)
    assert note == "machine: idle 20%, stolen 10%, every task stalled on I/O 25%"


def test_without_pressure_files_the_stall_is_left_out() -> None:
    assert machine_note(BEFORE, BEFORE, None, 8.0) == "machine: idle 0%, stolen 0%"


def test_the_watch_reads_this_machine() -> None:
    assert MachineWatch.start().note().startswith("machine: idle ")
