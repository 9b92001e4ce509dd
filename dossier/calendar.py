"""The working-time calendar of DOMAIN.md section 3, as arithmetic on epoch seconds.

Working time is mapped to a single non-decreasing function ``working_seconds(ts)``: the working seconds
elapsed between a fixed origin and the instant ``ts``. Per-day session tables and cumulative sums are
precomputed once, so every SLA question (due dates, time left, pauses) is a few additions and one bisection,
with no per-event calendar work.

Local time is Asia/Ho_Chi_Minh, a fixed UTC+07:00 since 1975, so it is plain arithmetic.
"""

from __future__ import annotations

import csv
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from functools import cache
from importlib import resources
from pathlib import Path

import holidays

LOCAL_OFFSET = 7 * 3600
LOCAL_TZ = timezone(timedelta(seconds=LOCAL_OFFSET), "+07:00")
DAY = 86_400
HOUR = 3_600
WORKING_DAY_SECONDS = 8 * HOUR
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()

Session = tuple[int, int]
"""A working session within a local day, as seconds since local midnight, both ends working instants."""

DEFAULT_SESSIONS: tuple[Session, ...] = ((7 * HOUR, 11 * HOUR + 1800), (13 * HOUR + 1800, 17 * HOUR))


@dataclass(frozen=True, slots=True)
class Override:
    """One line of the override table: a day made off or made working by a decision the package lacks."""

    day: date
    working: bool
    source: str


def load_overrides(path: Path | None = None) -> tuple[Override, ...]:
    """Read an override table (CSV with columns ``date,kind,source``; kind is ``off`` or ``work``)."""
    text = (
        path.read_text(encoding="utf-8")
        if path is not None
        else (resources.files("dossier") / "data" / "calendar-overrides.csv").read_text(encoding="utf-8")
    )
    overrides = []
    for row in csv.DictReader(text.splitlines()):
        kind = row["kind"].strip()
        if kind not in ("off", "work"):
            raise ValueError(f"calendar override {row['date']}: kind must be 'off' or 'work', not {kind!r}")
        overrides.append(Override(date.fromisoformat(row["date"].strip()), kind == "work", row["source"].strip()))
    return tuple(overrides)


