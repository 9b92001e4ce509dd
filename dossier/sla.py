"""The SLA clock of DOMAIN.md section 3: due dates, supplementation pauses, classification.

Pure functions over epoch seconds and a ``WorkingCalendar``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from dossier.calendar import DAY, HOUR, WORKING_DAY_SECONDS, WorkingCalendar, day_start, local_day

DeadlineUnit = Literal["working_days", "working_hours", "calendar_days"]
DEADLINE_UNITS: tuple[DeadlineUnit, ...] = ("working_days", "working_hours", "calendar_days")
Outcome = Literal["early", "on_time", "late"]
OpenStatus = Literal["overdue", "due_soon", "within_due"]

Pause = tuple[float, float | None]
"""A supplementation pause: the request instant and the instant the applicant answered (None: waiting)."""

#: Working time left at which an open dossier becomes due-soon: one working day, the last moment to
#: issue the apology letter.
DUE_SOON_WORKING_SECONDS = WORKING_DAY_SECONDS


def due_instant(accepted_ts: float, value: float, unit: DeadlineUnit, calendar: WorkingCalendar) -> float:
    """The due instant of a deadline counted from an acceptance (DOMAIN.md section 3, "Due date")."""
    if value < 0:
        raise ValueError("a deadline cannot be negative")
    if unit == "calendar_days":
        if value % 1:
            raise ValueError("calendar_days must be whole days")
        return calendar.next_working_instant(accepted_ts + value * DAY)
    if unit == "working_days":
        working = value * WORKING_DAY_SECONDS
    elif unit == "working_hours":
        working = value * HOUR
    else:
        raise ValueError(f"unknown deadline unit {unit!r}")
    start = calendar.next_working_instant(accepted_ts)
    if working == 0:
        return start
    return round(calendar.instant_at(calendar.working_seconds(start) + working), 6)


def effective_time(at: float, pauses: Sequence[Pause]) -> float:
    """``at`` minus the pauses completed before it; frozen at the request while the applicant is awaited."""
    completed = 0.0
    for requested, received in pauses:
        if requested >= at:
            break
        if received is None or received >= at:
            return requested - completed
        completed += received - requested
    return at - completed


def classify_finished(adjusted_end: float, due_ts: float, requests: int) -> Outcome:
    """Early, on time or late, comparing the pause-adjusted end with the original due instant."""
    if requests > 1 or adjusted_end > due_ts:
        return "late"
    if adjusted_end < day_start(local_day(due_ts)):
        return "early"
    return "on_time"


def open_status(
    at: float, due_ts: float, pauses: Sequence[Pause], request_times: Sequence[float], calendar: WorkingCalendar
) -> OpenStatus:
    """How an open dossier stands at the instant ``at``, from the events before ``at`` only."""
    if len(request_times) > 1 and request_times[1] < at:
        return "overdue"
    t_eff = effective_time(at, pauses)
    if t_eff > due_ts:
        return "overdue"
    if calendar.working_seconds(due_ts) - calendar.working_seconds(t_eff) <= DUE_SOON_WORKING_SECONDS:
        return "due_soon"
    return "within_due"


def is_timely_apology(apology_ts: float, due_ts: float, calendar: WorkingCalendar) -> bool:
    """An apology is timely when issued at least one working day (8 working hours) before the due instant."""
    return calendar.working_seconds(due_ts) - calendar.working_seconds(apology_ts) >= WORKING_DAY_SECONDS
