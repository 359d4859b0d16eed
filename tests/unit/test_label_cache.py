"""Labelled metric children looked up once: the same child each time, apart per metric
and per label values, and counting what ``labels()`` would have counted."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

from shared.platform.metrics import LabelCache


def test_children_are_looked_up_once_and_count_as_labels_would() -> None:
    registry = CollectorRegistry()
    first = Counter("wxp_test_first_total", "first", ["kind"], registry=registry)
    second = Counter("wxp_test_second_total", "second", ["kind"], registry=registry)
    child = LabelCache()

    assert child(first, "text") is child(first, "text")
    assert child(first, "text") is not child(first, "event")
    assert child(first, "text") is not child(second, "text")
    child(first, "text").inc()
    child(first, "text").inc(2)
    child(second, "text").inc()
    assert registry.get_sample_value("wxp_test_first_total", {"kind": "text"}) == 3
    assert registry.get_sample_value("wxp_test_second_total", {"kind": "text"}) == 1
    assert registry.get_sample_value("wxp_test_first_total", {"kind": "event"}) == 0
