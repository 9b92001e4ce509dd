"""Local calendar periods (Asia/Ho_Chi_Minh): day, month, quarter, year, as half-open instants [S, E)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

from dossier.calendar import day_number, day_start

PeriodKind = Literal["day", "month", "quarter", "year"]
PERIOD_KINDS: tuple[PeriodKind, ...] = ("day", "month", "quarter", "year")


@dataclass(frozen=True, slots=True)
class Period:
    kind: PeriodKind
    start: date
    end: date
    start_ts: float
    end_ts: float


def period_start(kind: PeriodKind, d: date) -> date:
    """The first day of the period of ``kind`` that contains the day ``d``."""
    if kind == "day":
        return d
    if kind == "month":
        return d.replace(day=1)
    if kind == "quarter":
        return date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)
    if kind == "year":
        return date(d.year, 1, 1)
    raise ValueError(f"unknown period {kind!r}")


def next_period_start(kind: PeriodKind, start: date) -> date:
    """The first day of the period after the one starting on ``start``."""
    if kind == "day":
        return start + timedelta(days=1)
    months = {"month": 1, "quarter": 3, "year": 12}[kind]
    index = start.year * 12 + start.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def make_period(kind: PeriodKind, start: date) -> Period:
    end = next_period_start(kind, start)
    return Period(kind, start, end, day_start(day_number(start)), day_start(day_number(end)))


def periods_overlapping(kind: PeriodKind, first: date, last: date) -> list[Period]:
    """Every period of ``kind`` that overlaps the local days [first, last), whole even when cut."""
    periods = []
    start = period_start(kind, first)
    while start < last:
        period = make_period(kind, start)
        periods.append(period)
        start = period.end
    return periods