def local_day(ts: float) -> int:
    """Local (+07:00) day number since 1970-01-01 of an instant."""
    return int((ts + LOCAL_OFFSET) // DAY)


def day_start(day_number: int) -> float:
    """The instant of local midnight starting a local day number."""
    return float(day_number * DAY - LOCAL_OFFSET)


def day_number(d: date) -> int:
    return d.toordinal() - _EPOCH_ORDINAL


def date_of_day(day_number: int) -> date:
    return date.fromordinal(day_number + _EPOCH_ORDINAL)


def format_instant(ts: float) -> str:
    """ISO 8601 in +07:00, with fractional seconds only when they are not zero."""
    moment = datetime.fromtimestamp(round(ts, 6), LOCAL_TZ)
    return moment.isoformat(timespec="microseconds" if moment.microsecond else "seconds")


class WorkingCalendar:
    """Working time of one unit: Vietnamese public holidays, swapped working Saturdays, overrides, hours.

    ``extra_sessions`` maps a weekday (0 = Monday) to sessions a unit opens on top of the default hours
    (for example Saturday mornings); they apply on that weekday unless it is a public holiday.
    """

    #: Working seconds are counted from this local day; the tables grow forward on demand, never backward,
    #: so values computed earlier stay comparable with values computed later.
    ORIGIN = date(2000, 1, 1)
    _GROWTH_YEARS = 10

    def __init__(
        self,
        overrides: Iterable[Override] = (),
        sessions: tuple[Session, ...] = DEFAULT_SESSIONS,
        extra_sessions: Mapping[int, tuple[Session, ...]] | None = None,
    ) -> None:
        self._overrides = {o.day: o.working for o in overrides}
        self._override_sources = {o.day: o.source for o in overrides}
        self._sessions = sessions
        self._extra = dict(extra_sessions or {})
        self._first_day = day_number(self.ORIGIN)
        self._day_sessions: list[tuple[Session, ...]] = []
        self._cum: list[float] = []
        self._cum_end: list[float] = []
        self._build_until(date(2041, 1, 1))

    # ------------------------------------------------------------------------------------------ tables

    def _sessions_of(self, d: date, public: holidays.HolidayBase) -> tuple[Session, ...]:
        override = self._overrides.get(d)
        working = override if override is not None else public.is_working_day(d)
        base = self._sessions if working else ()
        extra = self._extra.get(d.weekday(), ())
        if extra and (working or (d not in public and override is None)):
            return tuple(sorted(set(base) | set(extra)))
        return base

    def _build_until(self, last: date) -> None:
        public = holidays.country_holidays("VN", years=range(self.ORIGIN.year, last.year + 1))
        day_sessions, cum, cum_end, total = [], [], [], 0.0
        d = self.ORIGIN
        while d < last:
            sessions = self._sessions_of(d, public)
            day_sessions.append(sessions)
            cum.append(total)
            total += sum(end - start for start, end in sessions)
            cum_end.append(total)
            d += timedelta(days=1)
        self._day_sessions, self._cum, self._cum_end = day_sessions, cum, cum_end

    def _index(self, day: int) -> int:
        i = day - self._first_day
        if i < 0:
            raise ValueError(f"{date_of_day(day)} is before the calendar's origin {self.ORIGIN}")
        if i >= len(self._day_sessions):
            self._build_until(date(date_of_day(day).year + self._GROWTH_YEARS, 1, 1))
        return i

    def is_working_day(self, d: date) -> bool:
        return bool(self._day_sessions[self._index(day_number(d))])

    def sessions_on(self, d: date) -> tuple[Session, ...]:
        """The working sessions of a local day (seconds since local midnight; none on a day off)."""
        return self._day_sessions[self._index(day_number(d))]

    def day_note(self, d: date) -> str:
        """Why a day is worked or not, in words: an override, a public holiday, a swapped day, a weekend."""
        working = self.is_working_day(d)
        if d in self._override_sources:
            return f"{'working day' if working else 'day off'} by the override table ({self._override_sources[d]})"
        public = _public_holidays(d.year)
        weekday = d.strftime("%A")
        if d in public:
            return f"public holiday: {public[d]}" + (" (the unit's extra hours)" if working else "")
        if d in public.weekend_workdays:
            off = next((day for day, name in public.items() if d.strftime("%m/%d/%Y") in name), None)
            return f"working {weekday}, swapped" + (f" for the day off on {off.isoformat()}" if off else "")
        if d.weekday() >= 5:
            return f"{weekday}" + (" (the unit's extra hours)" if working else " (weekend)")
        return f"working {weekday}"

    def working_seconds(self, ts: float) -> float:
        """Working seconds from the calendar's origin to ``ts`` (non-decreasing, constant outside work)."""
        local = ts + LOCAL_OFFSET
        day = int(local // DAY)
        i = self._index(day)
        into_day = local - day * DAY
        elapsed = self._cum[i]
        for start, end in self._day_sessions[i]:
            if into_day <= start:
                break
            elapsed += (end if into_day > end else into_day) - start
        return elapsed

    def instant_at(self, elapsed: float) -> float:
        """The earliest instant at which ``working_seconds`` reaches ``elapsed`` (> 0)."""
        while elapsed > self._cum_end[-1]:
            self._index(self._first_day + len(self._cum))
        i = bisect_left(self._cum_end, elapsed)
        rest = elapsed - self._cum[i]
        base = day_start(self._first_day + i)
        for start, end in self._day_sessions[i]:
            if rest <= end - start:
                return base + start + rest
            rest -= end - start
        raise AssertionError("unreachable: cumulative tables are inconsistent")

    def next_working_instant(self, ts: float) -> float:
        """``ts`` when it is a working instant (sessions are closed intervals), else the next one."""
        local = ts + LOCAL_OFFSET
        day = int(local // DAY)
        into_day = local - day * DAY
        i = self._index(day)
        for start, end in self._day_sessions[i]:
            if into_day <= end:
                return ts if into_day >= start else day_start(day) + start
        day += 1
        while not self._day_sessions[self._index(day)]:
            day += 1
        return day_start(day) + self._day_sessions[self._index(day)][0][0]

    def working_time_between(self, start: float, end: float) -> float:
        """Working seconds from ``start`` to ``end`` (negative when ``end`` is earlier)."""
        return self.working_seconds(end) - self.working_seconds(start)


@cache
def _public_holidays(year: int) -> holidays.HolidayBase:
    return holidays.country_holidays("VN", years=year)


@cache
def default_calendar() -> WorkingCalendar:
    """The project's calendar: the pinned ``holidays`` release, the override table, default hours."""
    return WorkingCalendar(load_overrides())
