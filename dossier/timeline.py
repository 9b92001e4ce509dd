"""One dossier explained: its events and states, and the SLA arithmetic step by step (pure, no I/O).

``explain`` takes a dossier's valid events in arrival order and says, in plain values a screen or a command
prints as they are: which events count and why others do not (DOMAIN.md sections 2, 3 and 8), the standing
after each event, how the due instant follows (the receipt's ``due_at``, or the deadline counted working
interval by working interval, with the days skipped and why), the supplementation pauses and their lengths,
the verdict (or the open standing at an instant), when the due-soon and overdue timers fire, and the KPI
rows the dossier counts in with what it adds to each. The due instant is counted by walking the calendar's
sessions here, independently of ``dossier.sla.due_instant``'s cumulative tables; tests hold the two equal.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from dossier.calendar import DAY, HOUR, WORKING_DAY_SECONDS, WorkingCalendar, date_of_day, day_start, format_instant
from dossier.calendar import local_day as local_day_of
from dossier.contract import END_TYPES, STATUS_BY_TYPE, ParsedEvent
from dossier.kpi import COUNT_FIELDS, SCOPES, cell_of, contribution, scope_id_of
from dossier.lifecycle import DossierSummary, first_received, in_state_machine_order, summarize
from dossier.merger import scope_id_in
from dossier.periods import Period
from dossier.sla import DUE_SOON_WORKING_SECONDS, effective_time, open_status
from dossier.transitions import due_soon_at, overdue_at


@dataclass(slots=True)
class EventStep:
    """An event in state-machine order, whether it counts (``note`` says why not), and the standing after it."""

    arrival: int  # 1-based position among the dossier's events as received
    event_id: str
    type: str
    occurred_at: str
    status: int | None  # TrangThaiHoSo after it (None: unchanged)
    counts: bool
    note: str
    standing: str


@dataclass(slots=True)
class Interval:
    """Working time counted towards the deadline: [start, end] of one session, and the running total."""

    start: str
    end: str
    seconds: float
    total_seconds: float


@dataclass(slots=True)
class SkippedDay:
    day: str
    reason: str


@dataclass(slots=True)
class Due:
    due_at: str
    basis: str  # "due_at" (the receipt's) or "deadline"
    deadline: str | None  # e.g. "3 working_days"
    start: str | None  # where the count starts (the first working instant from the acceptance)
    start_note: str
    working_seconds: float  # the deadline as working seconds (0 for calendar days)
    intervals: list[Interval] = field(default_factory=list)
    skipped: list[SkippedDay] = field(default_factory=list)
    steps: list[str] = field(default_factory=list)


@dataclass(slots=True)
class PauseStep:
    requested: str
    received: str | None  # None: still waiting for the applicant
    seconds: float | None  # wall-clock length (None while waiting)


@dataclass(slots=True)
class Verdict:
    finished: bool
    outcome: str  # early / on_time / late, or overdue / due_soon / within_due for an open dossier
    at: str  # the end, or the instant an open dossier is judged at
    effective: str  # the adjusted end, or t_eff
    paused_seconds: float  # pauses completed before it
    requests: int
    steps: list[str]


@dataclass(slots=True)
class Timer:
    kind: str  # due_soon / overdue
    at: str
    note: str


@dataclass(slots=True)
class RowPart:
    """What the dossier adds to one KPI row (the counts it adds 1 to)."""

    scope: str
    scope_id: str
    period: str
    period_start: str
    counts: list[str]
    scope_id_2025: str | None = None  # the province row of the 2025 hierarchy, when it differs


@dataclass(slots=True)
class Timeline:
    dossier_id: str
    accepted: bool
    events: list[EventStep]
    duplicates: list[str]  # event ids received again (the first received won)
    due: Due | None = None
    pauses: list[PauseStep] = field(default_factory=list)
    verdict: Verdict | None = None
    timers: list[Timer] = field(default_factory=list)
    rows: list[RowPart] = field(default_factory=list)


def explain(
    events_in_arrival_order: Sequence[ParsedEvent], calendar: WorkingCalendar, at: float, periods: Sequence[Period]
) -> Timeline:
    """The timeline of one dossier; an open dossier is judged at ``at``; KPI rows of ``periods`` are listed."""
    kept = first_received(events_in_arrival_order)
    duplicates = [e.record.event_id for e in events_in_arrival_order if not any(k is e for k in kept)]
    ordered = in_state_machine_order(kept)
    arrival = {id(e): i for i, e in enumerate(kept, 1)}
    summary = summarize(ordered, calendar)
    dossier_id = events_in_arrival_order[0].record.dossier_id
    timeline = Timeline(dossier_id, summary is not None, _steps(ordered, arrival, summary), duplicates)
    if summary is None:
        return timeline
    acceptance = next(e for e in ordered if e.record.type == "accepted")
    timeline.due = explain_due(acceptance, summary.due_ts, calendar)
    timeline.pauses = [
        PauseStep(format_instant(r), None if g is None else format_instant(g), None if g is None else g - r)
        for r, g in summary.pauses
    ]
    timeline.verdict = _verdict(summary, at, calendar)
    timeline.timers = _timers(summary, calendar)
    timeline.rows = _rows(summary, periods, calendar)
    return timeline


# ---------------------------------------------------------------------------------------------- events


def _steps(ordered: Sequence[ParsedEvent], arrival: dict[int, int], summary: DossierSummary | None) -> list[EventStep]:
    """Each event with whether it counts, following ``dossier.lifecycle.summarize``'s rules."""
    steps = []
    acceptance = next((e for e in ordered if e.record.type == "accepted"), None)
    accepted = ended = waiting = False
    for event in ordered:
        kind, ts = event.record.type, event.occurred_ts
        counts, note = True, ""
        if kind == "accepted":
            if event is acceptance:
                accepted, note = True, "the acceptance: the SLA clock starts"
            else:
                counts, note = False, "a later acceptance: ignored"
        elif kind in END_TYPES:
            if not accepted:
                counts, note = False, "an end before the acceptance: ignored"
            elif ended:
                note = "after the end: does not move it"
            else:
                ended, note = True, "the end of processing"
        elif kind == "supplement_requested":
            if not accepted or ended:
                counts, note = False, "a request outside [acceptance, end): not counted"
            elif waiting:
                note = "a second request while one is pending: counts as a request, the pause runs from the first"
            else:
                waiting, note = True, "the clock pauses"
        elif kind == "supplement_received":
            if waiting and not ended:
                waiting, note = False, "the clock resumes"
            else:
                counts, note = False, "no pending request: ignored"
        elif kind == "apology_issued" and summary is not None:
            note = "timely (at least 8 working hours before the due instant)" if summary.timely_apology_ts == ts else (
                "apology letter (records a promised date; the KPI deadline does not move)")
        standing = ("finished" if ended else "waiting for the applicant (clock paused)" if waiting
                    else "being processed (clock running)" if accepted else "not accepted")
        steps.append(EventStep(arrival[id(event)], event.record.event_id, kind, format_instant(ts),
                               STATUS_BY_TYPE[kind], counts, note, standing))
    return steps


