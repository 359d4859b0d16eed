"""The overview's rows: analytics' order kept, rates as percentages, unknown statuses and
missing figures shown as "no data" rather than breaking the page."""

from __future__ import annotations

from services.gateway.console.numbers import percent
from services.gateway.console.overview import Row, rows_of


def test_rows_keep_analytics_order_and_shape_the_figures() -> None:
    body = {
        "tenants": [
            {
                "id": "tdormant01",
                "name": "Sleepy",
                "followers_known": 10,
                "new_7d": 0,
                "lost_7d": 3,
                "active_rate_30d": 0.0,
                "status": "dormant",
            },
            {
                "id": "tactive001",
                "name": None,
                "followers_known": 200,
                "new_7d": 12,
                "lost_7d": 1,
                "active_rate_30d": 0.4567,
                "status": "active",
            },
        ]
    }
    assert rows_of(body) == [
        Row("tdormant01", "Sleepy", 10, 0, 3, "0.0%", "dormant"),
        Row("tactive001", "tactive001", 200, 12, 1, "45.7%", "active"),
    ]


def test_missing_figures_and_unknown_statuses_show_as_no_data() -> None:
    [row] = rows_of({"tenants": [{"id": "tnew000001", "status": "weird", "new_7d": None}]})
    assert row == Row("tnew000001", "tnew000001", 0, 0, 0, "—", "no_data")
    assert rows_of({"tenants": []}) == []
    assert rows_of({}) == []


def test_percent() -> None:
    assert percent(None) == "—"
    assert percent(True) == "—"
    assert percent(1) == "100.0%"
    assert percent(0.125) == "12.5%"
