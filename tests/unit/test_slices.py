"""Which time slice a record goes to, which slices a lookup reads, which a purge drops."""

from __future__ import annotations

from shared.platform.slices import TimeSlices

SLICES = TimeSlices("s_", 300.0)


def test_a_slice_holds_the_records_of_its_own_seconds() -> None:
    assert [SLICES.name(at) for at in (0.0, 299.9, 300.0, 1_790_000_123.0)] == [
        "s_0",
        "s_0",
        "s_1",
        "s_5966667",
    ]


def test_the_live_slices_cover_the_window_newest_first() -> None:
    # window 400 s at 1,000 s: records of 600-1,000 s, in slices 3 (900-1,200) down to 2
    assert SLICES.live(1_000.0, 400.0) == ["s_3", "s_2"]
    # one more second of window reaches into slice 1 (300-600)
    assert SLICES.live(1_000.0, 401.0) == ["s_3", "s_2", "s_1"]


def test_a_slice_expires_once_it_ended_before_the_window_and_others_are_left_alone() -> None:
    names = ["s_0", "s_1", "s_2", "s_3", "s_9", "s_x", "other", "s_"]
    # window 700 s at 1,000 s: from 300 s on. Slice 0 ended at 300: gone; slice 1 holds 301.
    assert SLICES.expired(names, 1_000.0, 700.0) == ["s_0"]
    assert SLICES.expired(names, 1_000.0, 699.0) == ["s_0"]
    assert SLICES.expired(names, 1_000.0, 400.0) == ["s_0", "s_1"]


def test_slices_of_a_clock_gone_wrong_expire_when_asked() -> None:
    names = ["s_3", "s_4", "s_9"]
    # slice 9 begins at 2,700 s: more than 1,000 s after 1,000 s
    assert SLICES.expired(names, 1_000.0, 400.0, ahead=1_000.0) == ["s_9"]
    assert SLICES.expired(names, 1_000.0, 400.0, ahead=1_700.0) == []
    assert SLICES.expired(names, 1_000.0, 400.0) == []