# ------------------------------------------------------------------------------------------------- due


def _start_note(ts: float, start: float) -> str:
    if start == ts:
        return "accepted within working time: the count starts at the acceptance"
    return f"accepted outside working time: the count starts at the next working instant, {format_instant(start)}"


def _skip(day: int, calendar: WorkingCalendar, skipped: list[SkippedDay]) -> None:
    d = date_of_day(day)
    skipped.append(SkippedDay(d.isoformat(), calendar.day_note(d)))


def explain_due(acceptance: ParsedEvent, due_ts: float, calendar: WorkingCalendar) -> Due:
    """How the due instant follows: the receipt's ``due_at``, or the deadline counted on the calendar."""
    record, accepted_ts = acceptance.record, acceptance.occurred_ts
    deadline = record.deadline
    text = None if deadline is None else f"{deadline.value:g} {deadline.unit}"
    if acceptance.due_ts is not None:
        return Due(format_instant(due_ts), "due_at", text, None, "the receipt's due_at (NgayHenTra) is authoritative",
                   0.0, steps=[f"due_at sent on the acceptance: {format_instant(due_ts)}"
                               + (f" (the deadline {text} is not used)" if text else "")])
    assert deadline is not None  # the contract requires due_at or deadline on an acceptance
    if deadline.unit == "calendar_days":
        return _calendar_days(accepted_ts, deadline.value, text, calendar)  # type: ignore[arg-type]
    working = deadline.value * (WORKING_DAY_SECONDS if deadline.unit == "working_days" else HOUR)
    start = calendar.next_working_instant(accepted_ts)
    due = Due("", "deadline", text, format_instant(start), _start_note(accepted_ts, start), working)
    due.steps.append(f"{text} = {working / HOUR:g} working hours (1 working day = 8 working hours)")
    if working == 0:
        due.due_at = format_instant(start)
        due.steps.append("a deadline of 0: due at the start instant")
        return due
    remaining, cursor, day = working, start, local_day_of(start)
    while remaining > 0:
        sessions = calendar.sessions_on(date_of_day(day))
        if not sessions:
            _skip(day, calendar, due.skipped)
        for first, last in sessions:
            begin, end = max(day_start(day) + first, cursor), day_start(day) + last
            if end <= begin:
                continue
            taken = min(remaining, end - begin)
            remaining -= taken
            due.intervals.append(
                Interval(format_instant(begin), format_instant(begin + taken), taken, working - remaining)
            )
            if remaining <= 0:
                due.due_at = format_instant(round(begin + taken, 6))
                break
        day += 1
    due.steps.append(f"{len(due.intervals)} working intervals counted from {due.start}, {len(due.skipped)} days "
                     f"skipped: due when the count reaches {working / HOUR:g} h, at {due.due_at}")
    return due


