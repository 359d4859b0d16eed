"""What the gateway's purge costs: ``python -m tests.bench.purge``.

Writes ``RECORDS`` dedup records and as many published notes through the real
``DedupStore`` and ``PublishedMarks``, in the tests' FerretDB, spread over ``SPAN``: the
dedup window and one slice, what the slices hold when the oldest of them expires. The
records are dated a day ago, so they sit in slices of their own, outside every live
window. Then it times the gateway's purge of both at the end of that span (the relay's,
as ``services/gateway/app.py`` wires it; it drops the oldest slice of each): wall time
and FerretDB's CPU, per record held. Last, a purge at the real time drops what is left.

Before the slices (``shared/platform/slices.py``), that purge was a delete filtered on the
records' time, which FerretDB answers by reading every row: 3.8 s of its CPU for 100,000
rows (38 µs a record held), 73 s for 300,000 (README, Benchmarks).
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

import uvloop

from services.gateway.dedup import SEEN, DedupStore
from services.gateway.marks import PublishedMarks
from shared.contracts.envelope import Envelope, iso
from shared.contracts.messages import WeChatMessage
from shared.platform.storage import mongo_client
from tests.bench.cpu import cpu_seconds, infra_pids
from tests.support.infra import mongodb_url

RECORDS = 50_000  # of each kind
WINDOW = timedelta(seconds=900)  # the gateway's default dedup window
SPAN = WINDOW.total_seconds() + SEEN.seconds  # what slices hold when the oldest expires
TENANT = "bench-purge"
Row = dict[str, float | str]


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


async def purge_rows() -> list[Row]:
    client = mongo_client(mongodb_url(), app_name="wxp-bench-purge")
    # a day ago, at the moment the oldest slice of the span leaves the window
    end = (time.time() - 86_400) // SEEN.seconds * SEEN.seconds + WINDOW.total_seconds()
    clock = Clock(end - SPAN)
    dedup, marks = (
        DedupStore(client, clock=clock),
        PublishedMarks(client, window=WINDOW, clock=clock),
    )
    step = SPAN / RECORDS
    seen = []
    for n in range(RECORDS):
        clock.now = end - SPAN + n * step
        at = iso(datetime.fromtimestamp(clock.now, UTC))
        payload = WeChatMessage("gh_bench", {"msg_id": str(n), "content": "hi"})
        envelope = Envelope(f"bench-purge-{n}", TENANT, "msg.text", at, at, "o_bench", payload)
        seen.append(dedup.first_sight(envelope))
        marks.add(envelope.id, TENANT)
    await asyncio.gather(*seen)
    await marks.flush()
    clock.now = end
    pid = infra_pids().get("FerretDB")
    spent = cpu_seconds(pid) if pid else 0.0
    started = time.perf_counter()
    await marks.purge(WINDOW)
    slices = await dedup.purge(WINDOW)
    wall = time.perf_counter() - started
    spent = cpu_seconds(pid) - spent if pid else float("nan")
    real = time.time  # then everything the bench wrote goes: its slices are a day old
    await DedupStore(client, clock=real).purge(WINDOW)
    await PublishedMarks(client, window=WINDOW, clock=real).purge(WINDOW)
    await client.close()
    return [
        {
            "scenario": "gateway purge, dedup records and published notes",
            "records": 2 * RECORDS,
            "dedup_slices_dropped": slices,
            "seconds": round(wall, 3),
            "ferretdb_cpu_seconds": round(spent, 3),
            "ferretdb_cpu_us_per_record": round(1e6 * spent / (2 * RECORDS), 2),
        }
    ]


def main() -> None:
    for row in uvloop.run(purge_rows()):
        print(", ".join(f"{key} {value}" for key, value in row.items()))


if __name__ == "__main__":
    main()
