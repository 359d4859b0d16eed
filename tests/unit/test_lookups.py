"""The per-process lookup cache: bounded LRUs, found and missing apart. Pure."""

from __future__ import annotations

from shared.platform.lookups import LookupCache


def cache(capacity: int = 3) -> LookupCache[str]:
    return LookupCache(
        found_seconds=10.0,
        missing_seconds=1.0,
        found_capacity=capacity,
        missing_capacity=capacity,
    )


def test_found_and_missing_entries_last_their_own_time() -> None:
    entries = cache()
    entries.put("acme", "Asia/Shanghai", now=100.0)
    entries.put("gone", None, now=100.0)
    found, missing = entries.get("acme"), entries.get("gone")
    assert found is not None
    assert missing is not None
    assert (found.value, found.fresh(109.9), found.fresh(110.0)) == ("Asia/Shanghai", True, False)
    assert (missing.value, missing.fresh(100.9), missing.fresh(101.0)) == (None, True, False)


def test_misses_evict_only_misses() -> None:
    entries = cache(capacity=3)
    entries.put("acme", "z", now=0.0)
    for n in range(1_000):
        entries.put(f"random{n}", None, now=0.0)
    assert len(entries) == 4
    kept = entries.get("acme")
    assert kept is not None
    assert kept.value == "z"
    assert entries.get("random0") is None
    assert entries.get("random999") is not None


def test_the_least_recently_used_goes_first() -> None:
    entries = cache(capacity=2)
    entries.put("a", "1", now=0.0)
    entries.put("b", "2", now=0.0)
    assert entries.get("a") is not None  # a is now the most recent
    entries.put("c", "3", now=0.0)
    assert entries.get("b") is None
    assert entries.get("a") is not None
    assert entries.get("c") is not None


def test_a_stale_entry_is_kept_until_replaced_or_forgotten() -> None:
    entries = cache()
    entries.put("acme", "z", now=0.0)
    entry = entries.get("acme")
    assert entry is not None
    assert (entry.value, entry.fresh(20.0)) == ("z", False)
    entries.put("acme", None, now=30.0)  # now unknown: only the miss is kept
    again = entries.get("acme")
    assert again is not None
    assert again.value is None
    entries.forget("acme")
    assert entries.get("acme") is None
