"""Which checks each kind of service needs to be ready: the gateway while either the
broker or the database can keep an event, a consumer only with its broker."""

from __future__ import annotations

import pytest

from shared.platform.edge import CONSUMER_READY, GATEWAY_READY, ReadyWhen


@pytest.mark.parametrize(
    ("broker", "database", "background", "gateway", "consumer"),
    [
        (True, True, True, True, True),
        (False, True, True, True, False),  # the outbox keeps events; nothing to consume
        (True, False, True, True, True),  # publishes without dedup; consumers go on
        (False, False, True, False, False),  # nowhere to keep an event
        (True, True, False, False, False),  # a background loop waits for its restart
    ],
)
def test_gateway_and_consumer_readiness(
    broker: bool, database: bool, background: bool, gateway: bool, consumer: bool
) -> None:
    checks = {"broker": broker, "database": database, "background": background}
    assert GATEWAY_READY.ready(checks) is gateway
    assert CONSUMER_READY.ready(checks) is consumer


def test_a_check_that_is_missing_counts_as_down() -> None:
    assert not ReadyWhen(all_of=("broker",)).ready({})
    assert not ReadyWhen(all_of=(), any_of=("broker", "database")).ready({"other": True})
    assert ReadyWhen(all_of=()).ready({})