def _calendar_days(accepted_ts: float, days: int, text: str | None, calendar: WorkingCalendar) -> Due:
    landed = accepted_ts + days * DAY
    due_ts = calendar.next_working_instant(landed)
    due = Due(format_instant(due_ts), "deadline", text, None, "calendar days count from the acceptance itself", 0.0)
    due.steps.append(f"{format_instant(accepted_ts)} + {days:g} x 24 h = {format_instant(landed)}")
    if due_ts == landed:
        due.steps.append("a working instant: due then")
        return due
    for day in range(local_day_of(landed), local_day_of(due_ts)):
        if not calendar.sessions_on(date_of_day(day)):
            _skip(day, calendar, due.skipped)
    due.steps.append(f"outside working time: moved to the next working instant, {format_instant(due_ts)}")
    return due


# ------------------------------------------------------------------------------------------- verdict


def _verdict(s: DossierSummary, at: float, calendar: WorkingCalendar) -> Verdict:
    requests = len(s.request_times)
    due = format_instant(s.due_ts)
    if s.end_ts is not None:
        adjusted = effective_time(s.end_ts, s.pauses)
        paused = s.end_ts - adjusted
        steps = [f"the end: {s.end_type} at {format_instant(s.end_ts)}"]
        if any(g is None or g >= s.end_ts for r, g in s.pauses if r < s.end_ts):
            steps.append("it ended while waiting for the applicant: judged as at the request, minus the pauses "
                         f"completed before it: {format_instant(adjusted)}")
        else:
            steps.append(f"minus {paused / HOUR:g} h of completed pauses: adjusted end {format_instant(adjusted)}")
        if requests > 1:
            steps.append(f"{requests} supplementation requests: late, whatever the times")
        elif adjusted > s.due_ts:
            steps.append(f"adjusted end after the due instant {due}: late")
        elif adjusted < day_start(local_day_of(s.due_ts)):
            steps.append(f"adjusted end before the local date of the due instant ({due[:10]}): early")
        else:
            steps.append(f"adjusted end on {due[:10]}, at or before {due}: on time")
        return Verdict(True, s.outcome or "", format_instant(s.end_ts), format_instant(adjusted), paused, requests,
                       steps)
    t_eff = effective_time(at, s.pauses)
    status = open_status(at, s.due_ts, s.pauses, s.request_times, calendar)
    left = calendar.working_seconds(s.due_ts) - calendar.working_seconds(t_eff)
    steps = [f"open at {format_instant(at)}; t_eff (minus completed pauses, frozen while waiting) = "
             f"{format_instant(t_eff)}"]
    if requests > 1 and s.request_times[1] < at:
        steps.append(f"{requests} supplementation requests: overdue")
    elif t_eff > s.due_ts:
        steps.append(f"t_eff after the due instant {due}: overdue")
    else:
        steps.append(f"{left / HOUR:g} working hours left to {due}: "
                     + ("due soon (at most 8: the last day to issue the apology letter)"
                        if left <= DUE_SOON_WORKING_SECONDS else "within due"))
    return Verdict(False, status, format_instant(at), format_instant(t_eff), at - t_eff, requests, steps)


def _timers(s: DossierSummary, calendar: WorkingCalendar) -> list[Timer]:
    timers = []
    soon = due_soon_at(s, calendar)
    if soon is not None:
        timers.append(Timer("due_soon", format_instant(soon), "8 working hours before the due instant, in effective "
                            "time" + ("" if s.end_ts is None or s.end_ts >= soon else " (finished before: not fired)")))
    overdue = overdue_at(s)
    if overdue is not None:
        timers.append(Timer("overdue", format_instant(overdue), "just after the due instant, in effective time"
                            + ("" if s.end_ts is None or s.end_ts > overdue else " (finished before: not fired)")))
    return timers


def _rows(s: DossierSummary, periods: Sequence[Period], calendar: WorkingCalendar) -> list[RowPart]:
    rows = []
    for period in periods:
        counts = contribution(s, period, calendar)
        if counts is None:
            continue
        names = [name for name, value in zip(COUNT_FIELDS, counts, strict=True) if value]
        for scope in SCOPES:
            scope_id = scope_id_of(cell_of(s), scope)
            if scope_id is None:
                continue
            merged = scope_id_in("2025", scope, scope_id)
            rows.append(RowPart(scope, scope_id, period.kind, period.start.isoformat(), names,
                                merged if merged != scope_id else None))
    return rows
