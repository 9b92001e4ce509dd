"""Integer working-time helpers for the simulator, on top of the domain's working calendar.

The simulator places events in working hours and writes receipts' `due_at` exactly as the SLA
clock computes them (`dossier.sla.due_instant`), on integer epoch seconds so event times print
without fractions.
"""

from __future__ import annotations

from dossier import calendar
from dossier.calendar import DAY, LOCAL_OFFSET, WORKING_DAY_SECONDS, date_of_day, day_number, local_day
from dossier.sla import DeadlineUnit, due_instant

__all__ = ["DAY", "LOCAL_OFFSET", "WORK_DAY", "WorkClock", "date_of_day", "day_number", "day_start", "local_day"]

WORK_DAY = WORKING_DAY_SECONDS


def day_start(day: int) -> int:
    """Local midnight starting local day number `day`, in whole epoch seconds."""
    return int(calendar.day_start(day))


class WorkClock:
    """Instants <-> working seconds elapsed (the project's calendar), rounded to whole seconds."""

    def __init__(self) -> None:
        self._cal = calendar.default_calendar()

    def is_working_day(self, day: int) -> bool:
        return self._cal.is_working_day(date_of_day(day))

    def to_work(self, ts: int) -> int:
        """Working seconds elapsed at `ts` (constant outside working time)."""
        return int(self._cal.working_seconds(ts))

    def at_start(self, w: int) -> int:
        """The first instant after which more than `w - 1` working seconds elapsed: 07:00, not 17:00."""
        return int(self._cal.instant_at(w + 1)) - 1

    def add_work(self, ts: int, seconds: int) -> int:
        """`ts` moved forward by `seconds` (> 0) of working time: the earliest such instant."""
        return int(self._cal.instant_at(self._cal.working_seconds(ts) + max(seconds, 1)))

    def next_working_instant(self, ts: int) -> int:
        return int(self._cal.next_working_instant(ts))

    def due(self, accepted: int, value: float, unit: DeadlineUnit) -> int:
        return round(due_instant(accepted, value, unit, self._cal))
