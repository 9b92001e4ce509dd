"""Grafana's time expressions as `motcua screen` reads them (dateMath: rounded down for from, up for to)."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from dashboards.screen.timerange import TimeRangeError, parse, time_range
from dashboards.screens import TIMEZONE

ZONE = ZoneInfo(TIMEZONE)
NOW = datetime(2025, 7, 21, 17, 30, 15, tzinfo=ZONE)  # a Monday


@pytest.mark.parametrize(("text", "round_up", "expected"), [
    ("now", False, datetime(2025, 7, 21, 17, 30, 15)),
    ("now/d", False, datetime(2025, 7, 21)),
    ("now/d", True, datetime(2025, 7, 21, 23, 59, 59, 999000)),
    ("now/M", False, datetime(2025, 7, 1)),
    ("now-1M/M", True, datetime(2025, 6, 30, 23, 59, 59, 999000)),
    ("now-1h", False, datetime(2025, 7, 21, 16, 30, 15)),
    ("now-7d/d", False, datetime(2025, 7, 14)),
    ("now/w", False, datetime(2025, 7, 21)),
    ("now+1y/y", False, datetime(2026, 1, 1)),
    ("1753030800000", False, datetime(2025, 7, 21)),
    ("2025-07-01", False, datetime(2025, 7, 1)),
])
def test_expressions_are_instants_in_the_dashboards_zone(text: str, round_up: bool, expected: datetime) -> None:
    assert parse(text, NOW, ZONE, round_up) == expected.replace(tzinfo=ZONE)


def test_a_range_ending_before_it_starts_or_an_unknown_expression_is_refused() -> None:
    assert time_range("now/d", "now/d", NOW, ZONE)[1] > time_range("now/d", "now/d", NOW, ZONE)[0]
    with pytest.raises(TimeRangeError, match="ends"):
        time_range("now", "now-1h", NOW, ZONE)
    with pytest.raises(TimeRangeError, match="not a time"):
        parse("yesterday", NOW, ZONE)
