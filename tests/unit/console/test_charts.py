"""The charts page's shaping of analytics' answers into chart series, tables and the heat
map: pure functions, no services."""

from __future__ import annotations

from datetime import UTC, date, datetime

from services.gateway.console.charts_series import (
    active,
    channels,
    drawn,
    followers,
    impacts,
    noon,
    totals,
    when,
)
from services.gateway.console.charts_view import (
    Answers,
    Cell,
    heat_level,
    heat_map,
    page_context,
    range_of,
    ratio,
    span,
)
from services.gateway.console.numbers import percent


def day(d: str, new: int = 0, lost: int = 0, readers: int = 0) -> dict[str, object]:
    return {"date": d, "new": new, "lost": lost, "net": new - lost, "active_readers": readers}


DAYS = [day("2026-03-01", new=2), day("2026-03-02", new=1, lost=1, readers=3), day("2026-03-03")]


def test_the_range_is_7_30_or_90_days_and_30_otherwise() -> None:
    assert [range_of(raw) for raw in ("7", "30", "90")] == [7, 30, 90]
    assert [range_of(raw) for raw in (None, "", "8", "-7", "90 ", "x")] == [30] * 6


def test_the_span_ends_today_in_the_accounts_timezone() -> None:
    late = datetime(2026, 3, 1, 17, 30, tzinfo=UTC)  # already 2 March in Shanghai
    assert span(late, "Asia/Shanghai", 7) == (date(2026, 2, 24), date(2026, 3, 2))
    assert span(late, "America/New_York", 1) == (date(2026, 3, 1), date(2026, 3, 1))


def test_a_day_is_drawn_at_its_noon_utc() -> None:
    assert noon("2026-03-01") == int(datetime(2026, 3, 1, 12, tzinfo=UTC).timestamp())


def test_followers_and_active_readers_by_day() -> None:
    x = [noon(d) for d in ("2026-03-01", "2026-03-02", "2026-03-03")]
    assert followers(DAYS) == {"x": x, "new": [2, 1, 0], "lost": [0, 1, 0], "net": [2, 0, 0]}
    assert active(DAYS) == {"x": x, "active": [0, 3, 0]}
    assert totals(DAYS) == {"new": 3, "lost": 1, "net": 2, "peak_active": 3}
    assert totals([]) == {"new": 0, "lost": 0, "net": 0, "peak_active": 0}


def test_only_non_zero_values_count_as_drawn() -> None:
    assert drawn(followers(DAYS), "new", "lost") == 3
    assert drawn(followers([day("2026-03-01")]), "new", "lost") == 0
    assert drawn(impacts([]), "unfollows", "baseline") == 0


def test_channels_busiest_first_by_name() -> None:
    rows = [
        {"channel": "other", "new": 1, "lost": 1, "retained_7d_rate": None},
        {"channel": "store-42", "new": 2, "lost": 0, "retained_7d_rate": 1.0},
        {"channel": "poster", "new": 1, "lost": 0, "retained_7d_rate": 0.5},
    ]
    assert channels(rows) == {
        "x": [0, 1, 2],
        "names": ["store-42", "other", "poster"],
        "new": [2, 1, 1],
        "lost": [0, 1, 0],
    }


def test_broadcast_impacts_in_the_order_they_were_sent() -> None:
    rows = [
        {"submitted_at": "2026-03-02T08:00:00Z", "unfollows_24h": 0, "baseline_24h": None},
        {"submitted_at": "2026-03-01T12:30:00Z", "unfollows_24h": 3, "baseline_24h": 1 / 14},
    ]
    assert impacts(rows) == {
        "x": [0, 1],
        "names": ["2026-03-01 12:30 UTC", "2026-03-02 08:00 UTC"],
        "unfollows": [3, 0],
        "baseline": [0.071, None],
    }
    assert when("2026-03-01T12:30:00.123+00:00") == "2026-03-01 12:30 UTC"


def test_rates_and_ratios_as_text() -> None:
    assert [percent(r) for r in (None, 0, 2 / 3, 1)] == ["—", "0.0%", "66.7%", "100.0%"]
    assert [ratio(r) for r in (None, 0.0714, 14.0)] == ["—", "0.07", "14.00"]


def test_heat_levels_grow_with_the_count_up_to_the_busiest_cell() -> None:
    assert [heat_level(c, 18) for c in (0, 1, 2, 9, 17, 18)] == [0, 1, 1, 5, 9, 9]
    assert heat_level(0, 0) == 0
    assert heat_level(5, 0) == 0


def test_the_heat_map_marks_the_recommended_hour() -> None:
    grid = [[0] * 24 for _ in range(7)]
    grid[2][20] = 4
    grid[6][9] = 2
    cells = heat_map(grid, best_hour=20)
    assert len(cells) == 7
    assert all(len(row) == 24 for row in cells)
    assert cells[2][20] == Cell(hour=20, count=4, level=9, best=True)
    assert cells[6][9] == Cell(hour=9, count=2, level=5, best=False)
    assert cells[0][20] == Cell(hour=20, count=0, level=0, best=True)
    assert sum(c.level for row in cells for c in row) == 14  # 9 + 5


def test_the_page_context_counts_what_each_chart_draws() -> None:
    grid = [[0] * 24 for _ in range(7)]
    grid[0][8] = 3
    answers = Answers(
        days=DAYS,
        activity={"followers_known": 2, "active_rate_7d": 0.5, "active_rate_30d": 0.5},
        channels=[{"channel": "other", "new": 3, "lost": 1}],
        broadcasts=[],
        send_time={"hour": 20, "basis": "default", "sample": 3, "by_hour_of_week": grid},
        health={"status": "active"},
    )
    context = page_context(answers, 30)
    assert context["points"] == {"followers": 3, "active": 1, "channels": 2, "broadcasts": 0}
    assert context["heat_total"] == 3
    assert context["chosen"] == 30
    empty = {"x": [], "names": [], "unfollows": [], "baseline": []}
    assert context["series"]["broadcasts"] == empty
