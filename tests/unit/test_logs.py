"""What a log line may echo of a request: clipped, with a marker saying how much."""

from __future__ import annotations

from shared.platform.logs import CLIP, clip


def test_short_text_is_echoed_whole() -> None:
    assert clip("/wx/acme") == "/wx/acme"
    assert clip("x" * CLIP) == "x" * CLIP


def test_long_text_is_cut_with_a_marker() -> None:
    clipped = clip("/wx/" + "x" * 130_000)
    assert clipped.startswith("/wx/xxx")
    assert clipped.endswith("…[129804 more chars]")
    assert len(clipped) < CLIP + 30


def test_anything_is_clipped_as_its_text() -> None:
    assert clip(ValueError("y" * 500), limit=10) == "yyyyyyyyyy…[490 more chars]"
