"""The garbage collector's pauses as a histogram by generation, and the start-up freeze
that keeps full collections short. The running services' scrapes are checked in
tests/deploy/test_metric_names.py."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry

from shared.platform.metrics import GcPauses, gc_pauses, new_registry
from shared.platform.service import YOUNG_COLLECTION, freeze_heap


@pytest.fixture
def unfrozen() -> Iterator[None]:
    thresholds = gc.get_threshold()
    gc.unfreeze()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def sample(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_pauses_land_in_their_buckets_by_generation() -> None:
    pauses = GcPauses(buckets=(0.001, 0.01))
    registry = CollectorRegistry()
    registry.register(pauses)

    pauses.record(0, 0.0002)
    pauses.record(0, 0.001)  # on a bound: counted in it (le)
    pauses.record(0, 0.004)
    pauses.record(2, 0.060)

    def bucket(generation: str, le: str) -> float | None:
        return sample(registry, "wxp_gc_pause_seconds_bucket", generation=generation, le=le)

    assert [bucket("0", le) for le in ("0.001", "0.01", "+Inf")] == [2, 3, 3]
    assert [bucket("2", le) for le in ("0.001", "0.01", "+Inf")] == [0, 0, 1]
    assert sample(registry, "wxp_gc_pause_seconds_count", generation="1") == 0
    assert sample(registry, "wxp_gc_pause_seconds_sum", generation="0") == pytest.approx(0.0052)
    assert sample(registry, "wxp_gc_pause_seconds_sum", generation="2") == pytest.approx(0.060)


def test_the_process_collector_counts_real_collections_in_every_registry() -> None:
    first, second = new_registry(), new_registry()
    assert gc_pauses() is gc_pauses()
    assert gc.callbacks.count(gc_pauses().callback) == 1
    before = sample(first, "wxp_gc_pause_seconds_count", generation="2") or 0.0

    gc.collect()

    for registry in (first, second):
        after = sample(registry, "wxp_gc_pause_seconds_count", generation="2") or 0.0
        assert after >= before + 1


async def test_start_up_freezes_the_heap_and_the_gauge_says_so(unfrozen: None) -> None:
    registry = new_registry()
    assert sample(registry, "wxp_gc_frozen_objects") == 0
    kept = [object() for _ in range(10)]  # something start-up built

    await freeze_heap(web.Application())

    frozen = sample(registry, "wxp_gc_frozen_objects") or 0.0
    assert frozen >= len(kept)
    assert frozen == gc.get_freeze_count()


async def test_start_up_sets_the_young_generation_to_collect_less_often(unfrozen: None) -> None:
    registry = new_registry()
    _, older, oldest = gc.get_threshold()

    await freeze_heap(web.Application())

    assert gc.get_threshold() == (YOUNG_COLLECTION, older, oldest)
    before = sample(registry, "wxp_gc_pause_seconds_count", generation="0") or 0.0
    _in_flight = [{} for _ in range(YOUNG_COLLECTION // 2)]  # alive, as requests in flight
    # At Python's 700 these would have started several young collections.
    assert (sample(registry, "wxp_gc_pause_seconds_count", generation="0") or 0.0) == before
