"""The bench's drift check: the peer measured again after the gateway scenarios says
whether the machine's speed moved while the gateway was measured."""

from __future__ import annotations

import pytest

from tests.bench.http_load import Result
from tests.bench.report import PEER, PEER_AFTER, Row, drift, drift_line


def peer_row(key: str, cpu_seconds: float, requests: int = 10_000) -> Row:
    result = Result(
        seconds=4.0,
        requests=requests,
        sent=requests,
        pool=4_000,
        replied=requests,
        non_2xx=0,
        socket_errors=0,
        p50_ms=9.0,
        p90_ms=10.0,
        p99_ms=15.0,
        max_ms=30.0,
        mean_ms=9.5,
    )
    return Row(key, key, key, result, {key: cpu_seconds})


def test_no_second_peer_no_drift() -> None:
    rows = {PEER: peer_row(PEER, 3.0)}

    assert drift(rows) is None
    assert drift_line(rows) is None


def test_a_steady_machine_is_said_so_without_a_warning() -> None:
    rows = {PEER: peer_row(PEER, 3.0), PEER_AFTER: peer_row(PEER_AFTER, 3.3)}

    assert drift(rows) == pytest.approx(1.1)  # 0.33 ms a request after, 0.30 before
    line = drift_line(rows)
    assert line is not None
    assert "0.300 ms a request before" in line
    assert "0.330 after (1.10×)" in line
    assert "run it again" not in line


def test_a_machine_that_slowed_or_sped_up_is_flagged() -> None:
    slowed = {PEER: peer_row(PEER, 3.0), PEER_AFTER: peer_row(PEER_AFTER, 4.5)}
    sped_up = {PEER: peer_row(PEER, 4.5), PEER_AFTER: peer_row(PEER_AFTER, 3.0)}

    for rows in (slowed, sped_up):
        line = drift_line(rows)
        assert line is not None
        assert "mix two machine speeds: run it again" in line
